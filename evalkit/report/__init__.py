"""Reports of a run: a self-contained HTML page, summary.md and a versioned results.json."""

from __future__ import annotations

from evalkit.report._sections import ReportSection
from evalkit.report._write import ReportPaths, write_report
from evalkit.report.html import render_html
from evalkit.report.markdown import render_markdown
from evalkit.report.results_json import SCHEMA_PATH, SCHEMA_VERSION, results_document

__all__ = [
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "ReportPaths",
    "ReportSection",
    "render_html",
    "render_markdown",
    "results_document",
    "write_report",
]
