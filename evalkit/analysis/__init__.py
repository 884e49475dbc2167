"""Run directories as pandas DataFrames, for notebooks (docs/analysis.md).

    from evalkit.analysis import load_metrics, load_samples, wide_samples
    metrics = load_metrics("reports")                 # every run below reports/
    samples = load_samples("reports/news-20250101-100000")
    wide_samples(samples, "correct")                  # one column per model

Every loader takes a run directory or a folder of run directories and returns a frame with the stable
columns and dtypes of its `*_COLUMNS` mapping.
"""

from __future__ import annotations

from evalkit.analysis._frames import (
    COMPARISON_COLUMNS,
    JUDGMENT_COLUMNS,
    METRIC_COLUMNS,
    RUN_COLUMNS,
    SAMPLE_COLUMNS,
    data_sha256,
    load_comparisons,
    load_judgments,
    load_metrics,
    load_runs,
    load_samples,
    load_samples_wide,
    prompt_sha256,
    wide_samples,
)
from evalkit.store import find_run_dirs

__all__ = [
    "COMPARISON_COLUMNS",
    "JUDGMENT_COLUMNS",
    "METRIC_COLUMNS",
    "RUN_COLUMNS",
    "SAMPLE_COLUMNS",
    "data_sha256",
    "find_run_dirs",
    "load_comparisons",
    "load_judgments",
    "load_metrics",
    "load_runs",
    "load_samples",
    "load_samples_wide",
    "prompt_sha256",
    "wide_samples",
]
