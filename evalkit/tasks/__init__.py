"""Tasks: one module per kind of evaluation, registered here by name.

A task factory takes the suite's `task_args` mapping (and the suite file path, for error messages) and
returns a Task. Third-party tasks register through the entry-point group `evalkit.tasks`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from pathlib import Path
from typing import Any

from evalkit.registry import Registry
from evalkit.tasks.base import ScoringContext, SummaryContext, Task

__all__ = ["ScoringContext", "SummaryContext", "Task", "TaskFactory", "create_task", "tasks"]

TaskFactory = Callable[[Mapping[str, Any], Path], Task]

tasks: Registry[TaskFactory] = Registry("task", "evalkit.tasks")


def _lazy(module: str, factory: str) -> TaskFactory:
    def make(args: Mapping[str, Any], suite_path: Path) -> Task:
        return getattr(import_module(module), factory)(args, suite_path)

    return make


tasks.register("classification")(_lazy("evalkit.tasks.classification", "create"))
tasks.register("latency")(_lazy("evalkit.tasks.latency", "create"))
tasks.register("pairwise_judge")(_lazy("evalkit.tasks.pairwise", "create"))
tasks.register("rubric_judge")(_lazy("evalkit.tasks.rubric", "create"))
tasks.register("translation")(_lazy("evalkit.tasks.translation", "create"))
tasks.register("multiple_choice")(_lazy("evalkit.tasks.multiple_choice", "create"))
tasks.register("reference_match")(_lazy("evalkit.tasks.reference_match", "create"))
tasks.register("rewrite")(_lazy("evalkit.tasks.rewrite", "create"))


def create_task(name: str, args: Mapping[str, Any], suite_path: Path) -> Task:
    """Build the task `name` from its suite arguments."""
    return tasks.get(name, where=str(suite_path))(args, suite_path)
