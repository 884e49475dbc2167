"""The records the driver and its Ray workers exchange: shards of requests, answers, and where they ran."""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.records import Generation, ProviderResponse, Request

__all__ = ["Answer", "Shard", "ShardReport", "Taken", "WorkerInfo"]


@dataclass(frozen=True)
class Shard:
    """Some of one model's cache misses, sent to one actor at once."""

    model: str
    index: int
    """The shard's number within its `generate` call."""
    attempt: int
    """0 for the first send; n after n worker deaths (only still unanswered requests are sent again)."""
    requests: tuple[tuple[int, Request], ...]
    """(position in the caller's request list, request)."""

    @property
    def key(self) -> str:
        """Names the shard in its worker while it runs."""
        return f"{self.model}/{self.index}/{self.attempt}"


@dataclass(frozen=True)
class Answer:
    """One request answered by a worker's Model: the Generation, and the provider's response for the cache."""

    position: int
    generation: Generation
    response: ProviderResponse | None
    """What the driver stores in its response cache (None: the call failed, or the provider is not cacheable)."""
    latency_s: float | None = None
    calls: int = 0
    """Requests the worker sent to the provider for it (its retries included)."""


@dataclass(frozen=True)
class Taken:
    """What a worker hands back from a running shard: the answers finished since the last take."""

    answers: tuple[Answer, ...]
    done: bool


@dataclass(frozen=True)
class WorkerInfo:
    """Where an actor runs and what it runs, reported once it has loaded its model."""

    node_id: str
    node_ip: str
    pid: int
    actor_id: str
    evalkit_version: str
    ray_version: str
    load_s: float
    """Seconds the actor spent building and warming up its model (loading weights), once per actor process."""
    loaded_at: float
    """time.time() when the model finished loading: equal on every shard served by the same load."""
    error: str | None = None
    """Why the actor could not build its model (a missing key variable, a file not on the node): one line."""


@dataclass(frozen=True)
class ShardReport:
    """One finished (or abandoned) send of a shard: what ran where, for the driver's record and the tests."""

    model: str
    index: int
    attempt: int
    requests: int
    answered: int
    node_id: str
    pid: int
    actor_id: str
    loaded_at: float
    started_at: float
    """time.time() when the shard was sent."""
    seconds: float
    error: str | None = None
    """Why the send ended early (the worker died), None when every request was answered."""
