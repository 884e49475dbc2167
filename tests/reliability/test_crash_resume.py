"""Crash and resume: a run killed outright (SIGKILL) or stopped with Ctrl-C (SIGINT) midway, then re-run with
the same command, loses no sample, repeats no completed call (counted at the server) and ends with the
results of an uninterrupted run. The killed or interrupted run directory never passes for a complete one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

import pytest

from .project import (
    KEY_ENV,
    MODELS,
    cache_rows,
    call_key,
    generation_key,
    read_jsonl,
    run_cli,
    server,
    task_metrics,
    write_project,
)

N = 60
LATENCY_S = 0.05


def start(project: Path, suite: Path) -> subprocess.Popen[str]:
    """`evalkit run` in a child process: the command a user would type, and the one re-run to resume."""
    env = {**os.environ, KEY_ENV: "sk-resume-0000", "EVALKIT_CACHE_DIR": str(project / "cache")}
    return subprocess.Popen([sys.executable, "-m", "evalkit.cli", "run", str(suite), "--models", ",".join(MODELS),
                             "--quiet", "--concurrency", "2"], cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_generations(project: Path, count: int, proc: subprocess.Popen[str]) -> Path:
    """The first run's directory, once `count` generations are on disk."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = list((project / "reports").glob("rel-*/generations.jsonl"))
        if found and len(found[0].read_text(encoding="utf-8").splitlines()) >= count:
            return found[0].parent
        assert proc.poll() is None, f"the run ended early: {proc.communicate()[1]}"
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the first run never got going")


def reference_run(project: Path, suite: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An uninterrupted run of the same suite, with its own cache, in this process."""
    monkeypatch.setenv(KEY_ENV, "sk-resume-0000")
    code, run_dir = run_cli("run", str(suite), "--models", ",".join(MODELS), "--quiet",
                            "--config", str(project / "evalkit.toml"), "--cache-dir", str(project / "cache-reference"),
                            "--out", str(project / "reference"))
    assert code == 0 and run_dir is not None
    return run_dir


def check_resumed(project: Path, suite: Path, first_run: Path, first_calls: int, srv, reference: Path) -> None:
    """Re-run the same command and check: nothing lost, nothing completed repeated, reference results."""
    completed_gens = read_jsonl(first_run / "generations.jsonl")  # a torn last line would fail here: none
    completed = {generation_key(g) for g in completed_gens}
    cached = cache_rows(project / "cache")
    assert len(completed) == len(completed_gens) and cached >= len(completed)

    srv.reset()
    proc = start(project, suite)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    resumed = [call_key(r) for r in srv.requests]
    # Every call finished before the stop (on disk or only in the cache) is served from the cache ...
    assert not completed & set(resumed), "a completed call was made again"
    assert len(resumed) == len(set(resumed)) == 2 * N - cached
    # ... and only calls that were in flight when the first run stopped were sent twice.
    assert first_calls + len(resumed) <= 2 * N + 2 * 2

    run2 = project / Path(out.strip().splitlines()[-1]).parent  # printed relative to the child's cwd
    assert json.loads((run2 / "run.json").read_text())["status"] == "complete"
    gens = read_jsonl(run2 / "generations.jsonl")
    assert sorted((g["sample_id"], g["model"]) for g in gens) == sorted(
        (f"s{i:05d}", m) for i in range(N) for m in MODELS)
    assert sum(g["cached"] for g in gens) == cached
    # Identical results to the uninterrupted run: every sample's scores, and every task/token/cost metric.
    assert read_jsonl(run2 / "results.jsonl") == read_jsonl(reference / "results.jsonl")
    assert task_metrics(run2 / "results.json") == task_metrics(reference / "results.json")


def assert_report_refuses(run_dir: Path, status: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`evalkit report` on a run that stopped before scoring: one error line that says how to finish it."""
    capsys.readouterr()
    assert run_cli("report", str(run_dir))[0] == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"the run is '{status}'" in err[0] and "Run the same `evalkit run` command" in err[0]
    assert not (run_dir / "report.html").exists()


def test_sigkill_midway_then_same_command_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with server(latency_s=LATENCY_S) as srv:
        suite = write_project(tmp_path, srv.url, n=N)
        reference = reference_run(tmp_path, suite, monkeypatch)
        srv.reset()

        proc = start(tmp_path, suite)
        first_run = wait_for_generations(tmp_path, 2 * N // 3, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        first_calls = srv.call_count
        assert first_calls < 2 * N, "the run finished before it was killed; nothing was tested"

        # Killed outright: run.json still says `running`, no report, and `evalkit report` refuses it.
        assert json.loads((first_run / "run.json").read_text())["status"] == "running"
        assert not (first_run / "results.json").exists() and not (first_run / "report.html").exists()
        assert_report_refuses(first_run, "running", capsys)

        check_resumed(tmp_path, suite, first_run, first_calls, srv, reference)


def test_ctrl_c_stops_cleanly_keeps_what_finished_and_says_how_to_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with server(latency_s=LATENCY_S) as srv:
        suite = write_project(tmp_path, srv.url, n=N)
        reference = reference_run(tmp_path, suite, monkeypatch)
        srv.reset()

        proc = start(tmp_path, suite)
        first_run = wait_for_generations(tmp_path, N // 2, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)  # stops promptly: in-flight calls are abandoned, not awaited
        first_calls = srv.call_count
        assert first_calls < 2 * N, "the run finished before Ctrl-C; nothing was tested"

        assert proc.returncode == 130
        assert "Traceback" not in err
        message = " ".join(err.split())  # the console wraps long lines
        assert f"Interrupted. Partial results are in {first_run.relative_to(tmp_path)}." in message
        assert "run the same command again to resume" in message
        assert out == ""  # no report path: nothing on stdout claims a finished run

        info = json.loads((first_run / "run.json").read_text())
        assert info["status"] == "interrupted" and info["finished_at"]
        assert not (first_run / "results.json").exists() and not (first_run / "report.html").exists()
        # What finished is kept: whole lines, each also in the cache.
        kept = read_jsonl(first_run / "generations.jsonl")
        assert len(kept) >= N // 2 and all(g["error"] is None for g in kept)
        assert cache_rows(tmp_path / "cache") >= len(kept)
        assert_report_refuses(first_run, "interrupted", capsys)

        check_resumed(tmp_path, suite, first_run, first_calls, srv, reference)


@pytest.mark.parametrize(("cache_flag", "says"), [
    ((), "Every finished call is cached: run the same command again to resume"),
    (("--no-cache",), "Nothing was cached (--no-cache): running it again repeats every call."),
])
def test_interrupt_message_matches_the_cache_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str], cache_flag: tuple[str, ...],
                                                     says: str) -> None:
    """The resume hint must be true: with --no-cache nothing was kept, so it must not promise a resume."""
    from evalkit.runner import Runner

    process = Runner._process_batch
    calls = {"n": 0}

    async def interrupted(self, models, batch, ctx, *, keep):  # type: ignore[no-untyped-def]
        await process(self, models, islice(batch, 3), ctx, keep=keep)  # some calls finish, then Ctrl-C
        calls["n"] += 1
        raise KeyboardInterrupt

    monkeypatch.setattr(Runner, "_process_batch", interrupted)
    monkeypatch.setenv(KEY_ENV, "sk-resume-0000")
    with server() as srv:
        suite = write_project(tmp_path, srv.url, n=10)
        code, _ = run_cli("run", str(suite), "--models", ",".join(MODELS), "--quiet", "--config",
                          str(tmp_path / "evalkit.toml"), "--cache-dir", str(tmp_path / "cache"), "--out",
                          str(tmp_path / "reports"), *cache_flag)
    assert code == 130 and calls["n"] == 1
    message = " ".join(capsys.readouterr().err.split())
    assert says in message
    (run_dir,) = (tmp_path / "reports").iterdir()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert cache_rows(tmp_path / "cache") == (0 if cache_flag else 6)
