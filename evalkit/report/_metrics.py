"""What a report shows per model: the task summary's metrics (task metrics first, then the operational ones of
evalkit.operational's table) and call counts, in a fixed order.

The report renders the summary; it never computes a metric (the metrics stage added the operational ones
to every summary when the run was scored).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.operational import is_operational
from evalkit.records import MetricValue, RunResult

__all__ = ["CallStats", "call_stats", "is_operational", "latencies", "metric_names", "metrics_by_model",
           "model_order"]


@dataclass(frozen=True)
class CallStats:
    """How one model's calls went."""

    total: int
    failed: int
    cached: int
    retries: int


def model_order(run: RunResult) -> tuple[str, ...]:
    """Model names in `--models` order, then any model only the summary or generations mention."""
    names: list[str] = [str(m.get("name", "")) for m in run.info.models if m.get("name")]
    for name in [*run.summary.metrics, *(g.model for g in run.generations)]:
        if name not in names:
            names.append(name)
    return tuple(names)


def metrics_by_model(run: RunResult) -> dict[str, dict[str, MetricValue]]:
    """Every model's metrics by name, as the summary holds them."""
    out: dict[str, dict[str, MetricValue]] = {}
    for model in model_order(run):
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


def call_stats(run: RunResult) -> dict[str, CallStats]:
    """Calls, failures, cache hits and retries per model, for every model in order."""
    counts = {m: [0, 0, 0, 0] for m in model_order(run)}
    for g in run.generations:
        c = counts.setdefault(g.model, [0, 0, 0, 0])
        c[0] += 1
        c[1] += not g.ok
        c[2] += g.cached
        c[3] += g.retries
    return {m: CallStats(total=c[0], failed=c[1], cached=c[2], retries=c[3]) for m, c in counts.items()}


def latencies(run: RunResult) -> dict[str, list[float]]:
    """Latencies in seconds of each model's successful calls, for every model in order."""
    out: dict[str, list[float]] = {m: [] for m in model_order(run)}
    for g in run.generations:
        if g.ok and g.latency_s is not None and np.isfinite(g.latency_s):
            out.setdefault(g.model, []).append(float(g.latency_s))
    return out
