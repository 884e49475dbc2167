"""One small registry class, used once per extension point (providers, tasks, checks, trackers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from evalkit.errors import ConfigError
from evalkit.user_errors import unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; unknown names get a one-line error with close matches.

    Built-in entries are registered as `"module:attribute"` targets and imported on first use, so an
    extension's dependencies (a vendor SDK) load only when a run needs it. Third-party packages extend a
    registry through the entry-point group `group` (e.g.
    `[project.entry-points."evalkit.tasks"] mytask = "mypkg.tasks:create"`), loaded the same lazy way.
    """

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._targets: dict[str, str] = {}
        self._entry_points_loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers `obj` under `name`."""

        def decorate(obj: T) -> T:
            if (name in self._items and self._items[name] is not obj) or name in self._targets:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self._items[name] = obj
            return obj

        return decorate

    def register_lazy(self, name: str, target: str) -> None:
        """Register `module:attribute`, imported the first time `name` is looked up."""
        if name in self._items or name in self._targets:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._targets[name] = target

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name not in self._items and ep.name not in self._targets:
                self._targets[ep.name] = ep.value

    def get(self, name: str, *, where: str = "") -> T:
        """The object registered as `name`; a ConfigError with close matches when there is none."""
        self._load_entry_points()
        if name in self._items:
            return self._items[name]
        target = self._targets.get(name)
        if target is None:
            raise unknown_name(self.kind, name, self.names(), where=where)
        module, _, attribute = target.partition(":")
        try:
            obj = import_module(module)
            for part in attribute.split(".") if attribute else ():
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{where + ': ' if where else ''}{self.kind} '{name}' is registered as {target!r}, "
                              f"which cannot be loaded: {type(exc).__name__}: {exc}") from None
        self._items[name] = obj  # type: ignore[assignment]
        del self._targets[name]
        return obj  # type: ignore[return-value]

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load_entry_points()
        return sorted({*self._items, *self._targets})

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
