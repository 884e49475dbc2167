"""A driver process for test_ray_client.py: `python client_driver.py ADDRESS BASE_URL N` runs N chat requests
of an `openai` model at BASE_URL through a RayExecutor connected to ADDRESS (e.g. ray://host:port), and prints
one JSON line: the outputs by sample id, the calls counted, and the nodes the shards ran on."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from evalkit.cache import ResponseCache
from evalkit.distributed import RayExecutor, RaySettings
from evalkit.model_pool import build_models
from evalkit.model_spec import ModelSpec
from evalkit.records import GenerationParams, Message, Prompt, Request


async def main(address: str, base_url: str, n: int) -> dict:
    spec = ModelSpec(name="ft", provider="openai", model="ft-x", base_url=base_url, api_key_env="EVALKIT_TEST_API_KEY",
                     concurrency=2, max_retries=1)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_models([spec], cache=ResponseCache(Path(tmp) / "responses.sqlite")).models[0]
        executor = RayExecutor(RaySettings(address=address, shard_size=3, replicas=2, idle_release_s=0))
        requests = [Request(prompt=Prompt(messages=(Message(role="user", content=f"client {i}"),)),
                            params=GenerationParams(max_tokens=8), sample_id=f"c{i}") for i in range(n)]
        try:
            outputs = {g.sample_id: g.output async for g in executor.generate(model, requests)}
            cached = len(model.cache) if model.cache is not None else 0
        finally:
            await executor.aclose()
            await model.aclose()
        return {"outputs": outputs, "calls": model.stats.calls, "cached": cached,
                "connected": executor_address(executor), "nodes": sorted({r.node_id for r in executor.reports})}


def executor_address(executor: RayExecutor) -> str:
    return executor.settings.address or ""


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))))
