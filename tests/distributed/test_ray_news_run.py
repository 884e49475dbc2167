"""The news suite offline, base and ft (the embedded model and its LoRA), through the runner with the Ray
executor on a real two-node cluster: exactly the results of the same run without Ray, and a cached rerun that
sends nothing to the cluster."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from distributed.calls import answer_fields
from evalkit.config import load_config
from evalkit.distributed import RayExecutor, RaySettings
from evalkit.operational import OPERATIONAL_COMPARISONS, OPERATIONAL_METRICS
from evalkit.runner import RunOptions, RunOutcome, prepare
from evalkit.suite import load_suite

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_cluster")]

LIMIT = 6
TIMED = {n for n, m in {**OPERATIONAL_METRICS, **OPERATIONAL_COMPARISONS}.items() if m.unit in ("s", "tokens/s")}
"""Metrics of wall time: they differ between any two runs, on a cluster or not."""


def news_run(tmp: Path, cache: str, executor: RayExecutor | None) -> RunOutcome:
    options = RunOptions(models=("base", "ft"), limit=LIMIT, out_dir=tmp / "reports", cache_dir=tmp / cache,
                         show_progress=False, executor=executor)
    return asyncio.run(prepare(load_suite("news"), load_config(None), options).run())


def comparable(outcome: RunOutcome) -> dict:
    """Everything a run's results say, but wall times."""
    summary = outcome.result.summary
    return {
        "metrics": {m: sorted((mv.name, mv.value, mv.ci_low, mv.ci_high, mv.n) for mv in mvs if mv.name not in TIMED)
                    for m, mvs in summary.metrics.items()},
        "comparisons": sorted((c.model, c.metric, c.delta, c.ci_low, c.ci_high) for c in summary.comparisons
                              if c.metric not in TIMED),
        "results": [r.model_dump(mode="json") for r in outcome.result.results],
        "generations": sorted(answer_fields(g) for g in outcome.result.generations),
        "stored": sorted(json.dumps({k: v for k, v in json.loads(line).items() if k not in ("latency_s", "ttft_s")},
                                    sort_keys=True)
                         for line in (outcome.run_dir / "generations.jsonl").read_text().splitlines()),
    }


def test_news_on_ray_equals_the_local_run_and_a_cached_rerun_sends_nothing(tmp_path):
    local = news_run(tmp_path, "cache-local", None)
    assert local.calls == {"base": LIMIT, "ft": LIMIT}

    executor = RayExecutor(RaySettings(replicas=2, shard_size=2, num_cpus=1))
    on_ray = news_run(tmp_path, "cache-ray", executor)
    assert comparable(on_ray) == comparable(local)
    assert on_ray.calls == {"base": LIMIT, "ft": LIMIT} and on_ray.cache_hits == {"base": 0, "ft": 0}
    assert executor.sent == 2 * LIMIT and sum(r.requests for r in executor.reports) == 2 * LIMIT
    assert {r.model for r in executor.reports} == {"base", "ft"}
    assert all(r.error is None for r in executor.reports)
    assert json.loads((on_ray.run_dir / "run.json").read_text())["status"] == "complete"

    rerun_executor = RayExecutor(RaySettings(replicas=2, shard_size=2, num_cpus=1))
    rerun = news_run(tmp_path, "cache-ray", rerun_executor)
    assert rerun.calls == {"base": 0, "ft": 0} and rerun.cache_hits == {"base": LIMIT, "ft": LIMIT}
    assert rerun_executor.sent == 0 and rerun_executor.actors_started == 0 and rerun_executor.reports == []
    assert comparable(rerun)["results"] == comparable(local)["results"]
