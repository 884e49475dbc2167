"""The generation executor seam (issue 15): only cache misses reach an executor that is not local, it sizes the
window, judge calls go through `bind`, and what it yields is stored and scored like any call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from fakeserver import FakeLLMServer

from evalkit.config import load_config
from evalkit.execution import GenerationExecutor, InProcessExecutor
from evalkit.model import Model
from evalkit.records import (
    Generation,
    Message,
    MetricValue,
    ModelScore,
    Prompt,
    Request,
    SampleResult,
    TaskSummary,
)
from evalkit.runner import RunOptions, prepare
from evalkit.suite import load_suite
from evalkit.tasks import Task, scored_items

from .project import read_jsonl

N = 40


def make_project(root: Path, url: str) -> Path:
    rows = [{"id": f"q{i:03d}", "text": f"item {i} is {'good' if i % 3 == 0 else 'bad'}",
             "label": "positive" if i % 3 == 0 else "negative"} for i in range(N)]
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "suite.yaml").write_text("""
name: exec
task: classification
task_args: {labels: [positive, negative], positive_label: positive}
data: {path: data.jsonl, fields: {id: id, input: text, target: label}}
prompts: {default: {style: chat, template: "{{ input }}"}}
""", encoding="utf-8")
    (root / "evalkit.toml").write_text(f"""
[providers.openai]
base_url = "{url}/v1"
concurrency = 2
timeout_s = 5
[models.good]
provider = "openai"
model = "oracle"
[models.bad]
provider = "openai"
model = "always-negative"
""", encoding="utf-8")
    return root / "suite.yaml"


def responder(body: dict) -> str:
    text = body["messages"][-1]["content"]
    return ("positive" if "good" in text else "negative") if body["model"] == "oracle" else "negative"


class RecordingExecutor(GenerationExecutor):
    """A remote-style executor (not local): records what it is sent and how many items run at once."""

    local = False

    def __init__(self, in_flight: int) -> None:
        self.sent: list[tuple[str, str]] = []
        self.per_call: list[int] = []
        self._in_flight = in_flight
        self.active = 0
        self.peak = 0
        self.closed = False

    def in_flight(self, model: Model) -> int:
        return self._in_flight

    async def generate(self, model: Model, requests: Sequence[Request]) -> AsyncIterator[Generation]:
        self.per_call.append(len(requests))
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            for r in requests:
                self.sent.append((model.name, r.sample_id))
                await asyncio.sleep(0.01)  # items overlap only if the runner keeps several in flight
                yield await model.generate(r)
        finally:
            self.active -= 1

    async def aclose(self) -> None:
        self.closed = True


def run(project: Path, executor: GenerationExecutor | None, cache: Path):  # type: ignore[no-untyped-def]
    suite = load_suite(str(project / "suite.yaml"))
    options = RunOptions(models=("bad", "good"), out_dir=project / "reports", cache_dir=cache, show_progress=False,
                         executor=executor)
    return asyncio.run(prepare(suite, load_config(project / "evalkit.toml"), options).run())


def test_only_misses_reach_the_executor_and_its_answers_are_stored(tmp_path: Path) -> None:
    with FakeLLMServer(responder=responder) as server:
        project = make_project(tmp_path, server.url)
        ex = RecordingExecutor(in_flight=16)
        first = run(tmp_path, ex, tmp_path / "cache")
        assert sorted(ex.sent) == sorted((m, f"q{i:03d}") for m in ("bad", "good") for i in range(N))
        assert server.call_count == 2 * N and ex.closed
        # The window follows in_flight: 4 x (16 + 16) items may be open, far more than the models' concurrency.
        assert ex.peak > 2 * 2
        doc = json.loads((first.run_dir / "results.json").read_text())
        assert doc["models"]["good"]["metrics"]["accuracy"]["value"] == 1.0
        assert len(read_jsonl(first.run_dir / "generations.jsonl")) == 2 * N

        # Cached now: the driver answers every request itself and the executor is sent nothing.
        again = RecordingExecutor(in_flight=16)
        second = run(tmp_path, again, tmp_path / "cache")
        assert again.sent == [] and server.call_count == 2 * N
        assert second.cache_hits == {"bad": N, "good": N}
        doc2 = json.loads((second.run_dir / "results.json").read_text())
        assert doc2["models"]["good"]["calls"]["cached"] == N
        assert doc2["models"]["good"]["metrics"]["accuracy"] == doc["models"]["good"]["metrics"]["accuracy"]
        del project


def test_the_window_is_bounded_by_in_flight(tmp_path: Path) -> None:
    with FakeLLMServer(responder=responder) as server:
        make_project(tmp_path, server.url)
        ex = RecordingExecutor(in_flight=1)
        run(tmp_path, ex, tmp_path / "cache")
        # MIN_WINDOW (32) items at most: never every item at once.
        from evalkit.runner import MIN_WINDOW

        assert ex.peak <= 2 * MIN_WINDOW and len(ex.sent) == 2 * N


def test_the_default_executor_is_local_and_binds_the_judge_to_itself() -> None:
    ex = InProcessExecutor()
    assert ex.local is True
    sentinel = object()
    assert ex.bind(sentinel) is sentinel  # type: ignore[arg-type]


class JudgeEcho(Task):
    """A test task whose score asks the judge once per item (what a judged task does)."""

    name = "judge_echo"
    judge_need = "required"
    needs_judge = True

    async def score(self, sample, generations, ctx):  # type: ignore[no-untyped-def]
        prompt = Prompt(messages=(Message(role="user", content=f"judge {sample.id}: good"),))
        gen = await ctx.judge.generate(Request(prompt=prompt, sample_id=sample.id))
        return SampleResult(sample_id=sample.id, scores={m: ModelScore(value=float(gen.ok)) for m in generations})

    def summarize(self, samples, results, ctx):  # type: ignore[no-untyped-def]
        n = sum(1 for _ in scored_items(samples, results, ctx))
        return TaskSummary(task=self.name, metrics={m: (MetricValue(name="n", value=float(n), n=n),)
                                                   for m in ctx.models})


class JudgeRouting(RecordingExecutor):
    """Binds the judge to a proxy whose calls go through this executor, as a cluster executor would."""

    def bind(self, model: Model) -> Model:
        executor = self

        class Routed:
            spec, name, offline = model.spec, model.name, model.offline

            async def generate(self, request: Request) -> Generation:
                async for gen in executor.generate(model, [request]):
                    return gen
                raise AssertionError("no generation")

        return Routed()  # type: ignore[return-value]


def test_judge_calls_go_through_the_executor(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from evalkit.tasks import tasks

    if "judge_echo" not in tasks.names():
        tasks.register("judge_echo")(lambda args, path: JudgeEcho())
    with FakeLLMServer(responder=responder) as server:
        make_project(tmp_path, server.url)
        suite_file = tmp_path / "suite.yaml"
        suite_file.write_text(suite_file.read_text().replace(
            "task: classification\ntask_args: {labels: [positive, negative], positive_label: positive}",
            "task: judge_echo"), encoding="utf-8")
        suite = load_suite(str(suite_file))
        ex = JudgeRouting(in_flight=4)
        options = RunOptions(models=("bad",), judge="good", out_dir=tmp_path / "reports", use_cache=False,
                             show_progress=False, executor=ex)
        outcome = asyncio.run(prepare(suite, load_config(tmp_path / "evalkit.toml"), options).run())
    judged = [sid for m, sid in ex.sent if m == "good"]
    assert sorted(judged) == [f"q{i:03d}" for i in range(N)]  # one judge call per item, all through the executor
    assert [m for m, _ in ex.sent].count("bad") == N
    assert outcome.result.info.judge is not None and outcome.result.info.judge["name"] == "good"
    # The judge's answers reached the task: every item scored 1 (a successful judge call).
    assert all(r["scores"]["bad"]["value"] == 1.0 for r in read_jsonl(outcome.run_dir / "results.jsonl"))
