"""The wandb tracker in W&B's offline mode (no network): the run files it writes are read back with the wandb
package's own record schema (tests/trackers/wandb_offline.py) and its table files."""

from __future__ import annotations

import json
import sys
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

pytest.importorskip("wandb", reason="needs the wandb extra")

from trackers.wandb_offline import read_offline_run


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    return tmp_path


def test_offline_run_holds_config_metrics_tables_and_artifacts(news_run: Path, offline: Path) -> None:
    tracked = log_run(news_run, "wandb", TrackerOptions(experiment="news-evals"))
    folder = Path(tracked.location)
    assert folder.parent == offline / "wandb" and folder.name.startswith("offline-run-")
    assert folder.name.endswith(tracked.run_id)
    run = read_offline_run(folder)
    doc = json.loads((news_run / "results.json").read_text("utf-8"))
    assert (run.name, run.project, run.exit_code) == (news_run.name, "news-evals", 0)
    assert run.tags == ["news-mini", "complete"]

    assert run.config["suite"] == "news-mini" and run.config["models"] == "base,ft,ft2"
    assert run.config["model.ft.meta.step"] == "100" and run.config["model.ft2.model_id"] == "sloppy"
    assert run.config["evalkit_version"] == doc["run"]["evalkit_version"]

    for model, m in doc["models"].items():
        for name, mv in m["metrics"].items():
            if mv["value"] is not None:
                assert run.summary[f"{model}/{name}"] == pytest.approx(mv["value"])
            if mv["ci_low"] is not None:
                assert run.summary[f"{model}/{name}_ci_low"] == pytest.approx(mv["ci_low"])
    acc = doc["comparisons"]["ft"]["accuracy"]
    assert run.summary["ft_vs_base/accuracy_delta"] == pytest.approx(acc["delta"])
    assert run.summary["ft_vs_base/accuracy_p_value"] == pytest.approx(acc["p_value"])
    assert "base/cost_usd" not in run.summary  # unknown, not zero
    # One history step with the metrics, so W&B charts can line runs up.
    (step,) = run.history
    assert step["ft/accuracy"] == pytest.approx(doc["models"]["ft"]["metrics"]["accuracy"]["value"])

    # The per-sample table, as the wandb.Table file the run wrote.
    assert run.summary["samples/_type"] == "table-file" and run.summary["samples/nrows"] == 3 * N_NEWS
    table = json.loads((folder / "files" / run.summary["samples/path"]).read_text("utf-8"))
    assert table["columns"] == list(SAMPLE_TABLE_COLUMNS)
    rows = [dict(zip(table["columns"], r, strict=True)) for r in table["data"]]
    # The one failed call may be any model's (the fault meets whichever request reaches the server first); a
    # failed call has no `correct` and is excluded from the metrics, as the table shows it.
    ft = [r for r in rows if r["model"] == "ft" and not r["error"]]
    assert all(r["correct"] is None for r in rows if r["error"])
    assert sum(r["correct"] for r in ft) / len(ft) == pytest.approx(doc["models"]["ft"]["metrics"]["accuracy"]["value"])
    assert {r["model"] for r in rows if r["error"]} <= {"base", "ft", "ft2"} and sum(bool(r["error"]) for r in rows) == 1

    # report.html, results.json and summary.md as one artifact of type evalkit-run.
    (art,) = [a for a in run.artifacts if a[1] == "evalkit-run"]
    assert art[0] == f"evalkit-{news_run.name}" and sorted(art[2]) == ["report.html", "results.json", "summary.md"]


def test_tracking_uri_is_refused_and_a_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="applies to mlflow only"):
        create_tracker("wandb", TrackerOptions(uri="http://localhost:5000"))
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'evalkit\[wandb\]'"):
        create_tracker("wandb")
