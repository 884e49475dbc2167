"""Scale-out on Ray: the same run, its model calls spread over a cluster (`evalkit run ... --ray [ADDRESS]`).

- `RaySettings`: the `[ray]` table of evalkit.toml (address, shard size, replicas, resources, retries).
- `RayExecutor`: the runner's generation executor on a cluster: one model's cache misses in, Generations out
  as they finish, through the same Model wrapper running inside Ray actors (see _executor.py).
- `ShardReport`, `WorkerInfo`: where each shard ran (node, process, model load), for the record and tests.

Importing this package never imports Ray: the executor does, on its first request, and a missing package is
a MissingDependencyError naming the `ray` extra. See docs/scale-out.md.
"""

from __future__ import annotations

from evalkit.distributed._executor import RayExecutor
from evalkit.distributed._ray import import_ray
from evalkit.distributed._settings import ActorResources, RaySettings
from evalkit.distributed._shards import ShardReport, WorkerInfo
from evalkit.distributed._shipping import SHIP_LIMIT_BYTES

__all__ = ["SHIP_LIMIT_BYTES", "ActorResources", "RayExecutor", "RaySettings", "ShardReport", "WorkerInfo",
           "import_ray"]
