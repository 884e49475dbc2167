"""The `length` check: the answer's length in characters and/or words lies within bounds."""

from __future__ import annotations

from pydantic import Field, model_validator

from evalkit.checks._base import Check, CheckArgs, CheckResult
from evalkit.records import Sample

__all__ = ["LengthArgs", "LengthCheck"]


class LengthArgs(CheckArgs):
    """Arguments of the `length` check; at least one bound. Lengths are of the stripped answer."""

    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, ge=0)
    min_words: int | None = Field(default=None, ge=0)
    max_words: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> LengthArgs:
        if all(v is None for v in (self.min_chars, self.max_chars, self.min_words, self.max_words)):
            raise ValueError("give at least one of min_chars, max_chars, min_words, max_words")
        for low, high in (("min_chars", "max_chars"), ("min_words", "max_words")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and hi < lo:
                raise ValueError(f"{high} ({hi}) must be >= {low} ({lo})")
        return self


class LengthCheck(Check):
    """Met (score 1) when every given bound holds."""

    Args = LengthArgs
    args: LengthArgs

    def run(self, answer: str, sample: Sample) -> CheckResult:
        """Measure characters and whitespace-separated words; details name the bounds that failed."""
        a, text = self.args, answer.strip()
        chars, words = len(text), len(text.split())
        failed = [name for name, ok in (
            ("min_chars", a.min_chars is None or chars >= a.min_chars),
            ("max_chars", a.max_chars is None or chars <= a.max_chars),
            ("min_words", a.min_words is None or words >= a.min_words),
            ("max_words", a.max_words is None or words <= a.max_words)) if not ok]
        return CheckResult(met=not failed, score=float(not failed),
                           details={"chars": chars, "words": words, "failed": failed})
