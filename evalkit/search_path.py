"""Where evalkit looks for project folders (suites, judges) by name."""

from __future__ import annotations

import os
from pathlib import Path


def search_dirs(env_var: str, folder: str) -> list[Path]:
    """Existing folders, in order: each path in $env_var, ./folder, then the project's own `folder`."""
    dirs = [Path(p) for p in os.environ.get(env_var, "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / folder)
    dirs.append(Path(__file__).resolve().parent.parent / folder)
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in seen:
            seen.append(d.resolve())
    return seen
