"""The parts of evalkit.distributed that need no cluster: the [ray] settings, the missing-extra error, what
travels with a spec (adapters by content, big files checked on the node), and the rate gate's schedule."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import itertools
import sys
import time

import pytest

import evalkit.distributed._shipping as shipping
from evalkit.distributed import RaySettings, import_ray
from evalkit.distributed._cluster_limit import ClusterRateLimiter, RateGate
from evalkit.errors import ConfigError, MissingDependencyError
from evalkit.model_spec import ModelSpec


def test_ray_table_errors_are_one_line_naming_the_field():
    with pytest.raises(ConfigError) as info:
        RaySettings.from_table({"shard_sise": 100}, where="evalkit.toml")
    assert str(info.value).startswith("evalkit.toml: ray.shard_sise: unknown field")
    assert "Did you mean: shard_size?" in str(info.value)
    with pytest.raises(ConfigError, match=r"evalkit.toml: ray.shard_size: .*greater than or equal to 1 \(received 0\)"):
        RaySettings.from_table({"shard_size": 0}, where="evalkit.toml")
    settings = RaySettings.from_table({"address": "ray://head:10001", "models": {"ft": {"num_gpus": 1}}},
                                      where="evalkit.toml")
    assert settings.address == "ray://head:10001"
    assert settings.with_address("auto").address == "auto" and settings.with_address(None) is settings


def test_actor_resources_default_by_kind_and_per_model():
    s = RaySettings(num_cpus=2, num_gpus=0.5, replicas=3, models={"big": {"num_gpus": 1, "replicas": 1}})
    assert s.resources("base", offline=True) == (2, 0.5, 3)  # a local model holds its CPUs/GPUs
    assert s.resources("api", offline=False) == (0.0, 0.0, 3)  # an API model waits on the network
    assert s.resources("big", offline=True) == (2, 1, 1)


def test_a_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when the package is absent
    with pytest.raises(MissingDependencyError) as info:
        import_ray()
    assert "pip install 'evalkit[ray]'" in str(info.value) and "--ray" in str(info.value)


def test_adapters_travel_by_content_and_land_under_their_hash(tmp_path):
    adapter = tmp_path / "driver" / "adapter.gguf"
    adapter.parent.mkdir()
    adapter.write_bytes(b"GGUF lora bytes" * 100)
    spec = ModelSpec(name="ft", provider="llamacpp", model="gemma3-270m", adapter=str(adapter))
    packed = shipping.pack_spec(spec)
    assert [(f.field, f.size) for f in packed.files] == [("adapter", 1500)] and packed.shipped_bytes == 1500
    adapter.unlink()  # the worker's node does not have the driver's file: it gets the bytes
    node_root = tmp_path / "node"
    local = shipping.unpack_spec(packed, node_root, node="10.0.0.7")
    digest = hashlib.sha256(b"GGUF lora bytes" * 100).hexdigest()
    assert local.adapter == str(node_root / digest[:32] / "adapter.gguf")
    assert (node_root / digest[:32] / "adapter.gguf").read_bytes() == b"GGUF lora bytes" * 100
    assert local.model_copy(update={"adapter": spec.adapter}) == spec  # nothing else changed
    assert shipping.unpack_spec(packed, node_root, node="10.0.0.7") == local  # a second actor reuses it


def test_big_files_are_not_copied_and_must_be_on_the_node(tmp_path, monkeypatch):
    monkeypatch.setattr(shipping, "SHIP_LIMIT_BYTES", 10)
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"x" * 100)
    spec = ModelSpec(name="big", provider="llamacpp", model=str(weights))
    packed = shipping.pack_spec(spec)
    assert [(f.field, f.data) for f in packed.files] == [("model", None)]
    assert shipping.unpack_spec(packed, tmp_path / "node", node="n1") == spec  # there, same size: used in place
    weights.write_bytes(b"x" * 99)
    with pytest.raises(ConfigError) as info:
        shipping.unpack_spec(packed, tmp_path / "node", node="n1")
    message = str(info.value)
    assert f"model {weights} (100 bytes on the driver) is not on Ray node n1 (99 bytes)" in message
    assert "same path on every node" in message and "\n" not in message


def test_rate_gate_spaces_blocks_of_slots():
    gate = RateGate(4.0)
    first, interval = gate.reserve(3)
    second, _ = gate.reserve(2)
    assert interval == 0.25 and first == 0.0
    assert second == pytest.approx(0.75, abs=0.01)  # after the 3 slots of the first block
    assert gate.counts() == (5, 2)
    with pytest.raises(ValueError):
        RateGate(0)


class _LocalGate:
    """A RateGate called like a Ray actor handle (`gate.reserve.remote(n).future()`), in this process."""

    def __init__(self, rps: float) -> None:
        self.gate = RateGate(rps)
        self.reserve = self

    def remote(self, n: int):
        done: concurrent.futures.Future = concurrent.futures.Future()
        done.set_result(self.gate.reserve(n))
        return _Ref(done)


class _Ref:
    def __init__(self, fut) -> None:
        self._fut = fut

    def future(self):
        return self._fut


def test_cluster_limiter_leases_one_block_for_the_waiters_of_a_worker():
    gate = _LocalGate(20.0)
    limiter = ClusterRateLimiter(gate, 20.0)

    async def go():
        starts = []

        async def one():
            await limiter.acquire()
            starts.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(8)))
        return sorted(starts)

    starts = asyncio.run(go())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.05 - 0.005  # 1/20 s apart
    granted, requests = gate.gate.counts()
    assert granted == 8 and requests <= 2  # the 8 waiters queued together: one block (two at most)
