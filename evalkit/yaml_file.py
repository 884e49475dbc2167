"""The one YAML reader of evalkit's own files (suites, judges, gates, study tasks, front matter).

YAML errors become one ConfigError line naming the file and line (PyYAML's own message spans several lines
and shows the source); a file that must hold a mapping says so when it does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evalkit.errors import ConfigError
from evalkit.user_errors import one_line

__all__ = ["parse_yaml", "read_yaml_mapping"]


def parse_yaml(text: str, where: str) -> Any:
    """The YAML document in `text`; ConfigError `<where>:<line>: invalid YAML: <problem>` when it is not one."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)  # only marked errors (scanner, parser) carry a position
        at = f"{where}:{mark.line + 1}" if mark is not None else where
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(one_line(f"{at}: invalid YAML: {problem}")) from None


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping (`what` names the kind of file in messages, e.g. `a suite file`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    raw = parse_yaml(text, str(path))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {what} must be a YAML mapping, got {type(raw).__name__}")
    return raw
