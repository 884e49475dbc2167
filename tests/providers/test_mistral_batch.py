"""Mistral Batch API round trips through the real `mistralai` SDK against a loopback Files + Batch server."""

from __future__ import annotations

import asyncio
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from cli_errors import user_error
from fake_batch_server import FakeBatchServer

from evalkit.cache import ResponseCache
from evalkit.cli import main
from evalkit.model import Model
from evalkit.model_spec import ModelSpec
from evalkit.providers.batch import BatchAPI, BatchOutcome
from evalkit.providers.mistral import MistralProvider
from evalkit.providers.mistral_batch import MistralBatch
from evalkit.records import GenerationParams, Message, Prompt, Request

N = 12
LETTERS = "ABCD"


def responder(body: dict) -> str:
    """Answers each question with the letter its text names ("... answer C"), as a perfect model would."""
    text = body["messages"][-1]["content"]
    return text.split("answer ")[1][0] if "answer " in text else "A"


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BatchAPI, "poll_interval_s", 0.01)


def make_project(root: Path, url: str) -> Path:
    rows = [{"id": f"q{i:02d}", "question": f"Question {i}: the answer {LETTERS[i % 4]} is right.",
             "options": ["w", "x", "y", "z"], "answer": LETTERS[i % 4]} for i in range(N)]
    (root / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "suite.yaml").write_text("""
name: mcq-batch
task: multiple_choice
data: {path: test.jsonl, fields: {id: id, input: question, target: answer}}
generation: {max_tokens: 4}
prompts:
  default: {style: chat, template: "{{ input }}\\n{{ options_block }}"}
""", encoding="utf-8")
    (root / "evalkit.toml").write_text(f"""
[models.small]
provider = "mistral"
model = "mistral-small-latest"
base_url = "{url}"
max_retries = 2
timeout_s = 5.0
""", encoding="utf-8")
    return root / "suite.yaml"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_key: str) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def run(*args: str) -> tuple[int, Path | None]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args))
    lines = out.getvalue().strip().splitlines()
    return code, (Path(lines[-1]).parent if lines else None)


def read(run_dir: Path, name: str) -> list[dict]:
    return [json.loads(x) for x in (run_dir / name).read_text().splitlines() if x.strip()]


def test_batch_round_trip_then_a_rerun_makes_no_call(project: Path) -> None:
    with FakeBatchServer(responder=responder, lines_per_poll=5) as server:
        suite = make_project(project, server.url)
        code, run_dir = run("run", str(suite), "--models", "small", "--batch", "--attempts", "2", "--quiet")
        assert code == 0
        (job,) = server.jobs.values()
        assert len(job.lines) == 2 * N and job.model == "mistral-small-latest" and job.polls >= 5
        assert {line["custom_id"] for line in job.lines} == {f"q{i:02d}#{a}" for i in range(N) for a in (0, 1)}
        body = job.lines[0]["body"]
        assert "model" not in body and body["max_tokens"] == 4 and body["messages"][0]["role"] == "user"
        assert server.chat_calls == []  # every answer came from the batch
        uploads = [r for r in server.requests if r.path == "/v1/files"]
        assert len(uploads) == 1 and uploads[0].body["purpose"] == "batch"
        gens = read(run_dir, "generations.jsonl")
        assert len(gens) == 2 * N and all(g["output"] and not g["cached"] and g["latency_s"] is None for g in gens)
        doc = json.loads((run_dir / "results.json").read_text())
        assert doc["models"]["small"]["metrics"]["accuracy"]["value"] == 1.0
        summary = json.loads((run_dir / "summary.json").read_text())
        assert any(f"24 request(s) sent through Mistral batch job {job.id}" in n for n in summary["notes"])

        server.reset()
        n_jobs = len(server.jobs)
        code, rerun = run("run", str(suite), "--models", "small", "--batch", "--attempts", "2", "--quiet")
        assert code == 0 and server.requests == [] and len(server.jobs) == n_jobs
        assert all(g["cached"] for g in read(rerun, "generations.jsonl"))
        notes = json.loads((rerun / "summary.json").read_text())["notes"]
        assert any("every request was already cached, no batch job was needed" in n for n in notes)
        # The synchronous path is served from the same cache: no call either.
        code, _ = run("run", str(suite), "--models", "small", "--attempts", "2", "--quiet")
        assert code == 0 and server.requests == []


def test_failed_and_missing_lines_are_retried_synchronously(project: Path) -> None:
    with FakeBatchServer(responder=responder, fail_ids={"q03#0", "q07#0"}, drop_ids={"q10#0"}) as server:
        suite = make_project(project, server.url)
        code, run_dir = run("run", str(suite), "--models", "small", "--batch", "--quiet")
        assert code == 0
        sync = sorted(r.body["messages"][-1]["content"].split(":")[0] for r in server.chat_calls)
        assert sync == ["Question 10", "Question 3", "Question 7"]
        gens = read(run_dir, "generations.jsonl")
        assert all(g["output"] for g in gens) and sum(g["latency_s"] is not None for g in gens) == 3
        doc = json.loads((run_dir / "results.json").read_text())
        assert doc["models"]["small"]["metrics"]["accuracy"]["value"] == 1.0
        note = next(n for n in json.loads((run_dir / "summary.json").read_text())["notes"] if "batch job" in n)
        assert "3 failed line(s) retried synchronously" in note and "fake batch line failure" in note


def test_batch_needs_a_mistral_model_and_the_cache(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeBatchServer(responder=responder) as server:
        suite = make_project(project, server.url)
        assert "--batch needs the response cache" in user_error(
            ["run", str(suite), "--models", "small", "--batch", "--no-cache", "--quiet"], capsys)
        assert "--batch: none of the models (base) has a provider with a batch API" in user_error(
            ["run", str(suite), "--models", "base", "--batch", "--quiet"], capsys)
        assert server.requests == []


def _requests(n: int) -> list[Request]:
    params = GenerationParams(max_tokens=4, json_schema={"type": "object"})
    return [Request(prompt=Prompt(messages=(Message(role="user", content=f"answer {LETTERS[i % 4]}"),)),
                    params=params, sample_id=f"s{i}") for i in range(n)]


def test_an_interrupted_job_is_resumed_not_paid_twice(tmp_path: Path, api_key: str) -> None:
    with FakeBatchServer(responder=responder, lines_per_poll=1) as server:
        spec = ModelSpec(name="small", provider="mistral", model="mistral-small-latest", base_url=server.url)
        cache = ResponseCache.in_dir(tmp_path)
        requests = _requests(4)

        def stop_after_first_poll(done: int, total: int, status: str) -> None:
            if status == "RUNNING":
                raise KeyboardInterrupt

        async def first() -> None:
            model = Model(spec=spec, provider=MistralProvider(spec), cache=cache)
            try:
                await model.run_batch(requests, progress=stop_after_first_poll)
            finally:
                await model.aclose()

        with pytest.raises(KeyboardInterrupt):
            asyncio.run(first())
        assert len(server.jobs) == 1

        async def second() -> BatchOutcome:
            model = Model(spec=spec, provider=MistralProvider(spec), cache=cache)
            try:
                return await model.run_batch(requests)
            finally:
                await model.aclose()

        outcome = asyncio.run(second())
        assert outcome.resumed and len(server.jobs) == 1 and outcome.submitted == 4 and not outcome.failed
        assert len([r for r in server.requests if r.path == "/v1/files"]) == 1
        keys = Model(spec=spec, provider=MistralProvider(spec))
        for r in requests:
            response, latency = cache.get(keys.call_key(r))
            assert response.text == r.prompt.messages[0].content[-1] and latency is None
        (job,) = server.jobs.values()
        # Structured output travels in the batch body as the synchronous call sends it.
        assert job.lines[0]["body"]["response_format"]["json_schema"]["schema"] == {"type": "object"}
        assert asyncio.run(second()).job_id is None  # now all cached
        cache.close()


def test_result_lines_map_by_custom_id_and_failures_keep_their_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec(name="small", provider="mistral", model="m", base_url="http://127.0.0.1:9")
    # monkeypatch, not os.environ: a key left behind makes later tests pick the online judge by default.
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-test")
    provider = MistralProvider(spec)
    ok = {"id": "x", "object": "chat.completion", "model": "m", "created": 1,
          "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "B"}, "finish_reason": "stop"}]}
    text = "\n".join(json.dumps(x) for x in [
        {"id": "1", "custom_id": "b", "response": {"status_code": 200, "body": ok}, "error": None},
        {"id": "2", "custom_id": "a", "response": {"status_code": 429, "body": {"message": "rate limited"}}},
        {"id": "3", "custom_id": "c", "error": {"message": "model overloaded"}},
        {"id": "4", "custom_id": "d", "response": {"status_code": 200, "body": {"choices": "nope"}}},
    ])
    parsed = dict(MistralBatch(provider).parse_line(json.loads(line)) for line in text.splitlines())
    assert parsed["b"].text == "B" and parsed["b"].usage.prompt_tokens == 3
    assert parsed["a"] == "HTTP 429: rate limited" and parsed["c"] == "model overloaded"
    assert parsed["d"].startswith("malformed result")
    asyncio.run(provider.aclose())
