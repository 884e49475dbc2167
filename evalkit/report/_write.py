"""Writing a run's report files: each one atomically, so a reader never sees half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit.records import RunResult
from evalkit.report._chart_cache import ChartCache
from evalkit.report._data import ITEMS_DIR, report_data
from evalkit.report._sections import ReportSection
from evalkit.report.html import render_html_chunks
from evalkit.report.markdown import render_markdown
from evalkit.report.results_json import dumps, results_document


@dataclass(frozen=True)
class ReportPaths:
    """Where write_report put each file."""

    html: Path
    markdown: Path
    json: Path
    items: Path
    """The folder of items files the page's explorer loads."""


def write_report(run: RunResult, out_dir: Path, sections: Sequence[ReportSection] = ()) -> ReportPaths:
    """Write report.html, summary.md and results.json for `run` into `out_dir` (created if missing), and every
    item into `out_dir/report-items/` for the page's explorer; `sections` (e.g. imported human verdicts) are
    shown after the task's tables in the HTML and Markdown reports.

    The run's records are read once (evalkit.report._data.report_data: one pass over the generations, one over
    the items); all three files render from the summary and what that pass kept.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(html=out_dir / "report.html", markdown=out_dir / "summary.md",
                        json=out_dir / "results.json", items=out_dir / ITEMS_DIR)
    charts = ChartCache(paths.items)  # the previous render's charts, read before the folder is replaced
    data = report_data(run, paths.items)
    # results.json first: it is what CI gates read, and the cheapest to produce.
    write_atomic(paths.json, dumps(results_document(run, data)))
    write_atomic(paths.markdown, render_markdown(run, sections, data))
    write_atomic(paths.html, render_html_chunks(run, sections, data, charts))
    charts.save(paths.items)
    return paths


def write_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Write `text` (a string, or pieces of one) to `path` through a temporary file in the same directory and
    os.replace."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            if isinstance(text, str):
                f.write(text)
            else:
                for piece in text:
                    f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
