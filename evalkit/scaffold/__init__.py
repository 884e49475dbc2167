"""`evalkit init --data FILE`: a commented suite file drafted from a fine-tuning file or a table (docs/init.md).

    from evalkit.scaffold import init_suite
    result = init_suite(Path("valid.jsonl"))      # writes benchmarks/valid/suite.yaml
    print(result.command)                         # evalkit run benchmarks/valid/suite.yaml --models base,ft
"""

from __future__ import annotations

from evalkit.scaffold._data import DataProfile, read_data
from evalkit.scaffold._draft import (
    SuiteDraft,
    TaskChoice,
    build_draft,
    choose_task,
    default_name,
    render_suite,
)
from evalkit.scaffold._init import InitResult, init_suite

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
