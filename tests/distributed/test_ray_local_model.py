"""The embedded model with its news LoRA adapter on a real two-node Ray cluster: one actor per node (one CPU
each), the adapter shipped by content, the weights loaded once per actor, answers equal to a local run."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from pathlib import Path

import pytest

from distributed.calls import answer_fields, cache_rows, in_process, model, on_cluster
from evalkit.config import ProjectConfig, resolve_model
from evalkit.distributed import RayExecutor, RaySettings
from evalkit.records import GenerationParams, Prompt, Request
from evalkit.suite import load_suite

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_cluster")]

QUERIES = ["did the lakers win tonight", "how to boil an egg", "stock market crash today", "what is a prime number",
           "election results in france", "best pizza dough recipe", "who won the champions league final",
           "why is the sky blue", "earthquake in japan this morning", "how many legs does a spider have"]


def ft_spec():
    """The news suite's fine-tuned model (embedded base + LoRA), one thread per call (one CPU per actor)."""
    spec = resolve_model("ft", ProjectConfig(), load_suite("news"))
    return spec.model_copy(update={"options": {**spec.options, "n_threads": 1}})


def requests() -> list[Request]:
    params = GenerationParams(max_tokens=8, stop=("\n",), temperature=0.0, seed=0)
    return [Request(prompt=Prompt(text=f"{q}\n"), params=params, sample_id=f"q{i}") for i, q in enumerate(QUERIES)]


def test_local_model_runs_on_both_nodes_loaded_once_per_actor(tmp_path):
    spec = ft_spec()
    assert spec.adapter is not None and spec.provider == "llamacpp"
    local = model(spec, tmp_path / "local")
    expected = asyncio.run(in_process(local, requests()))
    asyncio.run(local.aclose())
    assert all(g.ok for g in expected.values())

    remote = model(spec, tmp_path / "ray")
    executor = RayExecutor(RaySettings(replicas=2, shard_size=1, num_cpus=1, idle_release_s=0))

    async def go():
        try:
            got = await on_cluster(executor, remote, requests())
            return got, executor.workers(remote)
        finally:
            await executor.aclose()

    got, workers = asyncio.run(go())
    assert {k: answer_fields(g) for k, g in got.items()} == {k: answer_fields(g) for k, g in expected.items()}
    assert cache_rows(tmp_path / "ray" / "responses.sqlite") == cache_rows(tmp_path / "local" / "responses.sqlite")
    # One actor per node: each asks for one CPU and each node has one.
    assert len({w.node_id for w in workers}) == 2 and len({w.node_ip for w in workers}) == 2
    assert {r.node_id for r in executor.reports} == {w.node_id for w in workers}
    # Loaded once per actor, never per shard or request: every shard an actor ran reports the same load.
    for w in workers:
        shards = [r for r in executor.reports if r.pid == w.pid]
        assert len(shards) >= 1 and {r.loaded_at for r in shards} == {w.loaded_at}
    assert len(executor.reports) >= 3 and sum(r.requests for r in executor.reports) == len(QUERIES)
    # The adapter travelled by content: the workers read a byte-identical copy under its hash, not the driver's path.
    digest = hashlib.sha256(Path(spec.adapter).read_bytes()).hexdigest()
    shipped = Path(tempfile.gettempdir()) / "evalkit-ray-files" / digest[:32] / Path(spec.adapter).name
    assert shipped.is_file() and hashlib.sha256(shipped.read_bytes()).hexdigest() == digest
    assert remote.stats.calls == len(QUERIES)
