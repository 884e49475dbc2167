"""The `markdown_sections` check: the answer has the required Markdown headings, in order, each with content."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from evalkit.checks._base import Check, CheckArgs, CheckResult
from evalkit.checks._citations import fold
from evalkit.records import Sample

__all__ = ["MarkdownSectionsArgs", "MarkdownSectionsCheck", "headings"]

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def headings(text: str) -> list[tuple[int, str, int]]:
    """ATX headings outside code fences, as (level, title, line index), in order."""
    out, fenced = [], False
    for i, line in enumerate(text.splitlines()):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        m = None if fenced else _HEADING.match(line)
        if m:
            out.append((len(m.group(1)), m.group(2).strip(), i))
    return out


def _title(text: str) -> str:
    """A heading title for comparison: folded, emphasis and a trailing colon removed."""
    return fold(re.sub(r"[*_`]", "", text)).rstrip(" :")


class MarkdownSectionsArgs(CheckArgs):
    """Arguments of the `markdown_sections` check."""

    sections: tuple[str, ...] = Field(min_length=1)
    """Required heading titles (compared without case, accents, emphasis or a trailing colon)."""
    level: int | None = Field(default=None, ge=1, le=6)
    """Required heading level (2 for `## ...`); None: any level."""
    in_order: bool = True
    """The sections must appear in the order given."""
    non_empty: bool = True
    """Each section must have some text before the next heading."""

    @field_validator("sections")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len({_title(v) for v in value}) != len(value):
            raise ValueError(f"section titles must be distinct, got {list(value)}")
        return value


def _longest_increasing(positions: list[int]) -> int:
    """Length of the longest strictly increasing subsequence (n is a handful of sections)."""
    best: list[int] = []
    for i, p in enumerate(positions):
        best.append(1 + max((best[j] for j in range(i) if positions[j] < p), default=0))
    return max(best, default=0)


class MarkdownSectionsCheck(Check):
    """Score: the share of required sections present (with content, at the level, in order); met: all of them."""

    Args = MarkdownSectionsArgs
    args: MarkdownSectionsArgs

    def run(self, answer: str, sample: Sample) -> CheckResult:
        """Find each required heading's first occurrence and whether text follows it."""
        a = self.args
        lines = answer.splitlines()
        found = [h for h in headings(answer) if a.level is None or h[0] == a.level]
        bounds = [h[2] for h in headings(answer)] + [len(lines)]
        present: dict[str, int] = {}
        empty: list[str] = []
        for want in a.sections:
            hit = next((h for h in found if _title(h[1]) == _title(want)), None)
            if hit is None:
                continue
            end = min(b for b in bounds if b > hit[2])
            if a.non_empty and not any(line.strip() for line in lines[hit[2] + 1:end]):
                empty.append(want)
                continue
            present[want] = hit[2]
        positions = [present[s] for s in a.sections if s in present]
        good = _longest_increasing(positions) if a.in_order else len(positions)
        missing = [s for s in a.sections if s not in present and s not in empty]
        details = {"present": [s for s in a.sections if s in present], "missing": missing, "empty": empty,
                   "in_order": good == len(positions)}
        return CheckResult(met=good == len(a.sections), score=good / len(a.sections), details=details)
