"""OpenAI's batch files API as the `openai` provider's batch ability, through the real `openai` SDK against a
loopback server speaking that protocol (as vLLM serves it). The runner is the same one `--batch` uses for
Mistral: only the provider changed."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from fake_batch_server import FakeBatchServer

from evalkit.cli import main
from evalkit.providers.batch import BatchAPI

N = 10
LETTERS = "ABCD"


def responder(body: dict) -> str:
    """The letter the question names ("... answer C"), as a perfect model would; chat or text prompts."""
    text = body["messages"][-1]["content"] if "messages" in body else body["prompt"]
    return text.split("answer ")[1][0]


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BatchAPI, "poll_interval_s", 0.01)


def make_project(root: Path, url: str, style: str = "chat") -> Path:
    rows = [{"id": f"q{i:02d}", "question": f"Question {i}: the answer {LETTERS[i % 4]} is right.",
             "options": ["w", "x", "y", "z"], "answer": LETTERS[i % 4]} for i in range(N)]
    (root / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "suite.yaml").write_text(f"""
name: mcq-openai-batch
task: multiple_choice
data: {{path: test.jsonl, fields: {{id: id, input: question, target: answer}}}}
generation: {{max_tokens: 4}}
prompts:
  default: {{style: {style}, template: "{{{{ input }}}}\\n{{{{ options_block }}}}"}}
""", encoding="utf-8")
    (root / "evalkit.toml").write_text(f"""
[models.vllm]
provider = "openai"
model = "served-model"
base_url = "{url}/v1"
max_retries = 2
timeout_s = 5.0
""", encoding="utf-8")
    return root / "suite.yaml"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def run(*args: str) -> tuple[int, Path]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args))
    return code, Path(out.getvalue().strip().splitlines()[-1]).parent


def read(run_dir: Path, name: str) -> list[dict]:
    return [json.loads(x) for x in (run_dir / name).read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("style", ["chat", "completion"])
def test_openai_batch_round_trip_then_a_rerun_makes_no_call(project: Path, style: str) -> None:
    with FakeBatchServer(responder=responder, lines_per_poll=3, protocol="openai") as server:
        suite = make_project(project, server.url, style)
        code, run_dir = run("run", str(suite), "--models", "vllm", "--batch", "--quiet")
        assert code == 0
        (job,) = server.jobs.values()
        path = "/v1/chat/completions" if style == "chat" else "/v1/completions"
        assert job.endpoint == path and len(job.lines) == N and job.polls >= 4
        line = job.lines[0]
        assert line["method"] == "POST" and line["url"] == path and line["body"]["model"] == "served-model"
        assert line["body"]["max_tokens"] == 4 and ("messages" in line["body"]) == (style == "chat")
        assert {x["custom_id"] for x in job.lines} == {f"q{i:02d}#0" for i in range(N)}
        assert server.chat_calls == []
        (upload,) = [r for r in server.requests if r.path == "/v1/files"]
        assert upload.body["purpose"] == "batch"
        gens = read(run_dir, "generations.jsonl")
        assert len(gens) == N and all(g["output"] and not g["cached"] and g["latency_s"] is None for g in gens)
        doc = json.loads((run_dir / "results.json").read_text())
        assert doc["models"]["vllm"]["metrics"]["accuracy"]["value"] == 1.0
        notes = json.loads((run_dir / "summary.json").read_text())["notes"]
        assert any(f"{N} request(s) sent through OpenAI batch job {job.id}" in n for n in notes)

        server.reset()
        code, rerun = run("run", str(suite), "--models", "vllm", "--batch", "--quiet")
        assert code == 0 and server.requests == []
        assert all(g["cached"] for g in read(rerun, "generations.jsonl"))


def test_failed_and_missing_openai_lines_are_retried_synchronously(project: Path) -> None:
    with FakeBatchServer(responder=responder, fail_ids={"q02#0"}, drop_ids={"q05#0"}, protocol="openai") as server:
        suite = make_project(project, server.url)
        code, run_dir = run("run", str(suite), "--models", "vllm", "--batch", "--quiet")
        assert code == 0
        sync = sorted(r.body["messages"][-1]["content"].split(":")[0] for r in server.chat_calls)
        assert sync == ["Question 2", "Question 5"]
        doc = json.loads((run_dir / "results.json").read_text())
        assert doc["models"]["vllm"]["metrics"]["accuracy"]["value"] == 1.0
        note = next(n for n in json.loads((run_dir / "summary.json").read_text())["notes"] if "batch job" in n)
        assert "2 failed line(s) retried synchronously" in note and "fake batch line failure" in note
