"""API models on a real two-node Ray cluster against a loopback server: the same answers, cache entries and call
counts as in one process; keys read on the workers; one call per call key; the cluster-wide rate limit; a
worker killed mid-shard."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import threading
from collections import Counter

import pytest
from conftest import FAKE_KEY, FAKE_KEY_ENV
from fakeserver import FakeLLMServer

from distributed.calls import (
    answer_fields,
    cache_rows,
    chat_requests,
    in_process,
    model,
    on_cluster,
)
from distributed.conftest import CLUSTER_KEY
from evalkit.distributed import RayExecutor, RaySettings
from evalkit.errors import ConfigError
from evalkit.model_spec import ModelSpec, Price
from evalkit.records import Message, Prompt, Request

pytestmark = pytest.mark.usefixtures("ray_cluster")


def api_spec(server, **kw) -> ModelSpec:
    return ModelSpec(name="ft", provider="openai", model="ft-x", base_url=server.url + "/v1", api_key_env=FAKE_KEY_ENV,
                     max_retries=2, price=Price(input_per_mtok=1.0, output_per_mtok=2.0), **kw)


def prompt_of(req) -> str:
    return req.body["messages"][-1]["content"]


def test_cluster_answers_equal_a_local_run_and_keys_stay_on_the_workers(fake_server, api_key, tmp_path):
    spec = api_spec(fake_server, concurrency=4)
    requests = chat_requests(23)
    local = model(spec, tmp_path / "local")
    expected = asyncio.run(in_process(local, requests))
    assert fake_server.call_count == 23
    fake_server.reset()

    remote = model(spec, tmp_path / "ray")
    executor = RayExecutor(RaySettings(shard_size=5, replicas=2, idle_release_s=0))

    async def go():
        try:
            return await on_cluster(executor, remote, requests)
        finally:
            await executor.aclose()

    got = asyncio.run(go())
    assert {k: answer_fields(g) for k, g in got.items()} == {k: answer_fields(g) for k, g in expected.items()}
    assert all(g.latency_s is not None and g.latency_s > 0 for g in got.values())
    # The driver's cache holds exactly what a local run stores (finish reason included), under the same keys.
    assert cache_rows(tmp_path / "ray" / "responses.sqlite") == cache_rows(tmp_path / "local" / "responses.sqlite")
    assert remote.stats.calls == 23 == fake_server.call_count and remote.stats.cache_hits == 0
    assert Counter(prompt_of(r) for r in fake_server.requests) == Counter(f"question {i}" for i in range(23))
    # Each worker used the key of its own environment, never the driver's: the spec carries only the name.
    assert {r.headers["authorization"] for r in fake_server.requests} == {f"Bearer {CLUSTER_KEY}"}
    assert CLUSTER_KEY != FAKE_KEY
    sent = [r for r in executor.reports if r.attempt == 0]
    assert sum(r.requests for r in sent) == 23 and all(r.requests <= 5 for r in sent)
    assert len(sent) >= math.ceil(23 / 5) and all(r.error is None for r in executor.reports)


def test_one_call_per_call_key(fake_server, api_key, tmp_path):
    spec = api_spec(fake_server, concurrency=2)
    same = Prompt(messages=(Message(role="user", content="the same question"),))
    requests = [Request(prompt=same, sample_id="a"), Request(prompt=same, sample_id="b"), *chat_requests(2)]
    m = model(spec, tmp_path)
    executor = RayExecutor(RaySettings(shard_size=10, idle_release_s=0))

    async def go():
        try:
            return await on_cluster(executor, m, requests)
        finally:
            await executor.aclose()

    got = asyncio.run(go())
    assert fake_server.call_count == 3  # "the same question" once, not twice
    assert got["a"].output == got["b"].output == "echo: the same question"
    assert sorted([got["a"].cached, got["b"].cached]) == [False, True]
    assert m.stats.calls == 3 and m.stats.cache_hits == 1


def test_a_key_missing_on_the_cluster_is_one_line_naming_it(fake_server, api_key, monkeypatch, tmp_path):
    monkeypatch.setenv("EVALKIT_DRIVER_ONLY_KEY", "sk-only-here")  # the driver has it, the cluster does not
    spec = api_spec(fake_server).model_copy(update={"api_key_env": "EVALKIT_DRIVER_ONLY_KEY"})
    m = model(spec, tmp_path)
    executor = RayExecutor(RaySettings(idle_release_s=0))

    async def go():
        try:
            await on_cluster(executor, m, chat_requests(3))
        finally:
            await executor.aclose()

    with pytest.raises(ConfigError) as info:
        asyncio.run(go())
    message = str(info.value)
    assert "EVALKIT_DRIVER_ONLY_KEY" in message and "Ray node 127.0.0." in message and "\n" not in message
    assert "sk-only-here" not in message
    assert fake_server.call_count == 0


def test_a_sweep_runs_the_models_shards_at_the_same_time(api_key, tmp_path):
    # Each model's calls take ~4 s one after the other: longer than the actors' start-up differs on a busy machine.
    with FakeLLMServer(latency_s=1.0) as server:
        names = [f"ft-step{k}" for k in (100, 200, 300)]
        models = [model(api_spec(server, concurrency=1).model_copy(update={"name": n, "model": n}), tmp_path / n)
                  for n in names]
        executor = RayExecutor(RaySettings(shard_size=1, idle_release_s=0))

        async def go():
            try:
                return await asyncio.gather(*(on_cluster(executor, m, chat_requests(4, m.name)) for m in models))
            finally:
                await executor.aclose()

        got = asyncio.run(go())
        assert [sorted(g.output for g in gens.values()) for gens in got] == [
            sorted(f"echo: {n} {i}" for i in range(4)) for n in names]
        assert server.call_count == 12
    spans = {n: [(r.started_at, r.started_at + r.seconds) for r in executor.reports if r.model == n] for n in names}
    assert all(spans.values())
    # Every pair of models had shards running at the same moment on the cluster.
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert any(s1 < e2 and s2 < e1 for s1, e1 in spans[a] for s2, e2 in spans[b]), (a, b, spans)
    assert len({r.actor_id for r in executor.reports}) == 3  # one actor per model


def max_in_window(times: list[float], window_s: float) -> int:
    """The most arrivals within any half-open interval [t, t + window_s)."""
    times = sorted(times)
    best, j = 0, 0
    for i in range(len(times)):
        while times[i] - times[j] >= window_s:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_rate_limit_holds_for_the_whole_cluster(fake_server, api_key, tmp_path):
    rps = 5.0
    spec = api_spec(fake_server, concurrency=4, requests_per_second=rps)
    m = model(spec, tmp_path)
    executor = RayExecutor(RaySettings(shard_size=4, replicas=2, idle_release_s=0))
    n = 25

    async def go():
        try:
            return await on_cluster(executor, m, chat_requests(n))
        finally:
            await executor.aclose()

    got = asyncio.run(go())
    assert len(got) == n and all(g.ok for g in got.values())
    workers = {r.pid for r in executor.reports}
    assert len(workers) == 2, f"the calls should come from two worker processes, came from {workers}"
    arrivals = [r.received_at for r in fake_server.requests]
    assert len(arrivals) == n
    # Measured at the server: never more than `rps` requests in any one-second window.
    assert max_in_window(arrivals, 1.0) <= rps, sorted(b - a for a, b in zip(sorted(arrivals), sorted(arrivals)[1:]))
    span = max(arrivals) - min(arrivals)
    granted = rps * (1 - executor.settings.rate_headroom)
    # The limit is the cluster's (two workers did not get twice the rate), and it is used, not starved.
    assert (n - 1) / granted - 0.15 <= span <= (n - 1) / granted + 2.0  # 0.15: a late first start


def test_worker_killed_mid_shard_gives_every_answer_once(fake_server, api_key, tmp_path):
    """The worker process is killed between two calls of its shard (its answers so far already with the driver):
    Ray restarts the actor, only the unanswered requests are sent again, and the server sees each call once."""
    n, rps = 12, 4.0
    spec = api_spec(fake_server, concurrency=1, requests_per_second=rps)
    requests = chat_requests(n)
    expected = asyncio.run(in_process(model(spec, tmp_path / "local"), requests))
    fake_server.reset()
    answered = threading.Semaphore(0)
    count = {"answered": 0}

    def responder(body):
        count["answered"] += 1
        answered.release()
        return f"echo: {body['messages'][-1]['content']}"

    fake_server.responder = responder
    fake_server.latency_s = 0.02
    m = model(spec, tmp_path / "ray")
    # flush_s=0: every answer goes to the driver at once, so "answered" and "with the driver" coincide.
    executor = RayExecutor(RaySettings(shard_size=100, idle_release_s=0, flush_s=0.0))
    killed: dict[str, int] = {}

    async def kill_after(k: int) -> None:
        while True:
            await asyncio.sleep(0.005)
            workers = executor.workers(m)
            with_driver = len(m.cache) if m.cache is not None else 0
            if (count["answered"] >= k and workers and fake_server.call_count == count["answered"] == with_driver):
                killed["pid"], killed["at"] = workers[0].pid, count["answered"]
                os.kill(workers[0].pid, signal.SIGKILL)
                killed["arrived"] = fake_server.call_count  # nothing was in flight when the worker died
                return

    async def go():
        try:
            killer = asyncio.ensure_future(kill_after(4))
            got = await on_cluster(executor, m, requests)
            await killer
            return got
        finally:
            await executor.aclose()

    got = asyncio.run(go())
    assert killed and 4 <= killed["at"] < n and killed["arrived"] == killed["at"], killed
    assert {k: answer_fields(g) for k, g in got.items()} == {k: answer_fields(g) for k, g in expected.items()}
    counts = Counter(prompt_of(r) for r in fake_server.requests)
    assert counts == Counter(f"question {i}" for i in range(n)), counts  # every call exactly once
    assert m.stats.calls == n and m.stats.failures == 0
    cut = [r for r in executor.reports if r.error is not None]
    assert cut and all(r.attempt == 0 and r.pid == killed["pid"] for r in cut)
    assert sum(r.answered for r in cut) == killed["at"]  # what the driver had when the worker died ...
    for r in cut:  # ... is never sent again: each cut shard is resent with exactly its unanswered requests
        (again,) = [x for x in executor.reports if x.index == r.index and x.attempt == 1]
        assert again.requests == r.requests - r.answered and again.error is None and again.pid != killed["pid"]
    assert sum(r.requests for r in executor.reports if r.attempt == 0) == n
