"""What a report shows per model: the task summary's metrics (task metrics first, then the operational ones of
evalkit.operational's table) and call counts, in a fixed order.

The report renders the summary; it never computes a metric (the metrics stage added the operational ones
to every summary when the run was scored).
"""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.operational import is_operational
from evalkit.records import MetricValue, RunResult
from evalkit.report._data import CallStats, ReportData, declared_models, report_data

__all__ = ["CallStats", "call_stats", "is_operational", "latencies", "metric_names", "metrics_by_model",
           "model_order"]


def model_order(run: RunResult, data: ReportData | None = None) -> tuple[str, ...]:
    """Model names in `--models` order, then any model only the summary or the generations mention."""
    if data is not None:
        return data.models
    names = declared_models(run)
    for g in run.generations:
        if g.model not in names:
            names.append(g.model)
    return tuple(names)


def metrics_by_model(run: RunResult, models: Sequence[str] | None = None) -> dict[str, dict[str, MetricValue]]:
    """Every model's metrics by name, as the summary holds them (for `models`, default every model in order)."""
    out: dict[str, dict[str, MetricValue]] = {}
    for model in models if models is not None else model_order(run):
        metrics: dict[str, MetricValue] = {}
        for mv in run.summary.metrics.get(model, ()):
            metrics.setdefault(mv.name, mv)
        out[model] = metrics
    return out


def metric_names(metrics: dict[str, dict[str, MetricValue]]) -> tuple[str, ...]:
    """All metric names: the task's first, then operational ones, each group in first-seen order."""
    seen: list[str] = []
    for per_model in metrics.values():
        for name in per_model:
            if name not in seen:
                seen.append(name)
    return tuple([n for n in seen if not is_operational(n)] + [n for n in seen if is_operational(n)])


def call_stats(run: RunResult, data: ReportData | None = None) -> dict[str, CallStats]:
    """Calls, failures, cache hits and retries per model, for every model in order."""
    return dict((data or report_data(run)).calls)


def latencies(run: RunResult, data: ReportData | None = None) -> dict[str, list[float]]:
    """Latencies in seconds of each model's successful calls, for every model in order."""
    return {m: v.tolist() for m, v in (data or report_data(run)).latencies.items()}
