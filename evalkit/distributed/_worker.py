"""The Ray actor that serves one model on the cluster: the same Model wrapper as a local run, built once.

An actor builds its Model from the shipped spec when it is first asked (`ready`), warms it up (a local model
loads its weights here, once per actor process) and then answers shards of requests through it: retries,
timeouts, token and cost accounting are the wrapper's, unchanged. Its limiter is the cluster-wide one when the
model has a rate limit, and its `concurrency` is this actor's share of the model's.

The driver owns the run's response cache. Each actor gets a cache file of its own on its node, private to
this run, model and replica: the wrapper writes every answer there as it would locally, the worker reads the
provider's response back to hand it to the driver (which stores exactly what a local run stores, finish
reason included), and an actor that Ray restarts on the same node finds the answers its previous process made
but could not hand back before it died: those are not asked again. The file is removed when the actor is
closed; files of runs that crashed are removed by the next actor after a day.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.cache import ResponseCache
from evalkit.distributed._cluster_limit import ClusterRateLimiter
from evalkit.distributed._shards import Answer, Shard, Taken, WorkerInfo
from evalkit.distributed._shipping import PackedSpec, unpack_spec
from evalkit.errors import EvalkitError
from evalkit.model import Model
from evalkit.providers import create_provider
from evalkit.records import Generation, Request
from evalkit.retry import RetryPolicy
from evalkit.user_errors import one_line
from evalkit.version import __version__

__all__ = ["ShardWorker", "WorkerConfig"]


@dataclass
class _Running:
    """A shard in progress: finished answers not yet taken, and whether all are finished."""

    answers: list[Answer] = field(default_factory=list)
    done: bool = False
    failure: str | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class WorkerConfig:
    """How the driver wants the actor's Model built (everything but the spec, which travels as an object)."""

    retry: RetryPolicy
    seed: int
    stream: bool
    concurrency: int
    """This actor's share of the model's concurrency (an API model's limit holds for the whole cluster)."""
    gate: str | None = None
    """The name of the RateGate actor of the model's endpoint, when it has `requests_per_second`."""
    rate: float | None = None
    """The rate the gate grants (the model's requests_per_second less the headroom)."""
    flush_s: float = 0.05
    cache_file: str = "evalkit-ray-cache/worker.sqlite"
    """The actor's cache file, relative to its node's temp dir: one per run, model and replica, so a restarted
    actor finds its predecessor's answers and no other run's."""


class ShardWorker:
    """Serves one model (run as a Ray actor; every method is async, so shards and judge calls interleave)."""

    def __init__(self, config: WorkerConfig) -> None:
        self._config = config
        self._model: Model | None = None
        self._cache: ResponseCache | None = None
        self._info: WorkerInfo | None = None
        self._building: asyncio.Lock | None = None
        self._runs: dict[str, _Running] = {}

    async def ready(self, packed: PackedSpec) -> WorkerInfo:
        """Build `packed`'s model and warm it up (first call only); where this actor runs, or why it cannot
        serve."""
        if self._building is None:
            self._building = asyncio.Lock()
        async with self._building:
            if self._info is None:
                self._info = await self._build(packed)
        return self._info

    async def _build(self, packed: PackedSpec) -> WorkerInfo:
        import ray

        ctx = ray.get_runtime_context()
        node_id = ctx.get_node_id()
        # The address the node joined the cluster with (ray.util.get_node_ip_address() guesses from routes).
        node_ip = next((n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == node_id), "?")
        start = time.perf_counter()
        error = None
        try:
            spec = unpack_spec(packed, Path(tempfile.gettempdir()) / "evalkit-ray-files", node=node_ip)
            spec = spec.model_copy(update={"concurrency": self._config.concurrency})
            self._cache = _worker_cache(Path(tempfile.gettempdir()) / self._config.cache_file)
            limiter = None
            if self._config.gate is not None and self._config.rate:
                limiter = ClusterRateLimiter(ray.get_actor(self._config.gate), self._config.rate)
            model = Model(spec=spec, provider=create_provider(spec), cache=self._cache, limiter=limiter,
                          retry=self._config.retry, seed=self._config.seed, stream=self._config.stream)
            await model.warmup()
            self._model = model
        except EvalkitError as exc:  # returned, not raised: evalkit's errors need not survive pickling
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - e.g. a llama.cpp load failure: the same on every retry
            error = one_line(f"{type(exc).__name__}: {exc}")
        return WorkerInfo(node_id=node_id, node_ip=node_ip, pid=os.getpid(),
                          actor_id=ctx.get_actor_id() or "", evalkit_version=__version__,
                          ray_version=ray.__version__, load_s=time.perf_counter() - start, loaded_at=time.time(),
                          error=error)

    async def start(self, shard: Shard) -> None:
        """Start answering `shard` and return at once; `take` hands the answers back as they finish."""
        model = self._require_model()
        run = _Running()
        self._runs[shard.key] = run
        run.task = asyncio.create_task(self._answer_all(model, shard, run))

    async def take(self, key: str, wait_s: float = 30.0) -> Taken:
        """The answers of shard `key` finished since the last take: waits until some are (at most `wait_s`),
        then up to `flush_s` more to hand them over in one block; `done` once every answer has been taken."""
        run = self._runs[key]
        deadline = time.monotonic() + wait_s
        while not run.done and not run.answers:
            run.changed.clear()
            try:
                await asyncio.wait_for(run.changed.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                break
        if not run.done and run.answers and self._config.flush_s > 0:
            flush_until = min(deadline, time.monotonic() + self._config.flush_s)
            while not run.done and time.monotonic() < flush_until:
                run.changed.clear()
                try:
                    await asyncio.wait_for(run.changed.wait(), max(0.0, flush_until - time.monotonic()))
                except TimeoutError:
                    break
        if run.failure is not None:
            del self._runs[key]
            raise RuntimeError(run.failure)
        answers, run.answers = tuple(run.answers), []
        if run.done:
            del self._runs[key]
        return Taken(answers=answers, done=run.done)

    async def call(self, request: Request) -> Answer:
        """One request answered directly (judge calls, which come one by one)."""
        return await self._answer(self._require_model(), 0, request)

    async def close(self) -> None:
        """Release the model (its weights) and remove the actor's cache file, before the actor is killed (after
        a build in progress, which creates the file)."""
        if self._building is not None:
            async with self._building:
                await self._close()
        else:
            await self._close()

    async def _close(self) -> None:
        try:
            if self._model is not None:
                await self._model.aclose()
        finally:
            self._model = None
            if self._cache is not None:
                self._cache.close()
                for suffix in ("", "-wal", "-shm"):
                    with suppress(OSError):
                        os.unlink(f"{self._cache.path}{suffix}")
                self._cache = None

    # -------------------------------------------------------------------------------------------------------

    def _require_model(self) -> Model:
        if self._model is None:
            reason = self._info.error if self._info is not None else "ready() was not called"
            raise RuntimeError(f"this worker has no model: {reason}")
        return self._model

    async def _answer_all(self, model: Model, shard: Shard, run: _Running) -> None:
        async def one(position: int, request: Request) -> None:
            answer = await self._answer(model, position, request)
            run.answers.append(answer)
            run.changed.set()

        try:
            # Model.generate bounds the calls in flight with the model's semaphore: one coroutine per request of
            # a shard (a few hundred) costs little and keeps every slot busy.
            await asyncio.gather(*(one(p, r) for p, r in shard.requests))
        except Exception as exc:  # noqa: BLE001 - reported to the driver by `take`, which retries the shard
            run.failure = one_line(f"{type(exc).__name__}: {exc}")
        run.done = True
        run.changed.set()

    async def _answer(self, model: Model, position: int, request: Request) -> Answer:
        try:
            generation = await model.generate(request)
        except Exception as exc:  # noqa: BLE001 - e.g. the cluster rate gate is gone: fail this call only
            generation = Generation(sample_id=request.sample_id, model=model.name, model_id=model.spec.model,
                                    attempt=request.attempt, prompt=request.prompt,
                                    error=one_line(f"on the Ray worker: {type(exc).__name__}: {exc}"))
            return Answer(position=position, generation=generation, response=None)
        response = latency = None
        if generation.ok and model.cache is not None and model.provider.cacheable:
            stored = model.cache.get(model.call_key(request))
            if stored is not None:
                response, latency = stored
        calls = generation.retries + 1
        if generation.cached:  # made by this actor's previous process on this node, which died before handing it
            generation, calls = generation.model_copy(update={"cached": False}), 1
        return Answer(position=position, generation=generation, response=response, latency_s=latency, calls=calls)


STALE_S = 24 * 3600.0
"""Cache files of actors that never closed (a crashed run) are removed after this long."""


def _worker_cache(path: Path) -> ResponseCache:
    """The actor's cache file, after removing stale ones beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in path.parent.iterdir():
        with suppress(OSError):
            if old != path and now - old.stat().st_mtime > STALE_S:
                old.unlink()
    return ResponseCache(path)
