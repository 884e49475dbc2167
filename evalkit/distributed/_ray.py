"""Ray itself: imported only when a run asks for it, and the driver's connection to a cluster."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from evalkit.errors import ConfigError, MissingDependencyError

__all__ = ["RayConnection", "connect", "import_ray"]

ADDRESS_FORMS = "'auto', HOST:PORT (the head's GCS port), ray://HOST:PORT (the Ray client port), or no address " \
                "to start a local cluster"


def import_ray() -> ModuleType:
    """The `ray` package, or MissingDependencyError naming the `ray` extra."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError("ray", "Running on a Ray cluster (--ray)", extra="ray") from exc
    return ray


@dataclass
class RayConnection:
    """The driver's attachment to a cluster; `close()` disconnects only what `connect` itself opened."""

    address: str
    """What the driver connected to ("local" for a cluster started for this run)."""
    opened_here: bool

    def close(self) -> None:
        """Disconnect (and stop a local cluster started by `connect`)."""
        if self.opened_here:
            ray = import_ray()
            if ray.is_initialized():
                ray.shutdown()
            self.opened_here = False


def connect(address: str | None, *, namespace: str) -> RayConnection:
    """Connect the driver to the cluster at `address` (see RaySettings.address), or start a local one.

    A process already connected (a notebook that called `ray.init` itself) is used as it is and left
    connected. Worker output is not forwarded to the driver: it would tear through the progress bars, and
    every failure comes back as a Generation error or a one-line ConfigError instead.
    """
    ray = import_ray()
    if ray.is_initialized():
        return RayConnection(address="existing", opened_here=False)
    kwargs: dict[str, Any] = {"namespace": namespace, "log_to_driver": False, "logging_level": logging.WARNING,
                              "configure_logging": False}
    try:
        if address is None:
            ray.init(include_dashboard=False, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, TimeoutError, ValueError) as exc:
        shown = address if address is not None else "(a local cluster)"
        raise ConfigError(f"--ray {shown}: cannot connect to a Ray cluster: {type(exc).__name__}: {exc}; "
                          f"allowed: {ADDRESS_FORMS}") from None
    return RayConnection(address=address or "local", opened_here=True)


def actor_class(cls: type, **options: Any) -> Any:
    """`cls` as a Ray actor class with `options` (wrapped here, at use, so importing evalkit never needs Ray)."""
    return import_ray().remote(cls).options(**options)


async def resolve(ref: Any) -> Any:
    """Await an ObjectRef from asyncio, in a connected driver and through the Ray client (`ray://`) alike."""
    import asyncio

    return await asyncio.wrap_future(ref.future())
