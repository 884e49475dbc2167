"""`evalkit run ... --log mlflow` and `evalkit log` through the real CLI entry point: the run is logged after it
finishes, stdout's last line stays the report; wrong options are one error line (exit 2) before any call."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from analysis.runmaker import news_responder, write_news_project
from cli_errors import user_error
from fakeserver import FakeLLMServer

from evalkit.cli import main

mlflow = pytest.importorskip("mlflow", reason="needs the mlflow extra")


def test_run_with_log_mlflow_logs_the_finished_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with FakeLLMServer(responder=news_responder) as server:
        write_news_project(tmp_path, server.url)
        out = io.StringIO()
        with redirect_stdout(out):
            code = main(["run", "suite.yaml", "--models", "base,ft", "--quiet", "--log", "mlflow",
                         "--tracking-uri", store, "--experiment", "nightly"])
        assert code == 0
        calls = server.call_count
    report = Path(out.getvalue().strip().splitlines()[-1])
    assert report.name == "report.html" and report.is_file()  # stdout's last line: still the report
    assert "Logged to mlflow: sqlite:///" in capsys.readouterr().err
    client = mlflow.MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("nightly")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.run_name == report.parent.name and run.info.status == "FINISHED"
    assert run.data.metrics["ft/accuracy"] == 1.0 and run.data.params["models"] == "base,ft"

    # Wrong tracker names and orphan options fail before any model call, in one line.
    with FakeLLMServer(responder=news_responder) as server:
        write_news_project(tmp_path, server.url)
        line = user_error(["run", "suite.yaml", "--models", "base,ft", "--log", "mlfow"], capsys)
        assert "unknown tracker 'mlfow'" in line and "Did you mean: mlflow?" in line
        line = user_error(["run", "suite.yaml", "--models", "base,ft", "--experiment", "x"], capsys)
        assert "--experiment only apply with --log" in line
        assert server.call_count == 0
    assert calls == 60


def test_log_command_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "run directory not found" in user_error(["log", str(tmp_path / "nope"), "--to", "mlflow"], capsys)
    (tmp_path / "run").mkdir()
    assert "not an evalkit run directory" in user_error(["log", str(tmp_path / "run"), "--to", "mlflow"], capsys)
    (tmp_path / "run" / "run.json").write_text("{}", encoding="utf-8")
    assert "run.json: not a valid run file" in user_error(["log", str(tmp_path / "run"), "--to", "mlflow"], capsys)
