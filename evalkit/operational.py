"""Operational metrics of model calls: failures, latency, tokens and cost. Pure functions over Generations.

Policies:

- Latency and token means use successful generations only (a failed call has no answer to time or count);
  failures are counted in `failed`. Cached generations keep the latency of their original call.
- `cost_usd` is the total over successful generations plus any failed one that reports a cost (failed calls
  without a cost are taken as unbilled). It is None as soon as one of those costs is unknown: unknown,
  never zero. `cost_per_1k_usd` divides it by the number of successful calls, times 1,000.
- Comparisons pair generations by (sample_id, attempt) and use pairs where both calls succeeded and report
  the quantity compared. Below MIN_ITEMS_FOR_TEST pairs only the point estimate is given (note `too few
  items`); intervals and p-values are paired percentile bootstraps (see evalkit.stats).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from evalkit.records import Comparison, Generation, MetricValue
from evalkit.stats import TOO_FEW_ITEMS, bootstrap_mean_ci, bootstrap_median_ci, has_enough_items, paired_bootstrap

__all__ = ["operational_metrics"]

_Key = tuple[str, int]


def _by_model(generations: Sequence[Generation], models: Sequence[str]) -> dict[str, dict[_Key, Generation]]:
    grouped: dict[str, dict[_Key, Generation]] = {m: {} for m in models}
    for g in generations:
        if g.model not in grouped:
            raise ValueError(f"generation for sample {g.sample_id!r} has model {g.model!r}, which must be "
                             f"among {list(models)}.")
        key = (g.sample_id, g.attempt)
        if key in grouped[g.model]:
            raise ValueError(f"model {g.model!r} has two generations for sample {g.sample_id!r}, "
                             f"attempt {g.attempt}.")
        grouped[g.model][key] = g
    return grouped


def _metric(name: str, value: float | None, n: int, unit: str = "", ci: tuple[float, float] | None = None,
            higher_is_better: bool = False) -> MetricValue:
    low, high = ci if ci is not None else (None, None)
    return MetricValue(name=name, value=value, ci_low=low, ci_high=high, n=n,
                       higher_is_better=higher_is_better, unit=unit)


def _mean_metric(name: str, values: list[float], unit: str, seed: int, n_bootstrap: int,
                 confidence: float) -> MetricValue:
    if not values:
        return _metric(name, None, 0, unit)
    r = bootstrap_mean_ci(values, n_resamples=n_bootstrap, confidence=confidence, seed=seed)
    return _metric(name, r.estimate, len(values), unit, (r.ci_low, r.ci_high))


def _model_metrics(gens: dict[_Key, Generation], seed: int, n_bootstrap: int,
                   confidence: float) -> tuple[MetricValue, ...]:
    all_gens = list(gens.values())
    ok = [g for g in all_gens if g.ok]
    latencies = [g.latency_s for g in ok if g.latency_s is not None]
    out = [
        _metric("n_calls", float(len(all_gens)), len(all_gens), "calls", higher_is_better=True),
        _metric("failed", float(len(all_gens) - len(ok)), len(all_gens), "calls"),
    ]
    if latencies:
        p50 = bootstrap_median_ci(latencies, n_resamples=n_bootstrap, confidence=confidence, seed=seed)
        out.append(_metric("latency_p50_s", p50.estimate, len(latencies), "s", (p50.ci_low, p50.ci_high)))
        out.append(_metric("latency_p95_s", float(np.percentile(latencies, 95)), len(latencies), "s"))
    else:
        out += [_metric("latency_p50_s", None, 0, "s"), _metric("latency_p95_s", None, 0, "s")]
    out.append(_mean_metric("latency_mean_s", latencies, "s", seed, n_bootstrap, confidence))
    for field in ("prompt_tokens", "completion_tokens"):
        counts = [float(getattr(g.usage, field)) for g in ok if getattr(g.usage, field) is not None]
        out.append(_mean_metric(f"{field}_mean", counts, "tokens", seed, n_bootstrap, confidence))
    billed = ok + [g for g in all_gens if not g.ok and g.cost_usd is not None]
    costs = [g.cost_usd for g in billed]
    total = None if not billed or any(c is None for c in costs) else float(sum(costs))
    out.append(_metric("cost_usd", total, len(billed), "USD"))
    per_1k = None if total is None or not ok else total / len(ok) * 1000.0
    out.append(_metric("cost_per_1k_usd", per_1k, len(ok), "USD"))
    return tuple(out)


def _paired(model: dict[_Key, Generation], ref: dict[_Key, Generation],
            value: Callable[[Generation], float | None]) -> tuple[np.ndarray, np.ndarray]:
    """Values of both models on the keys where both succeeded and `value` is known, in a stable order."""
    a, b = [], []
    for key in sorted(model.keys() & ref.keys()):
        gm, gr = model[key], ref[key]
        if gm.ok and gr.ok and value(gm) is not None and value(gr) is not None:
            a.append(value(gm))
            b.append(value(gr))
    return np.asarray(a, dtype=float), np.asarray(b, dtype=float)


def _compare(metric: str, model: str, reference: str, a: np.ndarray, b: np.ndarray,
             statistic: Callable[[np.ndarray, np.ndarray], np.ndarray], seed: int, n_bootstrap: int,
             confidence: float) -> Comparison:
    n = len(a)
    base = dict(metric=metric, model=model, reference=reference, n=n)
    if n == 0:
        return Comparison(**base, delta=None, note="no paired successful calls")
    estimate = float(statistic(a[np.newaxis, :], b[np.newaxis, :])[0])
    if not np.isfinite(estimate):
        return Comparison(**base, delta=None, note="undefined: the reference's value is zero")
    if not has_enough_items(n):
        return Comparison(**base, delta=estimate, note=TOO_FEW_ITEMS)
    try:
        r = paired_bootstrap(statistic, a, b, n_resamples=n_bootstrap, confidence=confidence, seed=seed,
                             null_value=0.0, vectorized=True)
    except ValueError:
        # The ratio is undefined on some resamples (reference zero there): no interval rather than a wrong one.
        return Comparison(**base, delta=estimate, note="no interval: undefined on some resamples")
    return Comparison(**base, delta=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, p_value=r.p_value,
                      test="paired-bootstrap")


def _rel_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return a.mean(axis=-1) / b.mean(axis=-1) - 1.0


def _median_delta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.median(a, axis=-1) - np.median(b, axis=-1)


def operational_metrics(generations: Sequence[Generation], models: Sequence[str], reference: str,
                        seed: int = 0, n_bootstrap: int = 2000, confidence: float = 0.95,
                        ) -> tuple[dict[str, tuple[MetricValue, ...]], tuple[Comparison, ...]]:
    """Per-model call metrics (keyed by model, in `models` order) and comparisons against `reference`.

    Comparisons: `prompt_tokens_rel_change` (mean prompt tokens relative to the reference's, -0.34 meaning
    34% fewer) and `latency_p50_delta_s` (median latency minus the reference's), on paired calls.
    """
    models = list(models)
    if not models or len(set(models)) != len(models):
        raise ValueError(f"models must be a non-empty list of distinct names. Got {models!r} instead.")
    if reference not in models:
        raise ValueError(f"reference must be among {models}. Got {reference!r} instead.")
    grouped = _by_model(generations, models)
    metrics = {m: _model_metrics(grouped[m], seed, n_bootstrap, confidence) for m in models}
    comparisons: list[Comparison] = []
    for m in models:
        if m == reference:
            continue
        a, b = _paired(grouped[m], grouped[reference], lambda g: g.usage.prompt_tokens)
        comparisons.append(_compare("prompt_tokens_rel_change", m, reference, a, b, _rel_change,
                                    seed, n_bootstrap, confidence))
        a, b = _paired(grouped[m], grouped[reference], lambda g: g.latency_s)
        comparisons.append(_compare("latency_p50_delta_s", m, reference, a, b, _median_delta,
                                    seed, n_bootstrap, confidence))
    return metrics, tuple(comparisons)
