"""One small registry class, used once per extension point (providers, tasks)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from evalkit.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories; unknown names get a 'did you mean' error.

    Third-party packages extend a registry through the entry-point group `group`
    (e.g. `[project.entry-points."evalkit.tasks"] mytask = "mypkg.tasks:MyTask"`).
    """

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._entry_points_loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers `obj` under `name`."""

        def decorate(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self._items[name] = obj
            return obj

        return decorate

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name not in self._items:
                self._items[ep.name] = ep.load()

    def get(self, name: str, *, where: str = "") -> T:
        """The object registered as `name`; a ConfigError with close matches when there is none."""
        self._load_entry_points()
        if name in self._items:
            return self._items[name]
        close = difflib.get_close_matches(name, self._items, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        loc = f"{where}: " if where else ""
        raise ConfigError(f"{loc}unknown {self.kind} '{name}'. Known: {', '.join(sorted(self._items))}.{hint}")

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load_entry_points()
        return sorted(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
