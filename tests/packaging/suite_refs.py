"""What a suite file names on disk: the path-like strings in it, and whether they stay inside the bundle.

A string counts as a path when it has no whitespace and ends with a data-file suffix or starts with `.`/`/`
(templates and descriptions contain slashes and spaces; hub ids, `owner/name`, are not paths).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

import yaml

__all__ = ["outside_references", "path_references"]

_SUFFIX = re.compile(r"\.(csv|tsv|jsonl?|ya?ml|md|gguf|parquet|txt|png)$", re.IGNORECASE)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def path_references(text: str) -> list[str]:
    """The path-like strings of one YAML document."""
    return [s for s in _strings(yaml.safe_load(text)) if not re.search(r"\s", s) and s
            and (_SUFFIX.search(s) or s.startswith((".", "/", "~")))]


def outside_references(suite_file: str, text: str, root: str) -> list[str]:
    """The references of a suite file (a posix path under `root`) that resolve outside `root`."""
    folder = posixpath.dirname(suite_file)
    out = []
    for ref in path_references(text):
        inside = posixpath.relpath(posixpath.normpath(posixpath.join(folder, ref)), root)
        if ref.startswith(("/", "~")) or inside == ".." or inside.startswith("../"):
            out.append(ref)
    return out
