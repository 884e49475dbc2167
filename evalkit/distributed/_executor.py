"""The Ray generation executor: a model's cache misses answered by actors on a cluster, as they finish.

The driver (evalkit's runner) keeps what it owns on one machine: suite, samples, prompts, the run directory,
the response cache, scoring and the report. It hands this executor a model and requests that missed the cache
(item by item, or all at once); the executor pools the requests of every concurrent call for one model, cuts
them into shards (`RaySettings.shard_size`, split evenly over idle actors), sends each shard to one of the
model's actors and hands every Generation back as soon as its worker does (every `flush_s`), after writing the
response to the driver's cache. A driver that crashes loses only answers still on the workers; a rerun resumes
from the cache like any run.

A worker that dies mid-shard: Ray restarts its actor (`max_restarts`, reloading the model) and the executor
sends the shard again with only its requests not answered yet, at most `max_shard_retries` times; after that
those calls come back as failed Generations (never cached, so a rerun retries them). Ray's own task retry is
off (max_task_retries=0): it would replay the whole shard, answered calls included. A call the dead worker had
already sent has no answer anywhere and is sent again: those, at most one per call slot of the dead worker,
are the only calls a provider can see twice.

One answer per call key (Model.call_key): a request whose key is already on its way waits for that answer and
gets it marked cached, exactly what the cache would have answered; a failed answer is never shared.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from evalkit.distributed._cluster_limit import RateGate
from evalkit.distributed._ray import (
    RayConnection,
    actor_class,
    connect,
    import_ray,
    resolve,
)
from evalkit.distributed._settings import RaySettings
from evalkit.distributed._shards import Answer, Shard, ShardReport, WorkerInfo
from evalkit.distributed._shipping import pack_spec
from evalkit.distributed._worker import ShardWorker, WorkerConfig
from evalkit.errors import ConfigError
from evalkit.execution import GenerationExecutor
from evalkit.model import Model
from evalkit.records import Generation, Request
from evalkit.user_errors import one_line
from evalkit.version import __version__

__all__ = ["RayExecutor"]

SLOTS_PER_ACTOR = 2
"""Shards in flight per actor: the next one is already there when one ends, so the model never idles."""
LINGER_S = 0.05
"""A shard smaller than shard_size waits this long for more requests (the runner sends them item by item)."""
TAKE_WAIT_S = 30.0
"""Longest wait of one `take` long-poll (a shard with slow calls is simply polled again)."""
CLOSE_WAIT_S = 5.0
"""How long the actors get to release their model and cache file before they are killed."""
PLACEMENT_NOTICE_S = 30.0
"""After this long without a placed actor, the driver says what the model's actors are waiting for."""


@dataclass
class _Call:
    """One request the driver is waiting for."""

    request: Request
    key: str
    future: asyncio.Future[Generation]


@dataclass
class _Replica:
    """One actor of a model, as the driver sees it."""

    handle: Any
    info: WorkerInfo | None = None
    ready: asyncio.Future[WorkerInfo] | None = None
    incarnation: int = 0
    deaths: int = 0
    dead: bool = False


@dataclass
class _Group:
    """The actors serving one model, the calls waiting for them, and who is using them."""

    model: Model
    replicas: list[_Replica]
    resources: tuple[float, float]
    spec_ref: Any
    """The packed spec in the object store, kept alive here: every (re)started actor is built from it."""
    pending: deque[_Call] = field(default_factory=deque)
    retry: deque[Shard] = field(default_factory=deque)
    work: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: dict[int, _Call] = field(default_factory=dict)
    """Shard position -> call, for every call sent and not yet answered."""
    leaders: dict[str, _Call] = field(default_factory=dict)
    followers: dict[str, list[_Call]] = field(default_factory=dict)
    positions: itertools.count = field(default_factory=itertools.count)
    shard_numbers: itertools.count = field(default_factory=itertools.count)
    slots: list[asyncio.Task[None]] = field(default_factory=list)
    alive: int = 0
    error: BaseException | None = None
    """Why no call of this model can be made (raised to every caller)."""
    lost: str = ""
    """Why no actor is left for this model (every later call fails with it)."""
    users: int = 0
    release: asyncio.Task[None] | None = None
    noticed: bool = False


class _ReplicaLost(Exception):
    """The replica's actor is dead for good (its restarts are used up)."""


class RayExecutor(GenerationExecutor):
    """Answers models' cache misses on a Ray cluster through the same Model wrapper as a local run.

    Ray is imported and the cluster joined on the first request, so a run served entirely from the cache never
    touches the cluster. `reports` lists every shard sent: where it ran and what came back.
    """

    local = False

    def __init__(self, settings: RaySettings | None = None, *, notify: Callable[[str], None] | None = None) -> None:
        self.settings = settings or RaySettings()
        self.reports: list[ShardReport] = []
        self.sent = 0
        """Requests sent to workers (a shard sent again after a worker death counts its requests again)."""
        self.actors_started = 0
        self.gate_totals: dict[tuple[str, str | None], tuple[int, int]] = {}
        """gate_counts() as they were when the executor closed."""
        self._notify = notify or (lambda line: None)
        self._connection: RayConnection | None = None
        self._groups: dict[int, _Group] = {}
        self._gates: dict[tuple[str, str | None], tuple[str, Any]] = {}
        self._closed = False
        self._stopping: set[asyncio.Future[None]] = set()
        self._id = uuid.uuid4().hex[:12]

    # -- the seam ---------------------------------------------------------------------------------------------

    async def generate(self, model: Model, requests: Sequence[Request]) -> AsyncIterator[Generation]:
        """Each request's Generation as it completes; its response is in `model.cache` before it is yielded and
        `model.stats` counts the calls the workers made."""
        if not requests:
            return
        group = self._acquire(model)
        futures = [self._submit(group, r) for r in requests]
        try:
            for done in asyncio.as_completed(futures):
                yield await done
        finally:
            for f in futures:  # after the first error the others hold the same one: mark them seen
                if f.done() and not f.cancelled():
                    f.exception()
            self._release(group)

    async def generate_one(self, model: Model, request: Request) -> Generation:
        """One request's Generation (a judge's call), pooled into shards like any other."""
        group = self._acquire(model)
        try:
            return await self._submit(group, request)
        finally:
            self._release(group)

    def bind(self, model: Model) -> Model:
        """`model` for the tasks' judge calls: its cache hits answered here, its misses on the cluster."""
        return ClusterModel.around(model, self)

    def in_flight(self, model: Model) -> int:
        """Requests of `model` worth having in flight: a full shard per actor (the runner's window keeps a
        multiple of it open, enough for the second slot of each actor and for the items waiting to be stored in
        order)."""
        _, _, replicas = self.settings.resources(model.name, offline=model.provider.offline)
        if not model.provider.offline:
            replicas = min(replicas, model.spec.concurrency)
        return self.settings.shard_size * replicas

    def workers(self, model: Model) -> list[WorkerInfo]:
        """Where `model`'s actors run right now (those whose model is built)."""
        group = self._groups.get(id(model))
        return [r.info for r in group.replicas if r.info is not None] if group is not None else []

    def gate_counts(self) -> dict[tuple[str, str | None], tuple[int, int]]:
        """Per endpoint with a cluster rate limit: (slots granted, reservation requests) of its gate so far; their
        ratio is the block size the workers' waiters achieved (one round trip to the gate per block)."""
        ray = import_ray()
        return {key: tuple(ray.get(gate.counts.remote())) for key, (_, gate) in self._gates.items()}

    async def aclose(self) -> None:
        """Stop every actor and gate of this executor, and disconnect a cluster it connected to."""
        if self._closed:
            return
        self._closed = True
        for group in list(self._groups.values()):
            if group.release is not None:
                group.release.cancel()
            await self._stop(group)
        self._groups.clear()
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)
        if self._gates:
            ray = import_ray()
            with suppress(Exception):  # only a figure for benchmarks: closing goes on without it
                self.gate_totals = self.gate_counts()
            for _, gate in self._gates.values():
                ray.kill(gate, no_restart=True)
            self._gates.clear()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- calls and answers ------------------------------------------------------------------------------------

    @staticmethod
    def _cacheable(model: Model) -> bool:
        return model.cache is not None and model.provider.cacheable

    def _submit(self, group: _Group, request: Request) -> asyncio.Future[Generation]:
        future: asyncio.Future[Generation] = asyncio.get_running_loop().create_future()
        model = group.model
        if group.error is not None:
            future.set_exception(group.error)
            return future
        if group.lost:
            future.set_result(Generation(sample_id=request.sample_id, model=model.name, model_id=model.spec.model,
                                         attempt=request.attempt, prompt=request.prompt, error=f"Ray: {group.lost}"))
            return future
        key = model.call_key(request) if self._cacheable(model) else f"#{next(group.positions)}"
        call = _Call(request, key, future)
        if key in group.leaders:
            group.followers.setdefault(key, []).append(call)
        else:
            group.leaders[key] = call
            group.pending.append(call)
            group.work.set()
        return future

    def _resolve(self, group: _Group, position: int, answer: Answer) -> None:
        call = group.waiting.pop(position, None)
        if call is None:
            return  # already answered: only one answer per call is ever kept
        model = group.model
        gen = answer.generation
        model.stats.calls += answer.calls
        model.stats.retries += gen.retries
        if not gen.ok:
            model.stats.failures += 1
        del group.leaders[call.key]
        if not call.future.done():
            call.future.set_result(gen)
        followers = group.followers.pop(call.key, [])
        if followers and gen.ok:  # what the cache would have answered them
            for f in followers:
                model.stats.cache_hits += 1
                if not f.future.done():
                    f.future.set_result(gen.model_copy(update={"sample_id": f.request.sample_id, "cached": True,
                                                               "retries": 0, "ttft_s": None}))
        elif followers:  # a failed answer is never cached: the next request tries for itself
            first, rest = followers[0], followers[1:]
            group.leaders[call.key] = first
            if rest:
                group.followers[call.key] = rest
            group.pending.append(first)
            group.work.set()

    async def _store(self, group: _Group, answers: Sequence[Answer]) -> None:
        """Write fresh answers to the driver's cache, in one commit, before anyone is handed them."""
        model = group.model
        if model.cache is None or not self._cacheable(model):
            return
        writes = []
        for a in answers:
            call = group.waiting.get(a.position)
            if call is not None and a.response is not None:
                writes.append(model.cache.write(call.key, a.response, a.latency_s))
        if writes:
            await asyncio.gather(*writes)

    def _give_up(self, group: _Group, positions: Sequence[int], reason: str) -> None:
        model = group.model
        for p in positions:
            call = group.waiting.get(p)
            if call is not None:
                r = call.request
                failed = Generation(sample_id=r.sample_id, model=model.name, model_id=model.spec.model,
                                    attempt=r.attempt, prompt=r.prompt, error=f"Ray: {reason}")
                self._resolve(group, p, Answer(p, failed, None))

    def _fail_everything(self, group: _Group, error: BaseException | None, reason: str) -> None:
        """No actor can serve this model any more: every waiting call fails, with `error` (raised to the
        caller: a ConfigError) or, when None, as a failed Generation saying `reason` (later calls too)."""
        group.error, group.lost = error, reason
        group.retry.clear()
        if error is not None:
            calls = [*group.pending, *group.waiting.values(), *(f for fs in group.followers.values() for f in fs)]
            group.pending.clear()
            group.waiting.clear()
            group.leaders.clear()
            group.followers.clear()
            for call in calls:
                if not call.future.done():
                    call.future.set_exception(error)
            return
        while group.pending or group.waiting:  # a failed leader's follower becomes pending: fail it too
            while group.pending:
                group.waiting[next(group.positions)] = group.pending.popleft()
            self._give_up(group, list(group.waiting), reason)

    # -- shards on actors -------------------------------------------------------------------------------------

    async def _slot(self, group: _Group, rep: _Replica) -> None:
        """Send shards to one actor, one at a time, for as long as the group lives or the actor is not lost."""
        try:
            while True:
                await self._ready(group, rep)
                shard = await self._next_shard(group)
                await self._send(group, rep, shard)
        except _ReplicaLost:
            group.alive -= 1
            if group.alive == 0:
                self._fail_everything(group, None, "no actor of this model is left on the Ray cluster")
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - a ConfigError (no key on the node, ...) ends the model
            self._fail_everything(group, exc, "")

    async def _next_shard(self, group: _Group) -> Shard:
        """The next shard for a slot: a resent one first, else fresh requests, split evenly over the group's live
        slots (those still loading their model included, so the first actor ready does not take everything)."""
        while True:
            if group.retry:
                return group.retry.popleft()
            if group.pending:
                size = self.settings.shard_size
                if len(group.pending) < size:
                    await asyncio.sleep(LINGER_S)
                    if group.retry or not group.pending:
                        continue
                n = min(size, math.ceil(len(group.pending) / max(1, group.alive)))
                requests = []
                for _ in range(min(n, len(group.pending))):
                    call = group.pending.popleft()
                    position = next(group.positions)
                    group.waiting[position] = call
                    requests.append((position, call.request))
                return Shard(group.model.name, next(group.shard_numbers), 0, tuple(requests))
            group.work.clear()
            await group.work.wait()

    async def _send(self, group: _Group, rep: _Replica, shard: Shard) -> None:
        ray = import_ray()
        info, incarnation = rep.info, rep.incarnation
        assert info is not None
        answered = 0
        started, started_at = time.perf_counter(), time.time()
        error = None
        self.sent += len(shard.requests)
        try:
            await resolve(rep.handle.start.remote(shard))
            while True:
                taken = await resolve(rep.handle.take.remote(shard.key, TAKE_WAIT_S))
                await self._store(group, taken.answers)
                for answer in taken.answers:
                    answered += 1
                    self._resolve(group, answer.position, answer)
                if taken.done:
                    break
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
            error = one_line(str(exc))[:300] or type(exc).__name__
            if isinstance(exc, ray.exceptions.RayActorError):
                self._died(rep, incarnation)
            rest = tuple((p, r) for p, r in shard.requests if p in group.waiting)
            if rest and shard.attempt >= self.settings.max_shard_retries:
                self._give_up(group, [p for p, _ in rest], f"the Ray worker died {shard.attempt + 1} times "
                                                           f"running this call's shard ({error[:200]})")
            elif rest:
                group.retry.append(Shard(shard.model, shard.index, shard.attempt + 1, rest))
                group.work.set()
        finally:
            self.reports.append(ShardReport(model=shard.model, index=shard.index, attempt=shard.attempt,
                                            requests=len(shard.requests), answered=answered,
                                            node_id=info.node_id, pid=info.pid, actor_id=info.actor_id,
                                            loaded_at=info.loaded_at, started_at=started_at,
                                            seconds=time.perf_counter() - started,
                                            error=error))

    async def _ready(self, group: _Group, rep: _Replica) -> WorkerInfo:
        """The replica's worker info once its model is built; ConfigError when it cannot be; _ReplicaLost once
        its actor is dead for good."""
        ray = import_ray()
        while True:
            if rep.dead:
                raise _ReplicaLost()
            if rep.ready is None:
                rep.ready = asyncio.ensure_future(self._build(group, rep))
            incarnation = rep.incarnation
            try:
                return await asyncio.shield(rep.ready)
            except ray.exceptions.RayActorError as exc:
                if exc.actor_init_failed:
                    raise ConfigError(f"model '{group.model.name}': its Ray actor could not start on the cluster "
                                      f"({one_line(str(exc))[:300]}); is evalkit installed on every node, in the "
                                      f"driver's version ({__version__})?") from None
                self._died(rep, incarnation)
                await asyncio.sleep(0.2)

    async def _build(self, group: _Group, rep: _Replica) -> WorkerInfo:
        # The spec travels with `ready`, not the constructor: each incarnation of a restarted actor is sent it
        # again, from the one copy in the object store that the driver keeps alive.
        future = asyncio.ensure_future(resolve(rep.handle.ready.remote(group.spec_ref)))
        while not (await asyncio.wait({future}, timeout=PLACEMENT_NOTICE_S))[0]:
            if not group.noticed:
                group.noticed = True
                cpus, gpus = group.resources
                self._notify(f"model '{group.model.name}': waiting for the Ray cluster to place its actors (each "
                             f"asks for {cpus:g} CPU, {gpus:g} GPU; the cluster has "
                             f"{import_ray().cluster_resources()})")
        info: WorkerInfo = future.result()
        name = group.model.name
        if info.error is not None:
            raise ConfigError(f"model '{name}' on Ray node {info.node_ip}: {info.error}")
        if info.evalkit_version != __version__:
            raise ConfigError(f"model '{name}': the Ray worker on node {info.node_ip} runs evalkit "
                              f"{info.evalkit_version}, the driver {__version__}: install the driver's version on "
                              f"every node")
        rep.info = info
        return info

    def _died(self, rep: _Replica, incarnation: int) -> None:
        """Count one death of `rep`'s actor (once per incarnation, however many calls saw it)."""
        if rep.incarnation != incarnation:
            return
        rep.incarnation += 1
        rep.deaths += 1
        rep.ready = None
        rep.info = None
        if rep.deaths > self.settings.max_restarts:
            rep.dead = True

    # -- actors -----------------------------------------------------------------------------------------------

    def _acquire(self, model: Model) -> _Group:
        if self._closed:
            raise RuntimeError("this RayExecutor is closed")
        if self._connection is None:
            # In the event loop's thread, where Ray can install its signal handlers; joining takes a moment once.
            self._connection = connect(self.settings.address, namespace=self.settings.namespace)
        group = self._groups.get(id(model))
        if group is None:
            group = self._groups[id(model)] = self._start_group(model)
        if group.release is not None:
            group.release.cancel()
            group.release = None
        group.users += 1
        return group

    def _release(self, group: _Group) -> None:
        group.users -= 1
        if group.users > 0 or self._closed:
            return

        async def later() -> None:
            await asyncio.sleep(self.settings.idle_release_s)
            if group.users == 0 and self._groups.get(id(group.model)) is group:
                del self._groups[id(group.model)]
                stopping = asyncio.ensure_future(self._stop(group))  # aclose waits for it: no actor outlives it
                self._stopping.add(stopping)
                stopping.add_done_callback(self._stopping.discard)

        group.release = asyncio.ensure_future(later())

    def _start_group(self, model: Model) -> _Group:
        """Create the model's actors (Ray places them as resources allow) and their slots; nothing waits here."""
        ray = import_ray()
        spec = model.spec
        offline = model.provider.offline
        cpus, gpus, replicas = self.settings.resources(model.name, offline=offline)
        if offline:
            shares = [spec.concurrency] * replicas
        else:  # the configured concurrency holds for the cluster as a whole
            replicas = min(replicas, spec.concurrency)
            shares = [spec.concurrency // replicas + (1 if i < spec.concurrency % replicas else 0)
                      for i in range(replicas)]
        rate = spec.requests_per_second * (1 - self.settings.rate_headroom) if spec.requests_per_second else None
        gate = self._gate(model, rate) if rate and not offline else None
        cls = actor_class(ShardWorker, num_cpus=cpus, num_gpus=gpus, max_restarts=self.settings.max_restarts,
                          max_task_retries=0, scheduling_strategy="SPREAD")
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", model.name)
        reps = [_Replica(handle=cls.remote(WorkerConfig(
                    retry=model.retry, seed=model.seed, stream=model.stream, concurrency=share, gate=gate, rate=rate,
                    flush_s=self.settings.flush_s, cache_file=f"evalkit-ray-cache/{self._id}-{safe}-{i}.sqlite")))
                for i, share in enumerate(shares)]
        self.actors_started += len(reps)
        group = _Group(model=model, replicas=reps, resources=(cpus, gpus), spec_ref=ray.put(pack_spec(spec)))
        group.slots = [asyncio.ensure_future(self._slot(group, rep)) for rep in reps for _ in range(SLOTS_PER_ACTOR)]
        group.alive = len(group.slots)
        return group

    def _gate(self, model: Model, rate: float) -> str:
        """The name of the cluster-wide rate gate of the model's endpoint (one per endpoint, like build_models'
        limiters, with the first model's rate); workers find it by name."""
        key = (model.spec.provider, model.spec.base_url)
        if key not in self._gates:
            name = f"evalkit-rate-gate-{uuid.uuid4().hex[:12]}"
            cls = actor_class(RateGate, name=name, num_cpus=0, max_restarts=-1, max_task_retries=-1)
            self._gates[key] = (name, cls.remote(rate))
        return self._gates[key][0]

    async def _stop(self, group: _Group) -> None:
        for task in group.slots:
            task.cancel()
        await asyncio.gather(*group.slots, return_exceptions=True)
        # An actor still building is asked too: it closes once its build is done (its cache file exists then).
        built = [rep for rep in group.replicas if rep.info is not None or rep.ready is not None]
        for rep in group.replicas:
            if rep.ready is not None:
                rep.ready.cancel()
        # Let each actor free its model and remove its cache file; a stuck one is killed all the same.
        closing = [asyncio.ensure_future(resolve(rep.handle.close.remote())) for rep in built]
        if closing:
            await asyncio.wait(closing, timeout=CLOSE_WAIT_S)
            for task in closing:
                if task.done() and not task.cancelled():
                    task.exception()
                else:
                    task.cancel()
        ray = import_ray()
        for rep in group.replicas:
            ray.kill(rep.handle, no_restart=True)
        group.spec_ref = None


class ClusterModel(Model):
    """A Model whose cache hits are answered in the driver and whose misses go to a RayExecutor (judge calls).

    It shares the wrapped model's spec, provider (for call keys), cache and counters, so a judge's calls and
    hits are counted where a local run counts them.
    """

    executor: RayExecutor | None = None
    target: Model | None = None

    @classmethod
    def around(cls, model: Model, executor: RayExecutor) -> ClusterModel:
        """`model`, served by `executor`."""
        bound = cls(spec=model.spec, provider=model.provider, cache=model.cache, limiter=None, retry=model.retry,
                    seed=model.seed, stats=model.stats, stream=model.stream)
        bound.executor, bound.target = executor, model
        return bound

    async def generate(self, request: Request) -> Generation:
        """A cached answer from the driver's cache, else the cluster's."""
        assert self.executor is not None and self.target is not None
        if self.cache is not None and self.provider.cacheable:
            hit = self.cache.get(self.call_key(request))
            if hit is not None:
                self.stats.cache_hits += 1
                response, latency = hit
                return self._generation(request, response, latency, cached=True, retries=0)
        return await self.executor.generate_one(self.target, request)
