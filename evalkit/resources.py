"""The suites, judge files and demo adapters that ship with evalkit, found through the package's own resources.

The repository keeps them at its top level (`benchmarks/`, `judges/`, `adapters/`): the build (setup.py) maps
them into the package as `evalkit/_bundled/<folder>/`, so the wheel and the sdist carry them and an installed
evalkit finds them with importlib.resources from any working directory. A source checkout (an editable
install) has no `_bundled/`: there they are read where they are, at the checkout's top level.

Inside `_bundled/` the three folders keep the repository's layout, so a suite's relative paths (its data
files, `../../adapters/NAME/adapter.gguf`) mean the same installed or not.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from pathlib import Path

__all__ = ["BUNDLED_DIR", "BUNDLED_FOLDERS", "bundled_dir", "bundled_root"]

BUNDLED_DIR = "_bundled"
"""The folder inside the installed package that holds the bundled folders (see setup.py)."""

BUNDLED_FOLDERS = ("benchmarks", "judges", "adapters")
"""What the distribution bundles: suites with their data, judge files, demo LoRA adapters."""


@cache
def bundled_root() -> Path | None:
    """The folder holding `benchmarks/`, `judges/` and `adapters/` for this installation, or None.

    An installed package: `evalkit/_bundled` (importlib.resources; pip always installs unpacked, so it is a
    real folder). A source checkout: the checkout itself, recognised by its pyproject.toml naming evalkit, so
    a stray `benchmarks/` folder beside an installed package in site-packages is never mistaken for ours.
    """
    resource = files("evalkit") / BUNDLED_DIR
    if isinstance(resource, Path) and resource.is_dir():
        return resource
    checkout = Path(__file__).resolve().parent.parent
    return checkout if _is_evalkit_checkout(checkout) else None


def bundled_dir(folder: str) -> Path | None:
    """One bundled folder (`benchmarks`, `judges` or `adapters`), or None when this installation has none."""
    if folder not in BUNDLED_FOLDERS:
        raise ValueError(f"not a bundled folder: {folder!r} (bundled: {', '.join(BUNDLED_FOLDERS)})")
    root = bundled_root()
    if root is None or not (root / folder).is_dir():
        return None
    return root / folder


def _is_evalkit_checkout(folder: Path) -> bool:
    try:
        project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False
    return project.get("name") == "evalkit"
