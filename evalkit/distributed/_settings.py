"""How a run uses a Ray cluster: the `[ray]` table of evalkit.toml and the `--ray [ADDRESS]` option.

Light on purpose (pydantic only): the project config reads it on every command, and Ray itself is imported
only when a run asks for it (evalkit.distributed._ray).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.user_errors import validation_error

__all__ = ["ActorResources", "RaySettings"]


class ActorResources(BaseModel):
    """What each Ray actor serving one model asks the cluster for (`[ray.models.NAME]`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_cpus: float | None = Field(default=None, ge=0)
    """CPUs reserved per actor; None: `[ray] num_cpus` for a local model, `[ray] api_num_cpus` for an API one."""
    num_gpus: float | None = Field(default=None, ge=0)
    """GPUs reserved per actor; None: `[ray] num_gpus` for a local model, 0 for an API one."""
    replicas: int | None = Field(default=None, ge=1)
    """Actors serving this model; None: `[ray] replicas`."""


class RaySettings(BaseModel):
    """Where the cluster is and how a run's calls are cut into shards and spread over its actors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str | None = None
    """`auto` (the cluster this process runs in), `HOST:PORT` (a head's GCS port), `ray://HOST:PORT` (the Ray
    client port, e.g. a KubeRay head service on 10001); None: start a local cluster for this run."""
    shard_size: int = Field(default=200, ge=1)
    """Requests per shard. A shard is the unit sent to one actor, retried after a worker death and, while it is
    in flight, what a driver crash can lose (its finished answers are already in the cache)."""
    replicas: int = Field(default=1, ge=1)
    """Actors per model. A local model loads its weights once per actor; an API model's `concurrency` is split
    between its actors (never more actors than its concurrency), so the cluster as a whole keeps it."""
    num_cpus: float = Field(default=1.0, ge=0)
    """CPUs each actor of a local (offline) model reserves; Ray places the actor on a node that has them."""
    num_gpus: float = Field(default=0.0, ge=0)
    """GPUs each actor of a local model reserves."""
    api_num_cpus: float = Field(default=0.0, ge=0)
    """CPUs each actor of an API model reserves (0: it waits on the network, it need not hold a core)."""
    rate_headroom: float = Field(default=0.1, ge=0, lt=1)
    """An API model's `requests_per_second` is granted to the cluster at (1 - rate_headroom) times the rate:
    starts on different nodes are late by scheduling jitter, never early, and 10% keeps any one-second window
    measured at the server within the limit for up to ~110 ms of jitter. 0: exactly 1/rps apart at the gate."""
    max_shard_retries: int = Field(default=2, ge=0)
    """Times a shard whose worker died is sent again (only its unanswered requests); after that its remaining
    calls are recorded as failed, and a rerun retries them."""
    max_restarts: int = Field(default=3, ge=0)
    """Times Ray restarts a dead actor (reloading its model) before the model loses that replica."""
    flush_s: float = Field(default=0.05, ge=0)
    """How long a worker gathers more finished answers of a running shard before handing them back (seconds):
    fewer round trips, against answers held a little longer on a worker that could die."""
    idle_release_s: float = Field(default=5.0, ge=0)
    """A model's actors are released after this long without calls, freeing their CPUs/GPUs for the next
    models of a sweep (a judge called item after item keeps its actors)."""
    namespace: str = "evalkit"
    """The Ray namespace the run's actors live in."""
    models: dict[str, ActorResources] = Field(default_factory=dict)
    """Per-model overrides of the resources and replicas above, keyed by the model's `--models` name."""

    @classmethod
    def from_table(cls, table: Mapping[str, Any], *, where: str) -> RaySettings:
        """The `[ray]` table of a config file; one-line ConfigError naming `where` and the field."""
        try:
            return cls.model_validate(dict(table))
        except ValidationError as exc:
            raise validation_error(exc, where=where, prefix="ray.", model=cls) from None

    def resources(self, model: str, *, offline: bool) -> tuple[float, float, int]:
        """(num_cpus, num_gpus, replicas) for the actors of `model`; `offline`: it runs in the actor (weights)."""
        own = self.models.get(model, ActorResources())
        cpus = own.num_cpus if own.num_cpus is not None else (self.num_cpus if offline else self.api_num_cpus)
        gpus = own.num_gpus if own.num_gpus is not None else (self.num_gpus if offline else 0.0)
        return cpus, gpus, own.replicas if own.replicas is not None else self.replicas

    def with_address(self, address: str | None) -> RaySettings:
        """These settings with `--ray ADDRESS` applied (None or empty: keep the configured address)."""
        return self.model_copy(update={"address": address}) if address else self
