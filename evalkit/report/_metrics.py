"""What a report shows per model: the task's metrics, operational ones, and call counts, in a fixed order.

Operational metrics (latency percentiles, tokens, cost) are taken from the task summary when it has them;
otherwise they are derived here from the stored generations, as point estimates without a CI, so every
report shows them whichever task produced the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evalkit.records import Generation, MetricValue, RunResult

OPERATIONAL_PREFIXES = ("latency", "cost", "prompt_tokens", "completion_tokens", "total_tokens", "failed",
                        "n_calls", "calls", "retries", "cached")
"""Metric names starting with one of these are operational and come after the task's own metrics."""


def is_operational(metric: str) -> bool:
    """True for a metric about the calls (time, tokens, money) rather than about answer quality."""
    return metric.startswith(OPERATIONAL_PREFIXES)


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
    """Every model's metrics by name: the summary's, plus derived operational ones it lacks."""
    by_model: dict[str, list[Generation]] = {}
    for g in run.generations:
        by_model.setdefault(g.model, []).append(g)
    out: dict[str, dict[str, MetricValue]] = {}
    for model in model_order(run):
        metrics: dict[str, MetricValue] = {}
        for mv in run.summary.metrics.get(model, ()):
            metrics.setdefault(mv.name, mv)
        for mv in _operational(by_model.get(model, [])):
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


def _operational(gens: Sequence[Generation]) -> list[MetricValue]:
    ok = [g for g in gens if g.ok]
    if not ok:
        return []
    out: list[MetricValue] = []
    lat = np.array([g.latency_s for g in ok if g.latency_s is not None], dtype=float)
    lat = lat[np.isfinite(lat)]
    if lat.size:
        for q in (50, 95):
            out.append(MetricValue(name=f"latency_p{q}_s", value=float(np.percentile(lat, q)), n=int(lat.size),
                                   higher_is_better=False, unit="s"))
    for field in ("prompt_tokens", "completion_tokens"):
        counts = [getattr(g.usage, field) for g in ok if getattr(g.usage, field) is not None]
        if counts:
            out.append(MetricValue(name=f"{field}_mean", value=float(np.mean(counts)), n=len(counts),
                                   higher_is_better=False, unit="tokens"))
    costs = [g.cost_usd for g in ok]
    # One unpriced call makes the total unknown: a partial sum would read as a (too low) real cost.
    total = None if any(c is None for c in costs) else float(sum(c for c in costs if c is not None))
    out.append(MetricValue(name="cost_usd", value=total, n=len(costs), higher_is_better=False, unit="$"))
    return out
