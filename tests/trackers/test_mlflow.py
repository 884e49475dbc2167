"""The mlflow tracker against a real local MLflow tracking store (sqlite in tmp_path), read back through
MLflow's own `MlflowClient`: parameters, every metric and comparison, the tables and the artifacts."""

from __future__ import annotations

import argparse
import io
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from analysis.runmaker import N_NEWS

from evalkit.errors import ConfigError, MissingDependencyError
from evalkit.trackers import (
    SAMPLE_TABLE_COLUMNS,
    TrackerOptions,
    create_tracker,
    log_run,
)
from evalkit.trackers import command as log_command

mlflow = pytest.importorskip("mlflow", reason="needs the mlflow extra")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # MLflow puts a sqlite store's artifacts under ./mlruns
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text(encoding="utf-8"))


def test_log_run_to_a_sqlite_store_reads_back_through_mlflow(news_run: Path, store: str, tmp_path: Path) -> None:
    tracked = log_run(news_run, "mlflow", TrackerOptions(uri=store, experiment="news-evals"))
    client = mlflow.MlflowClient(tracking_uri=store)
    run = client.get_run(tracked.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == news_run.name
    assert client.get_experiment(run.info.experiment_id).name == "news-evals"
    doc = results(news_run)

    params = run.data.params
    assert params["suite"] == "news-mini" and params["models"] == "base,ft,ft2" and params["reference"] == "base"
    assert params["evalkit_version"] == doc["run"]["evalkit_version"] and params["n_samples"] == str(N_NEWS)
    assert params["generation.temperature"] == "0.0" and params["generation.max_tokens"] == "8"
    assert params["model.ft.model_id"] == "oracle" and params["model.ft.adapter"].endswith("news-oracle.gguf")
    assert params["model.ft.meta.learning_rate"] == "0.0002" and params["model.base.prompt_profile"] == "default"
    assert len(params["data_sha256"]) == 64 and params["model.ft.prompt_sha256"] == params["model.ft2.prompt_sha256"]
    assert run.data.tags["evalkit.run_id"] == news_run.name and run.data.tags["evalkit.status"] == "complete"

    # Every known metric value and CI bound, under <model>/<metric>; unknown (null) values are not logged.
    metrics = run.data.metrics
    for model, m in doc["models"].items():
        for name, mv in m["metrics"].items():
            for suffix, field in (("", "value"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high")):
                key = f"{model}/{name}{suffix}"
                if mv[field] is None:
                    assert key not in metrics
                else:
                    assert metrics[key] == pytest.approx(mv[field]), key
    assert "base/cost_usd" not in metrics and metrics["ft/cost_usd"] > 0
    for model, by in doc["comparisons"].items():
        for name, c in by.items():
            key = f"{model}_vs_base/{name}"
            assert metrics[f"{key}_delta"] == pytest.approx(c["delta"])
            assert metrics[f"{key}_significant"] == (1.0 if c["significant"] else 0.0)
            if c["p_value"] is not None:
                assert metrics[f"{key}_p_value"] == pytest.approx(c["p_value"])
    assert metrics["ft_vs_base/accuracy_delta_ci_low"] > 0

    # Artifacts: the report files, and the tables through MLflow's own table loader.
    names = {a.path for a in client.list_artifacts(tracked.run_id)}
    assert {"report.html", "results.json", "summary.md", "tables"} <= names
    local = Path(client.download_artifacts(tracked.run_id, "results.json", str(tmp_path / "dl")))
    assert json.loads(local.read_text("utf-8")) == doc
    samples = client.load_table(run.info.experiment_id, "tables/samples.json", run_ids=[tracked.run_id])
    assert len(samples) == 3 * N_NEWS and set(SAMPLE_TABLE_COLUMNS) <= set(samples.columns)
    ft = samples[samples["model"] == "ft"]
    assert ft["correct"].mean() == pytest.approx(doc["models"]["ft"]["metrics"]["accuracy"]["value"])
    comps = client.load_table(run.info.experiment_id, "tables/comparisons.json", run_ids=[tracked.run_id])
    assert set(comps["verdict"]) <= {"significant", "not significant", "too few items", "not computed"}

    # Logging again makes a second run in the same experiment (one tracked run per call).
    again = log_run(news_run, "mlflow", TrackerOptions(uri=store, experiment="news-evals"))
    assert again.run_id != tracked.run_id
    assert len(client.search_runs([run.info.experiment_id])) == 2


def test_judge_ids_and_hashes_are_parameters(legal_run: Path, store: str) -> None:
    tracked = log_run(legal_run, "mlflow", TrackerOptions(uri=store))
    client = mlflow.MlflowClient(tracking_uri=store)
    run = client.get_run(tracked.run_id)
    assert client.get_experiment(run.info.experiment_id).name == "legal-mini"  # default: the suite name
    judgment = json.loads((legal_run / "results.jsonl").read_text("utf-8").splitlines()[0])["judgments"][0]
    p = run.data.params
    assert p["judge.legal_quality.version"] == judgment["judge_version"]
    assert p["judge.legal_quality.template_sha256"] == judgment["template_sha256"]
    assert p["judge.legal_quality.model"] == "mistral-large-latest"


def test_evalkit_log_command_and_run_options(news_run: Path, store: str) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    log_command.add_parser(sub)
    args = parser.parse_args(["log", str(news_run), "--to", "mlflow", "--tracking-uri", store])
    out = io.StringIO()
    with redirect_stdout(out):
        assert log_command.cmd_log(args, console=None) == 0
    assert out.getvalue().startswith("Logged to mlflow: sqlite:///")
    client = mlflow.MlflowClient(tracking_uri=store)
    (exp,) = [e for e in client.search_experiments() if e.name == "news-mini"]
    assert len(client.search_runs([exp.experiment_id])) == 1

    run = argparse.ArgumentParser()
    log_command.add_run_options(run)
    assert log_command.prepare_run_log(run.parse_args([])) == []
    with pytest.raises(ConfigError, match="--tracking-uri only apply with --log"):
        log_command.prepare_run_log(run.parse_args(["--tracking-uri", store]))
    with pytest.raises(ConfigError, match="unknown tracker 'mlfow'.*Did you mean: mlflow"):
        log_command.prepare_run_log(run.parse_args(["--log", "mlfow"]))
    (tracker,) = log_command.prepare_run_log(run.parse_args(["--log", "mlflow", "--tracking-uri", store]))
    log_command.log_after_run([tracker], news_run)
    assert len(client.search_runs([exp.experiment_id])) == 2


def test_a_run_without_results_cannot_be_logged(news_run: Path, store: str, tmp_path: Path) -> None:
    import shutil

    broken = shutil.copytree(news_run, tmp_path / "unfinished")
    (broken / "results.json").unlink()
    with pytest.raises(Exception, match="no results.json: only a run that reached its report can be logged"):
        log_run(broken, "mlflow", TrackerOptions(uri=store))


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'evalkit\[mlflow\]'"):
        create_tracker("mlflow")
