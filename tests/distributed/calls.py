"""Helpers shared by the Ray tests: requests as the runner builds them, and runs with and without the cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from evalkit.cache import ResponseCache
from evalkit.distributed import RayExecutor
from evalkit.model import Model
from evalkit.model_pool import build_models
from evalkit.model_spec import ModelSpec
from evalkit.records import Generation, GenerationParams, Message, Prompt, Request
from evalkit.retry import RetryPolicy

FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=0.1)


def chat_requests(n: int, prefix: str = "question") -> list[Request]:
    """`n` distinct chat requests, sample ids s0..s{n-1}."""
    return [Request(prompt=Prompt(messages=(Message(role="user", content=f"{prefix} {i}"),)),
                    params=GenerationParams(max_tokens=16), sample_id=f"s{i}") for i in range(n)]


def model(spec: ModelSpec, cache_dir: Path) -> Model:
    """`spec` wrapped as the runner wraps it (build_models), with its own response cache in `cache_dir`."""
    return build_models([spec], cache=ResponseCache(cache_dir / "responses.sqlite"), retry=FAST).models[0]


async def on_cluster(executor: RayExecutor, m: Model, requests: Sequence[Request]) -> dict[str, Generation]:
    """Every request's Generation through the executor, keyed by sample id (and attempt when > 0)."""
    out: dict[str, Generation] = {}
    async for gen in executor.generate(m, requests):
        key = gen.sample_id if gen.attempt == 0 else f"{gen.sample_id}#{gen.attempt}"
        assert key not in out, f"two Generations for {key}"
        out[key] = gen
    return out


async def in_process(m: Model, requests: Sequence[Request]) -> dict[str, Generation]:
    """The same requests through Model.generate in this process (what a run without --ray does)."""
    gens = await asyncio.gather(*(m.generate(r) for r in requests))
    await m.aclose()  # its HTTP session, or a local model's weights
    return {g.sample_id if g.attempt == 0 else f"{g.sample_id}#{g.attempt}": g for g in gens}


def answer_fields(g: Generation) -> tuple:
    """What must be equal between a run on the cluster and one without: everything but timing."""
    return (g.sample_id, g.model, g.model_id, g.attempt, g.prompt, g.output, g.error, g.usage, g.cost_usd,
            g.cached, g.retries)


def cache_rows(path: Path) -> dict[str, tuple[str, bool]]:
    """key -> (stored response JSON, has a latency) of a response cache file."""
    import sqlite3

    with sqlite3.connect(path) as db:
        return {k: (r, lat is not None) for k, r, lat in db.execute("SELECT key, response, latency_s FROM responses")}
