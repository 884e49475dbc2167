"""One requests-per-second limit for a whole cluster: a gate actor hands out call slots to every worker.

evalkit.ratelimit.RateLimiter spaces call starts 1/rps apart inside one process. On a cluster, each endpoint
gets one RateGate actor that keeps the same schedule for every worker; a worker's ClusterRateLimiter asks it
for slots. The waiters of one worker that queue up while a request to the gate is in flight are served by one
request (a block of consecutive slots), so the gate costs one round trip per block, not per call.

A slot is a delay relative to the gate's clock, turned into a time on the worker's own monotonic clock when
the answer arrives: nodes' clocks never need to agree, and a late answer only makes the call later.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from evalkit.distributed._ray import resolve
from evalkit.ratelimit import RateLimiter

__all__ = ["ClusterRateLimiter", "RateGate"]


class RateGate:
    """The schedule of call starts for one endpoint, shared by the cluster (run as a Ray actor).

    Its methods are plain (not async), so Ray runs them one at a time in arrival order: no lock needed.
    """

    def __init__(self, requests_per_second: float) -> None:
        if requests_per_second <= 0:
            raise ValueError(f"requests_per_second must be > 0, got {requests_per_second!r}")
        self.interval = 1.0 / requests_per_second
        self._next = 0.0
        self._granted = 0
        self._requests = 0

    def reserve(self, n: int) -> tuple[float, float]:
        """Reserve `n` consecutive slots: (seconds from now to the first, seconds between slots)."""
        now = time.monotonic()
        start = max(now, self._next)
        self._next = start + n * self.interval
        self._granted += n
        self._requests += 1
        return start - now, self.interval

    def counts(self) -> tuple[int, int]:
        """(slots granted, reservation requests served): their ratio is the block size achieved."""
        return self._granted, self._requests


class ClusterRateLimiter(RateLimiter):
    """A RateLimiter whose schedule is a RateGate actor's, so every worker of the cluster shares the limit."""

    def __init__(self, gate: Any, requests_per_second: float) -> None:
        super().__init__(requests_per_second)
        self._gate = gate
        self._waiting: list[asyncio.Future[float]] = []
        self._reserver: asyncio.Task[None] | None = None

    async def acquire(self) -> None:
        """Wait for this call's slot in the cluster-wide schedule."""
        slot: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.append(slot)
        if self._reserver is None or self._reserver.done():
            self._reserver = asyncio.create_task(self._reserve())
        at = await slot
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _reserve(self) -> None:
        while self._waiting:
            block, self._waiting = self._waiting, []
            try:
                first, interval = await resolve(self._gate.reserve.remote(len(block)))
            except Exception as exc:  # noqa: BLE001 - handed to every waiter, whose call then fails
                for slot in block:
                    if not slot.done():
                        slot.set_exception(exc)
                continue
            start = time.monotonic() + first
            for i, slot in enumerate(block):
                if not slot.done():  # a waiter that gave up (timeout) leaves its slot unused: never early
                    slot.set_result(start + i * interval)
