"""Summary pieces shared by the judge tasks: result checks, a mean with its CI, a paired score comparison."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evalkit.records import Comparison, MetricValue, Sample, SampleResult
from evalkit.stats import (
    TOO_FEW_ITEMS,
    bootstrap_mean_ci,
    has_enough_items,
    paired_bootstrap,
    wilcoxon_signed_rank,
    wilson_interval,
)
from evalkit.tasks.base import SummaryContext, check_results

__all__ = ["SCORE_TEST", "check_results", "mean_metric", "paired_score_comparison", "rate_metric"]

SCORE_TEST = "wilcoxon-signed-rank"
"""The test behind a judge score comparison's p-value (its CI is a paired bootstrap)."""



def mean_metric(name: str, values: Sequence[float], ctx: SummaryContext, *, unit: str = "") -> MetricValue:
    """The mean of `values` with a bootstrap CI; value None (never NaN) without any value."""
    if not values:
        return MetricValue(name=name, value=None, n=0, unit=unit)
    r = bootstrap_mean_ci(np.asarray(values, dtype=float), n_resamples=ctx.n_bootstrap, confidence=ctx.confidence,
                          seed=ctx.seed)
    return MetricValue(name=name, value=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, n=len(values), unit=unit)


def rate_metric(name: str, k: int, n: int, ctx: SummaryContext, *, higher_is_better: bool | None) -> MetricValue:
    """k/n with a Wilson interval; value None without items."""
    if n == 0:
        return MetricValue(name=name, value=None, n=0, higher_is_better=higher_is_better)
    low, high = wilson_interval(k, n, ctx.confidence)
    return MetricValue(name=name, value=k / n, ci_low=low, ci_high=high, n=n, higher_is_better=higher_is_better)


def paired_score_comparison(metric: str, model: str, own: Sequence[float], opponent: Sequence[float],
                            ctx: SummaryContext, *, empty_note: str) -> Comparison:
    """Mean paired difference own - opponent: bootstrap CI, Wilcoxon signed-rank p-value (few items: delta only)."""
    n = len(own)
    if n == 0:
        return Comparison(metric=metric, model=model, reference=ctx.reference, delta=None, n=0, note=empty_note)
    a, b = np.asarray(own, dtype=float), np.asarray(opponent, dtype=float)
    delta = float(np.mean(a - b))
    if not has_enough_items(n):
        return Comparison(metric=metric, model=model, reference=ctx.reference, delta=delta, n=n, note=TOO_FEW_ITEMS)
    boot = paired_bootstrap(lambda x, y: (x - y).mean(axis=-1), a, b, n_resamples=ctx.n_bootstrap,
                            confidence=ctx.confidence, seed=ctx.seed, null_value=0.0, vectorized=True)
    w = wilcoxon_signed_rank(a, b)
    note = "CI: paired bootstrap; p: Wilcoxon signed-rank" + (f" ({w.note})" if w.note else "")
    return Comparison(metric=metric, model=model, reference=ctx.reference, delta=delta, ci_low=boot.ci_low,
                      ci_high=boot.ci_high, p_value=w.p_value, test=SCORE_TEST, n=n, note=note)
