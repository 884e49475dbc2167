"""`evalkit run --gate` and `evalkit gate` end to end against the loopback fake server: exit codes 0/1/2/3,
JUnit XML, the Markdown summary and $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from fakeserver import FakeLLMServer

from evalkit.cli import main

from .project import make_project, responder


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


@pytest.fixture
def server():
    with FakeLLMServer(responder=responder) as s:
        yield s


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def run_dir_of(stdout: str) -> Path:
    return Path(stdout.strip().splitlines()[-1]).parent


def junit_cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {c.get("name"): c for c in root.iter("testcase")}


def test_worse_model_fails_and_noisy_but_equal_model_passes(project: Path, server: FakeLLMServer) -> None:
    gates = ("gates:\n"
             "  - noisy.accuracy >= base.accuracy\n"
             "  - worse.accuracy >= base.accuracy - 0.05\n"
             "  - noisy.f1 >= 0.75\n")
    suite = make_project(project, server.url, gates=gates)
    code, out, err = cli("run", str(suite), "--models", "base,noisy,worse", "--quiet", "--gate")
    assert code == 1, err
    run_dir = run_dir_of(out)
    assert out.strip().splitlines()[-1].endswith("report.html")  # stdout's last line is still the report
    assert "FAIL  worse.accuracy >= base.accuracy - 0.05" in err
    assert "PASS  noisy.accuracy >= base.accuracy" in err and "noise alone does not fail the build" in err

    cases = junit_cases(run_dir / "gate-junit.xml")
    assert set(cases) >= {"noisy.accuracy >= base.accuracy", "worse.accuracy >= base.accuracy - 0.05",
                          "noisy.f1 >= 0.75"}
    failure = cases["worse.accuracy >= base.accuracy - 0.05"].find("failure")
    assert failure is not None
    message = failure.get("message")
    assert message.startswith("worse.accuracy >= base.accuracy - 0.05")
    assert "worse.accuracy = 0.5" in message and "base.accuracy = 0.9" in message and "lies wholly below" in message
    # The equal-but-noisy model: same accuracy, errors on other items; its CI straddles zero, so it passes.
    assert cases["noisy.accuracy >= base.accuracy"].find("failure") is None
    doc = json.loads((run_dir / "gate.json").read_text())
    noisy = next(r for r in doc["rules"] if r["rule"] == "noisy.accuracy >= base.accuracy")
    assert noisy["ci_low"] < 0 < noisy["ci_high"] and noisy["status"] == "pass"
    summary = (run_dir / "gate-summary.md").read_text()
    assert "❌ evalkit gate FAILED" in summary and "`worse.accuracy >= base.accuracy - 0.05`" in summary


def test_gate_command_on_a_stored_run_with_a_rules_file(project: Path, server: FakeLLMServer) -> None:
    suite = make_project(project, server.url)
    code, out, _ = cli("run", str(suite), "--models", "base,noisy,worse", "--quiet")
    run_dir = run_dir_of(out)
    rules = project / "rules.txt"
    rules.write_text("# pairs without the reference are recomputed from per-sample scores\n"
                     "noisy.accuracy - worse.accuracy >= 0.2\n"
                     "noisy.f1 > worse.f1\n"
                     "worse.accuracy <= noisy.accuracy   # comment\n"
                     "noisy.latency_p95_s <= 5\n"
                     "noisy.latency_p50_s <= base.latency_p50_s + 1\n")
    code, out, _ = cli("gate", str(run_dir), "--rules", str(rules))
    assert code == 0, out
    assert out.count("  PASS  ") == 5 and "task comparison recomputed on paired items" in out
    assert "paired bootstrap over calls" in out
    assert "Exit code 0." in out


def test_github_step_summary_is_appended(project: Path, server: FakeLLMServer, monkeypatch) -> None:
    suite = make_project(project, server.url, gates="gates: [noisy.accuracy >= 0.8]")
    step = project / "step-summary.md"
    step.write_text("# earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    code, _, err = cli("run", str(suite), "--models", "base,noisy", "--quiet", "--gate")
    assert code == 0, err
    text = step.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n") and "✅ evalkit gate PASSED" in text
    assert "`noisy.accuracy >= 0.8`" in text and "$GITHUB_STEP_SUMMARY" in err


@pytest.mark.parametrize("gates, fragment", [
    ("gates: ['noisy.accuracy >== 0.5']", "position 16 at '>== 0.5': '>==' is not a comparison"),
    ("gates: ['nosiy.accuracy >= 0.5']", "unknown model 'nosiy'; the run's models are base, noisy. Did you mean: noisy?"),
    ("gates: {rules: ['noisy.accuracy >= 0.5'], max_faild: 1}", "max_faild: unknown field"),
    ("gates: ['noisy.accuracy >= noisy@baseline.accuracy']", "pass --baseline RUN_DIR"),
])
def test_bad_rules_exit_2_before_any_call(project: Path, server: FakeLLMServer, gates: str, fragment: str) -> None:
    suite = make_project(project, server.url, gates=gates)
    code, _, err = cli("run", str(suite), "--models", "base,noisy", "--quiet", "--gate")
    assert code == 2 and fragment in err and "suite.yaml" in err and len(err.strip().splitlines()) == 1
    assert server.call_count == 0


def test_unknown_metric_exits_2_with_suggestions(project: Path, server: FakeLLMServer) -> None:
    suite = make_project(project, server.url)
    _, out, _ = cli("run", str(suite), "--models", "base,noisy", "--quiet")
    (project / "rules.yaml").write_text("- noisy.acuracy >= 0.5\n", encoding="utf-8")
    code, _, err = cli("gate", str(run_dir_of(out)), "--rules", str(project / "rules.yaml"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "rules.yaml:1: rule 'noisy.acuracy >= 0.5': unknown metric 'acuracy'" in err
    assert "Did you mean: accuracy" in err
    assert cli("gate", str(project / "nope"))[0] == 2
    assert cli("run", str(make_project(project, server.url)), "--models", "base", "--rules", "x.txt")[0] == 2


def test_too_many_failed_calls_exit_3(project: Path, server: FakeLLMServer) -> None:
    suite = make_project(project, server.url, max_retries=0, n_items=40,
                         gates="gates: {rules: [noisy.accuracy >= 0.5], max_failed: 1}")
    server.queue_faults("bad_request", "bad_request", "bad_request")  # not retryable: three failed calls
    code, out, err = cli("run", str(suite), "--models", "noisy", "--quiet", "--gate", "--concurrency", "1")
    assert code == 3, err
    assert "EXCEEDED: noisy: 3 of 40 calls failed (max_failed = 1)" in err
    cases = junit_cases(run_dir_of(out) / "gate-junit.xml")
    failure = cases["failed calls: at most 1 failed call(s) per model"].find("failure")
    assert failure is not None and "3 of 40 calls failed" in failure.get("message")
    # A rate allowance of 10% tolerates the same run (3/40 = 7.5%).
    (project / "lenient.yaml").write_text("rules: [noisy.accuracy >= 0.5]\nmax_failed: null\nmax_failed_rate: 0.1\n")
    code, out, _ = cli("gate", str(run_dir_of(out)), "--rules", str(project / "lenient.yaml"))
    assert code == 0, out


def test_baseline_run_catches_a_regression_beyond_tolerance(project: Path, server: FakeLLMServer) -> None:
    suite = make_project(project, server.url, ft_model="base-model")
    _, out, _ = cli("run", str(suite), "--models", "base,ft", "--quiet")
    release = run_dir_of(out)
    # The same model again: nothing got worse.
    code, out, err = cli("run", str(suite), "--models", "base,ft", "--quiet", "--gate", "--baseline", str(release))
    assert code == 0, err
    assert "PASS  ft.accuracy >= ft@baseline.accuracy" in err and "PASS  ft.f1 >= ft@baseline.f1" in err
    # The fine-tuned model is swapped for a worse one: every task metric regresses beyond tolerance.
    suite = make_project(project, server.url, ft_model="worse-model",
                         config_gates="[gates]\nrules = []\n[gates.baseline]\nmodels = ['ft']\ntolerance = 0.02\n")
    code, out, err = cli("run", str(suite), "--models", "base,ft", "--quiet", "--gate", "--baseline", str(release))
    assert code == 1
    assert "FAIL  ft.accuracy >= ft@baseline.accuracy - 0.02" in err
    cases = junit_cases(run_dir_of(out) / "gate-junit.xml")
    assert "ft.accuracy >= ft@baseline.accuracy - 0.02" in cases
    assert all(name.startswith(("ft.", "failed calls")) for name in cases)  # only the configured model
