"""Scale-out on Ray: the same run, its model calls spread over a cluster (`evalkit run ... --ray [ADDRESS]`).

- `RaySettings`: the `[ray]` table of evalkit.toml (address, shard size, replicas, resources, retries).
- `RayExecutor`: the runner's GenerationExecutor on a cluster: a model's cache misses in, Generations out as
  they finish, through the same Model wrapper running inside Ray actors (see _executor.py).
- `ShardReport`, `WorkerInfo`: where each shard ran (node, process, model load), for the record and tests.
- `command`: the `--ray` option of `evalkit run`.

Importing this package imports neither Ray nor the executor (the names load on first use, so the CLI's
start-up stays light); a missing Ray is a MissingDependencyError naming the `ray` extra. See docs/scale-out.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.distributed._executor import ClusterModel, RayExecutor
    from evalkit.distributed._ray import import_ray
    from evalkit.distributed._settings import ActorResources, RaySettings
    from evalkit.distributed._shards import ShardReport, WorkerInfo
    from evalkit.distributed._shipping import SHIP_LIMIT_BYTES

__all__ = ["SHIP_LIMIT_BYTES", "ActorResources", "ClusterModel", "RayExecutor", "RaySettings", "ShardReport",
           "WorkerInfo", "import_ray"]

_WHERE = {"RayExecutor": "_executor", "ClusterModel": "_executor", "import_ray": "_ray",
          "ActorResources": "_settings", "RaySettings": "_settings", "ShardReport": "_shards",
          "WorkerInfo": "_shards", "SHIP_LIMIT_BYTES": "_shipping"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"evalkit.distributed.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'evalkit.distributed' has no attribute {name!r}")
