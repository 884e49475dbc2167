"""Moved: the helpers judged tasks share are public in evalkit.tasks.judged.

This alias keeps `evalkit/tasks/translation.py` and `evalkit/tasks/rewrite.py` (not the judging engineer's
files) importing until they switch to `from evalkit.tasks.judged import ...`; then delete this module. It is
the only place in evalkit.judging that imports from evalkit.tasks.
"""

from __future__ import annotations

from evalkit.tasks.judged import (
    JudgeTaskArgs,
    LoadedJudge,
    item_basics,
    load_task_judge,
    parse_task_args,
)

__all__ = ["JudgeTaskArgs", "LoadedJudge", "item_basics", "load_task_judge", "parse_task_args"]
