"""Tasks: one module per kind of evaluation, registered here by name.

A task factory takes the suite's `task_args` mapping (and the suite file path, for error messages) and
returns a `Task` (evalkit.tasks.base). Third-party tasks register through the entry-point group
`evalkit.tasks` (`name = "package.module:create"`; a Task subclass taking the same two arguments works too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evalkit.errors import ConfigError
from evalkit.registry import Registry
from evalkit.tasks.base import (
    ItemMetric,
    JudgeNeed,
    RunPolicy,
    ScoringContext,
    SummaryContext,
    Task,
    check_results,
    scored_items,
)

__all__ = ["ItemMetric", "JudgeNeed", "RunPolicy", "ScoringContext", "SummaryContext", "Task", "TaskFactory",
           "check_results", "create_task", "scored_items", "tasks"]

TaskFactory = Callable[[Mapping[str, Any], Path], Task]

tasks: Registry[TaskFactory] = Registry("task", "evalkit.tasks")

tasks.register_lazy("classification", "evalkit.tasks.classification:create")
tasks.register_lazy("latency", "evalkit.tasks.latency:create")
tasks.register_lazy("pairwise_judge", "evalkit.tasks.pairwise:create")
tasks.register_lazy("rubric_judge", "evalkit.tasks.rubric:create")
tasks.register_lazy("translation", "evalkit.tasks.translation:create")
tasks.register_lazy("multiple_choice", "evalkit.tasks.multiple_choice:create")
tasks.register_lazy("reference_match", "evalkit.tasks.reference_match:create")
tasks.register_lazy("rewrite", "evalkit.tasks.rewrite:create")


def create_task(name: str, args: Mapping[str, Any], suite_path: Path) -> Task:
    """Build the task `name` from its suite arguments; ConfigError when the factory does not give a Task."""
    task = tasks.get(name, where=str(suite_path))(args, suite_path)
    if not isinstance(task, Task):
        raise ConfigError(f"{suite_path}: task '{name}' built a {type(task).__name__}, which is not an "
                          f"evalkit.tasks.Task (derive from it and implement `score` and `summarize`)")
    if not task.name:
        raise ConfigError(f"{suite_path}: task '{name}' ({type(task).__name__}) has no `name`")
    return task
