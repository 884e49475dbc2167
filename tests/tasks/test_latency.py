"""The latency task: against loopback servers with injected latency (measured p50 within 5% of it), with
streaming, cache bypass, warm-up and sequential models; and offline on the embedded model (slow)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from fakeserver import FakeLLMServer

from evalkit.cli import main
from evalkit.errors import ConfigError
from evalkit.tasks import create_task

REPO = Path(__file__).resolve().parents[2]
N_PROMPTS, ATTEMPTS = 6, 2


def make_project(root: Path, fast_url: str, slow_url: str, task_args: str = "{}") -> Path:
    prompts = [{"id": f"p{i}", "text": f"prompt number {i}"} for i in range(N_PROMPTS)]
    (root / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts), encoding="utf-8")
    (root / "suite.yaml").write_text(f"""
name: lat
task: latency
task_args: {task_args}
attempts: {ATTEMPTS}
data: {{path: prompts.jsonl, fields: {{id: id, input: text}}}}
generation: {{max_tokens: 16}}
prompts:
  default: {{style: chat, template: "{{{{ input }}}}"}}
""", encoding="utf-8")
    (root / "evalkit.toml").write_text(f"""
[models.fast]
provider = "openai"
model = "fast-model"
base_url = "{fast_url}/v1"
[models.slow]
provider = "mistral"
model = "slow-model"
base_url = "{slow_url}"
[prices.fast-model]
input_per_mtok = 1.0
output_per_mtok = 3.0
""", encoding="utf-8")
    return root / "suite.yaml"


@pytest.fixture
def project(tmp_path, monkeypatch, api_key):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def cli(*args: str) -> tuple[int, Path | None, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    lines = out.getvalue().strip().splitlines()
    return code, (Path(lines[-1]).parent if lines else None), err.getvalue()


def metrics(run_dir: Path, model: str) -> dict:
    return json.loads((run_dir / "results.json").read_text())["models"][model]["metrics"]


def test_measured_p50_matches_the_injected_latency(project: Path) -> None:
    # Injected latencies well above the clients' own overhead (a few ms for openai, up to ~30 ms for the
    # mistral SDK on a loaded machine), so 5% is a statement about the measurement, not about the load.
    # One call at a time: concurrent calls on a loaded 2-core machine add their own queueing delay.
    with FakeLLMServer(latency_s=0.3) as fast, FakeLLMServer(latency_s=1.0) as slow:
        suite = make_project(project, fast.url, slow.url)
        code, run_dir, err = cli("run", str(suite), "--models", "fast,slow", "--quiet")
        assert code == 0, err
        # every prompt x attempt, plus one untimed warm-up call per model; all streamed
        assert fast.call_count == slow.call_count == N_PROMPTS * ATTEMPTS + 1
        assert all(r.body.get("stream") is True for r in fast.requests + slow.requests)
        # one model after the other: no request of `slow` arrived before `fast` was done
        assert max(r.received_at for r in fast.requests) < min(r.received_at for r in slow.requests)

    for model, injected in (("fast", 0.3), ("slow", 1.0)):
        m = metrics(run_dir, model)
        assert m["latency_p50_s"]["value"] == pytest.approx(injected, rel=0.05)
        assert m["ttft_p50_s"]["value"] == pytest.approx(injected, rel=0.05)
        assert m["latency_p50_s"]["ci_low"] <= m["latency_p50_s"]["value"] <= m["latency_p50_s"]["ci_high"]
        assert m["latency_p99_s"]["value"] >= m["latency_p95_s"]["value"] >= m["latency_p50_s"]["value"]
        assert m["error_rate"]["value"] == 0 and m["requests"]["value"] == N_PROMPTS * ATTEMPTS
        assert m["output_tokens_per_sec"]["value"] > 0
    assert metrics(run_dir, "fast")["cost_per_1k_usd"]["value"] > 0
    assert metrics(run_dir, "slow")["cost_per_1k_usd"]["value"] is None  # no price: unknown, never zero

    doc = json.loads((run_dir / "results.json").read_text())
    median = doc["comparisons"]["slow"]["latency_p50_s"]
    assert median["delta"] == pytest.approx(0.7, rel=0.1) and median["ci_low"] > 0
    assert median["test"] == "paired-bootstrap" and median["n"] == N_PROMPTS * ATTEMPTS
    table = next(t for t in doc["tables"] if t["title"].startswith("Latency per model"))
    assert [r[0] for r in table["rows"]] == ["fast", "slow"]
    html = (run_dir / "report.html").read_text()
    assert "Time to first token" in html

    # The gate reads the same numbers: the slower model fails a "not slower" rule.
    rules = project / "rules.txt"
    rules.write_text("slow.latency_p50_s <= fast.latency_p50_s\nfast.latency_p95_s <= 2\n")
    code, _, err = cli("gate", str(run_dir), "--rules", str(rules))
    assert code == 1


def test_cache_is_bypassed_and_streaming_can_be_off(project: Path) -> None:
    with FakeLLMServer(latency_s=0.05) as fast, FakeLLMServer(latency_s=0.05) as slow:
        suite = make_project(project, fast.url, slow.url, "{stream: false, warmup: 0, concurrency: 4}")
        for _ in range(2):  # the second run calls again: a latency run never reads the cache
            code, run_dir, err = cli("run", str(suite), "--models", "fast", "--quiet", "--attempts", "1")
            assert code == 0, err
        assert fast.call_count == 2 * N_PROMPTS and not any("stream" in r.body for r in fast.requests)
    m = metrics(run_dir, "fast")
    assert m["ttft_p50_s"]["value"] is None and m["latency_p50_s"]["value"] > 0
    notes = json.loads((run_dir / "results.json").read_text())["notes"]
    assert any("4 call(s) in flight" in n for n in notes)
    gens = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
    assert not any(g["cached"] for g in gens)


def test_errors_are_counted(project: Path) -> None:
    with FakeLLMServer() as fast, FakeLLMServer() as slow:
        suite = make_project(project, fast.url, slow.url, "{warmup: 0}")
        fast.queue_faults("bad_request", "bad_request")
        code, run_dir, err = cli("run", str(suite), "--models", "fast", "--quiet", "--attempts", "1")
        assert code == 0, err
    m = metrics(run_dir, "fast")
    assert m["error_rate"]["value"] == pytest.approx(2 / N_PROMPTS) and m["failed"]["value"] == 2


@pytest.mark.parametrize("args, fragment", [
    ({"concurrency": 0}, "task_args.concurrency"),
    ({"stream": "sometimes"}, "task_args.stream"),
    ({"requests": 5}, "task_args.requests: unknown field"),
])
def test_bad_task_args_name_the_field(args: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        create_task("latency", args, Path("suite.yaml"))
    assert "allowed: concurrency" in str(info.value) and "suite.yaml" in str(info.value)


def test_bundled_latency_suite_is_valid() -> None:
    from evalkit.suite import load_suite

    suite = load_suite(str(REPO / "benchmarks" / "latency" / "suite.yaml"))
    assert suite.task == "latency" and len((REPO / "benchmarks/latency/prompts.jsonl").read_text().splitlines()) == 20
    create_task(suite.task, suite.task_args, suite.path)


@pytest.mark.slow
def test_offline_on_the_embedded_model(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    code, run_dir, err = cli("run", "latency", "--models", "base", "--quiet", "--limit", "3", "--attempts", "1")
    assert code == 0, err
    m = metrics(run_dir, "base")
    assert m["requests"]["value"] == 3 and m["error_rate"]["value"] == 0
    assert 0 < m["ttft_p50_s"]["value"] <= m["latency_p50_s"]["value"]
    assert m["output_tokens_per_sec"]["value"] > 0 and m["prompt_tokens_mean"]["value"] > 0
