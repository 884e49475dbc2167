"""`evalkit init --data FILE`: a commented suite file drafted from a fine-tuning file or a table (docs/init.md).

    from evalkit.scaffold import init_suite
    result = init_suite(Path("valid.jsonl"))      # writes benchmarks/valid/suite.yaml
    print(result.command)                         # evalkit run benchmarks/valid/suite.yaml --models base,ft
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Imported on first use, so the CLI's parser does not load the loaders and the chat-format validator.
_LAZY = {
    "DataProfile": "_data", "read_data": "_data",
    "SuiteDraft": "_draft", "TaskChoice": "_draft", "build_draft": "_draft", "choose_task": "_draft",
    "default_name": "_draft", "render_suite": "_draft",
    "InitResult": "_init", "init_suite": "_init",
}

__all__ = [
    "DataProfile",
    "InitResult",
    "SuiteDraft",
    "TaskChoice",
    "build_draft",
    "choose_task",
    "default_name",
    "init_suite",
    "read_data",
    "render_suite",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"evalkit.scaffold.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'evalkit.scaffold' has no attribute {name!r}")
