"""The runner end to end through the CLI, against a loopback OpenAI/Mistral-protocol server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cli_errors import user_error
from fakeserver import FakeLLMServer

from evalkit.cli import main

N_ITEMS = 24


def _label_for(text: str) -> str:
    return "positive" if "good" in text else "negative"


def make_project(tmp_path: Path, server_url: str, *, concurrency: int = 4, max_retries: int = 5,
                 n_items: int = N_ITEMS) -> Path:
    """A suite over `n_items` items and a config with two OpenAI-compatible models on the fake server."""
    rows = [{"id": f"q{i:03d}", "text": f"item {i} is {'good' if i % 3 == 0 else 'bad'}",
             "label": "positive" if i % 3 == 0 else "negative"} for i in range(n_items)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "suite.yaml").write_text("""
name: sentiment
task: classification
task_args: {labels: [positive, negative], positive_label: positive}
data: {path: data.jsonl, fields: {id: id, input: text, target: label}}
generation: {max_tokens: 5}
prompts:
  default: {style: chat, system: "Answer positive or negative.", template: "{{ input }}"}
  bare: {style: chat, template: "{{ input }}"}
""", encoding="utf-8")
    (tmp_path / "evalkit.toml").write_text(f"""
[providers.openai]
base_url = "{server_url}/v1"
concurrency = {concurrency}
max_retries = {max_retries}
timeout_s = 1.0
[models.good]
provider = "openai"
model = "oracle"
prompt = "bare"
[models.bad]
provider = "openai"
model = "always-negative"
[prices.oracle]
input_per_mtok = 1.0
output_per_mtok = 2.0
""", encoding="utf-8")
    return tmp_path / "suite.yaml"


def responder(body: dict) -> str:
    text = body["messages"][-1]["content"]
    return _label_for(text) if body["model"] == "oracle" else "Negative."


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def run_cli(*args: str) -> tuple[int, Path | None]:
    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args))
    lines = out.getvalue().strip().splitlines()
    return code, (Path(lines[-1]).parent if lines else None)


def test_run_scores_reports_and_reruns_from_cache(project: Path) -> None:
    with FakeLLMServer(responder=responder) as server:
        suite = make_project(project, server.url)
        code, run_dir = run_cli("run", str(suite), "--models", "bad,good", "--quiet")
        assert code == 0 and run_dir is not None
        assert server.call_count == 2 * N_ITEMS
        doc = json.loads((run_dir / "results.json").read_text())
        good, bad = doc["models"]["good"]["metrics"], doc["models"]["bad"]["metrics"]
        assert good["accuracy"]["value"] == 1.0 and good["f1"]["value"] == 1.0
        assert bad["accuracy"]["value"] == pytest.approx(16 / 24) and bad["recall"]["value"] == 0.0
        # `bad` is the reference (first of --models): the delta of `good` is computed against it.
        assert doc["comparisons"]["good"]["accuracy"]["delta"] == pytest.approx(8 / 24)
        # Cost known for the priced model, unknown (null, never 0) for the other.
        assert good["cost_usd"]["value"] > 0 and bad["cost_usd"]["value"] is None
        info = json.loads((run_dir / "run.json").read_text())
        assert info["status"] == "complete" and [m["name"] for m in info["models"]] == ["bad", "good"]
        assert {p["profile"] for p in info["prompts"]} == {"default", "bare"}
        lines = (run_dir / "generations.jsonl").read_text().splitlines()
        assert len(lines) == 2 * N_ITEMS
        assert (run_dir / "report.html").stat().st_size > 1000 and (run_dir / "summary.md").is_file()

        # The same command again: zero model calls, same numbers.
        server.reset()
        code, run2 = run_cli("run", str(suite), "--models", "bad,good", "--quiet")
        assert code == 0 and run2 != run_dir and server.call_count == 0
        doc2 = json.loads((run2 / "results.json").read_text())
        assert {m: v["metrics"] for m, v in doc2["models"].items()} == {m: v["metrics"] for m, v in doc["models"].items()}
        assert doc2["models"]["good"]["calls"]["cached"] == N_ITEMS

        # --no-cache calls again; `report` re-renders without calling.
        code, _ = run_cli("run", str(suite), "--models", "good", "--quiet", "--no-cache", "--limit", "5")
        assert code == 0 and server.call_count == 5
        (run_dir / "report.html").unlink()
        assert main(["report", str(run_dir)]) == 0
        assert (run_dir / "report.html").is_file() and server.call_count == 5


def test_retries_recover_from_429_500_and_timeouts(project: Path) -> None:
    with FakeLLMServer(responder=responder, timeout_sleep_s=3.0) as server:
        suite = make_project(project, server.url, concurrency=2)
        server.queue_faults("rate_limit", "server_error", "timeout", "drop", "malformed")
        code, run_dir = run_cli("run", str(suite), "--models", "good", "--quiet")
        assert code == 0
        gens = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
        assert len(gens) == N_ITEMS and all(g["error"] is None for g in gens)
        assert sum(g["retries"] for g in gens) == 5
        assert server.call_count == N_ITEMS + 5
        doc = json.loads((run_dir / "results.json").read_text())
        assert doc["models"]["good"]["metrics"]["accuracy"]["value"] == 1.0


def test_permanent_failures_are_bounded_and_reported(project: Path) -> None:
    with FakeLLMServer(responder=responder) as server:
        suite = make_project(project, server.url, concurrency=2, max_retries=2, n_items=6)
        server.set_fault_rates({"server_error": 1.0}, seed=1)
        code, run_dir = run_cli("run", str(suite), "--models", "good", "--quiet")
        assert code == 0
        assert server.call_count == 6 * 3  # first try + 2 retries each, then given up
        gens = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
        assert len(gens) == 6 and all("gave up after 3 tries" in g["error"] for g in gens)
        doc = json.loads((run_dir / "results.json").read_text())
        assert doc["models"]["good"]["metrics"]["failed"]["value"] == 6


def test_concurrency_limit_is_respected(project: Path) -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def slow(body: dict) -> str:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return responder(body)

    with FakeLLMServer(responder=slow) as server:
        suite = make_project(project, server.url, concurrency=3)
        code, _ = run_cli("run", str(suite), "--models", "good", "--quiet")
        assert code == 0 and server.call_count == N_ITEMS
        assert state["max"] == 3


def _run_subprocess(project: Path, suite: Path) -> subprocess.Popen:
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(project / "cache")}
    return subprocess.Popen([sys.executable, "-m", "evalkit.cli", "run", str(suite), "--models", "good", "--quiet",
                             "--concurrency", "2"], cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_resume_after_sigkill_repeats_no_completed_call(project: Path) -> None:
    n = 40
    with FakeLLMServer(responder=responder, latency_s=0.05) as server:
        suite = make_project(project, server.url, n_items=n)
        proc = _run_subprocess(project, suite)
        deadline = time.time() + 60
        gens_file = None
        while time.time() < deadline:
            found = list((project / "reports").glob("sentiment-*/generations.jsonl"))
            if found and len(found[0].read_text().splitlines()) >= 10:
                gens_file = found[0]
                break
            time.sleep(0.02)
        assert gens_file is not None, "the first run never got going"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        first_run = gens_file.parent
        assert json.loads((first_run / "run.json").read_text())["status"] == "running"  # never looks complete
        completed = {json.loads(line)["prompt"]["messages"][-1]["content"]
                     for line in gens_file.read_text().splitlines() if line.strip()}
        first_calls = server.call_count
        server.reset()

        proc = _run_subprocess(project, suite)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        resumed_texts = [r.body["messages"][-1]["content"] for r in server.requests]
        assert not completed & set(resumed_texts), "a completed call was made again"
        assert len(resumed_texts) == len(set(resumed_texts))
        assert len(completed) + len(resumed_texts) >= n and first_calls + len(resumed_texts) <= n + 2
        run2 = Path(out.strip().splitlines()[-1]).parent
        doc = json.loads((run2 / "results.json").read_text())
        assert doc["models"]["good"]["metrics"]["accuracy"]["value"] == 1.0
        assert doc["models"]["good"]["metrics"]["n"]["value"] == n


def test_usage_and_config_errors_exit_2(project: Path, capsys) -> None:
    with FakeLLMServer(responder=responder) as server:
        suite = make_project(project, server.url)
        assert "unknown model 'godo'" in user_error(["run", str(suite), "--models", "good,godo"], capsys)
        assert "unknown suite 'no-such-suite'" in user_error(["run", "no-such-suite", "--models", "good"], capsys)
        assert "--reference: 'bad' is not one of the models" in user_error(
            ["run", str(suite), "--models", "good", "--reference", "bad"], capsys)
        assert server.call_count == 0
