"""Run history: list the runs in a folder, write its index.html, and compare two runs (docs/run-history.md).

    from evalkit.history import compare_runs, write_comparison, write_index
    write_index(Path("reports"))                       # reports/index.html, after each run
    cmp = compare_runs("reports/news-20250101-100000", "reports/news-20250108-100000")
    write_comparison(cmp).html                         # paired deltas, changed items, config differences
"""

from __future__ import annotations

from evalkit.history._compare import (
    ChangedItem,
    ConfigRow,
    MetricDelta,
    PairComparison,
    RunComparison,
    RunSide,
    compare_runs,
)
from evalkit.history._entries import ModelHeadline, RunEntry, headline_metric, list_runs
from evalkit.history._render import (
    comparison_document,
    render_comparison_html,
    render_comparison_markdown,
    render_index,
)
from evalkit.history._write import (
    ComparisonPaths,
    default_comparison_dir,
    write_comparison,
    write_index,
)

__all__ = [
    "ChangedItem",
    "ComparisonPaths",
    "ConfigRow",
    "MetricDelta",
    "ModelHeadline",
    "PairComparison",
    "RunComparison",
    "RunEntry",
    "RunSide",
    "compare_runs",
    "comparison_document",
    "default_comparison_dir",
    "headline_metric",
    "list_runs",
    "render_comparison_html",
    "render_comparison_markdown",
    "render_index",
    "write_comparison",
    "write_index",
]
