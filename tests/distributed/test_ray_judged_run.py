"""A judged suite (rubric_judge) through the runner with the Ray executor: the compared models' calls and the
judge's calls of the scoring phase both run on the cluster's workers, and the run equals one without Ray."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import FAKE_KEY_ENV
from fakeserver import FakeLLMServer

from distributed.conftest import CLUSTER_KEY
from distributed.test_ray_news_run import TIMED
from evalkit.config import load_config
from evalkit.distributed import RayExecutor, RaySettings
from evalkit.runner import RunOptions, RunOutcome, prepare
from evalkit.suite import load_suite

pytestmark = pytest.mark.usefixtures("ray_cluster")

ITEMS = 5


def responder(body: dict) -> str:
    """Model `a-x` answers well, `b-x` badly; the judge (`judge-x`) grades 5 for a's answers, 2 for b's."""
    if body["model"] == "judge-x":
        prompt = " ".join(str(m.get("content")) for m in body["messages"])
        return json.dumps({"justification": "ok", "score": 5 if "answer from a" in prompt else 2})
    return f"answer from {body['model'][0]}: {body['messages'][-1]['content']}"


def project(tmp: Path, server: FakeLLMServer) -> tuple[Path, Path]:
    (tmp / "data.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "input": f"question {i}?", "target": "x"}) + "\n"
                                            for i in range(ITEMS)))
    (tmp / "suite.yaml").write_text(
        "name: judged\ntask: rubric_judge\ntask_args: {judge: additive_rubric}\n"
        "data: {source: jsonl, path: data.jsonl}\ngeneration: {max_tokens: 32}\n"
        "prompts:\n  default:\n    style: chat\n    template: '{{ input }}'\n")
    models = "".join(f'[models.{n}]\nprovider = "openai"\nmodel = "{n}-x"\nbase_url = "{server.url}/v1"\n'
                     f'api_key_env = "{FAKE_KEY_ENV}"\nmax_retries = 0\nconcurrency = 2\n\n' for n in ("a", "b", "judge"))
    (tmp / "evalkit.toml").write_text(f'judge = "judge"\n\n{models}')
    return tmp / "suite.yaml", tmp / "evalkit.toml"


def judged_run(tmp: Path, suite: Path, config: Path, cache: str, executor: RayExecutor | None) -> RunOutcome:
    options = RunOptions(models=("a", "b"), out_dir=tmp / "reports", cache_dir=tmp / cache, show_progress=False,
                         executor=executor)
    return asyncio.run(prepare(load_suite(str(suite)), load_config(config), options).run())


def comparable(outcome: RunOutcome) -> dict:
    results = []
    for r in outcome.result.results:
        row = r.model_dump(mode="json")
        for j in row["judgments"]:
            j.pop("latency_s")
        results.append(row)
    return {"results": results,
            "metrics": {m: sorted((mv.name, mv.value, mv.ci_low, mv.ci_high) for mv in mvs if mv.name not in TIMED)
                        for m, mvs in outcome.result.summary.metrics.items()}}


def test_judge_calls_run_on_the_cluster_and_the_run_equals_a_local_one(api_key, tmp_path):
    with FakeLLMServer(responder=responder) as server:
        suite, config = project(tmp_path, server)
        local = judged_run(tmp_path, suite, config, "cache-local", None)
        assert local.calls == {"a": ITEMS, "b": ITEMS, "judge:judge": 2 * ITEMS}
        server.reset()

        executor = RayExecutor(RaySettings(replicas=2, shard_size=3))
        on_ray = judged_run(tmp_path, suite, config, "cache-ray", executor)
        assert comparable(on_ray) == comparable(local)
        assert on_ray.calls == local.calls
        judge_calls = [r for r in server.requests if r.body["model"] == "judge-x"]
        assert len(judge_calls) == 2 * ITEMS and len(server.requests) == 4 * ITEMS
        # Every call, the judge's included, was made by a worker with the cluster's key, not by the driver.
        assert {r.headers["authorization"] for r in server.requests} == {f"Bearer {CLUSTER_KEY}"}
        assert {r.model for r in executor.reports} == {"a", "b", "judge"}
        assert sum(r.requests for r in executor.reports if r.model == "judge") == 2 * ITEMS
