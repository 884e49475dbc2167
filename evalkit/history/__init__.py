"""Run history: list the runs in a folder, write its index.html, and compare two runs (docs/run-history.md).

    from evalkit.history import compare_runs, write_comparison, write_index
    write_index(Path("reports"))                       # reports/index.html, after each run
    cmp = compare_runs("reports/news-20250101-100000", "reports/news-20250108-100000")
    write_comparison(cmp).html                         # paired deltas, changed items, config differences
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Public names live in private modules and are imported on first use: `evalkit --help` must not pay for
# pandas, the tasks and the statistics that a comparison needs.
_LAZY = {
    "ChangedItem": "_compare", "ConfigRow": "_compare", "MetricDelta": "_compare", "PairComparison": "_compare",
    "RunComparison": "_compare", "RunSide": "_compare", "compare_runs": "_compare",
    "ModelHeadline": "_entries", "RunEntry": "_entries", "headline_metric": "_entries", "list_runs": "_entries",
    "comparison_document": "_render", "render_comparison_html": "_render", "render_comparison_markdown": "_render",
    "render_index": "_render",
    "ComparisonPaths": "_write", "default_comparison_dir": "_write", "write_comparison": "_write",
    "write_index": "_write",
}

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"evalkit.history.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'evalkit.history' has no attribute {name!r}")
