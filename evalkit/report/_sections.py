"""Extra report sections: results that live beside a run rather than in its task summary (e.g. imported human
verdicts, `evalkit human import`), rendered after the task's tables by the HTML and Markdown reports.

A section is plain data (title, text, tables, notes); the renderers escape every string in it like any other
run data, so a section never carries markup.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.records import Table

__all__ = ["ReportSection"]


@dataclass(frozen=True)
class ReportSection:
    """One extra section of a report."""

    anchor: str
    """The section's HTML id (letters, digits and `-`), also its navigation link."""
    title: str
    intro: str = ""
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()
