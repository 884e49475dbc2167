"""Metrics: pure functions from labels or scores to numbers, one module per kind of task."""

from evalkit.metrics.classification import (
    INVALID,
    ClassificationMetrics,
    ClassReport,
    classification_metrics,
    normalize_label,
    parse_label,
)

__all__ = [
    "INVALID",
    "ClassReport",
    "ClassificationMetrics",
    "classification_metrics",
    "normalize_label",
    "parse_label",
]
