"""The `regex` check: a regular expression must match the answer a bounded number of times."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator, model_validator

from evalkit.checks._base import Check, CheckArgs, CheckResult
from evalkit.records import Sample

__all__ = ["RegexArgs", "RegexCheck"]

Flag = Literal["IGNORECASE", "MULTILINE", "DOTALL"]


class RegexArgs(CheckArgs):
    """Arguments of the `regex` check (Python `re` syntax)."""

    pattern: str
    flags: tuple[Flag, ...] = ()
    min_count: int = Field(default=1, ge=0)
    """Fewest non-overlapping matches for the answer to meet the criterion."""
    max_count: int | None = Field(default=None, ge=0)
    """Most matches allowed (0 with min_count 0: the pattern is forbidden)."""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _bounds(self) -> RegexArgs:
        if self.max_count is not None and self.max_count < self.min_count:
            raise ValueError(f"max_count ({self.max_count}) must be >= min_count ({self.min_count})")
        return self


class RegexCheck(Check):
    """Met (score 1) when the number of matches lies within [min_count, max_count]."""

    Args = RegexArgs
    args: RegexArgs

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        flags = 0
        for name in self.args.flags:
            flags |= getattr(re, name)
        return re.compile(self.args.pattern, flags)

    def run(self, answer: str, sample: Sample) -> CheckResult:
        """Count the matches; details give the count and the first few matches."""
        matches = [m.group(0) for m in self._regex.finditer(answer)]
        n = len(matches)
        met = n >= self.args.min_count and (self.args.max_count is None or n <= self.args.max_count)
        return CheckResult(met=met, score=float(met), details={"count": n, "matches": matches[:5]})
