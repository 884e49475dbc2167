"""Where evalkit looks for project folders (suites, judges) by name."""

from __future__ import annotations

import os
from pathlib import Path

from evalkit.resources import bundled_dir


def search_dirs(env_var: str, folder: str) -> list[Path]:
    """Existing folders, first match wins: each path in $env_var, ./folder, then the bundled `folder` (the one
    the installed package carries, see evalkit.resources). A user's folders thus override the bundled ones."""
    dirs = [Path(p) for p in os.environ.get(env_var, "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / folder)
    bundled = bundled_dir(folder)
    if bundled is not None:
        dirs.append(bundled)
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in seen:
            seen.append(d.resolve())
    return seen
