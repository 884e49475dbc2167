"""Operational metrics of model calls: failures, latency, tokens and cost. Pure functions over Generations.

`OPERATIONAL_METRICS` is the one table of them (name, unit, direction, the per-call quantity and the statistic
over calls): the metrics stage computes them from it, the latency task takes its definitions from it, the
report orders and labels by it, and gates recompute paired differences of them from it.

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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evalkit.records import Comparison, Generation, MetricValue
from evalkit.stats import TOO_FEW_ITEMS, bootstrap_mean_ci, bootstrap_median_ci, has_enough_items, paired_bootstrap

__all__ = ["OPERATIONAL_COMPARISONS", "OPERATIONAL_METRICS", "OperationalMetric", "call_values", "is_operational",
           "operational_metrics"]

Statistic = Callable[[np.ndarray], np.ndarray]
"""A statistic over calls, vectorised along the last axis (rows are bootstrap resamples)."""


def _pct(q: float) -> Statistic:
    return lambda x: np.percentile(x, q, axis=-1)


def _mean(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=-1)


@dataclass(frozen=True)
class OperationalMetric:
    """One operational metric: how it is named, measured and read."""

    name: str
    unit: str
    higher_is_better: bool | None
    description: str
    per_call: str | None = None
    """The per-call quantity it summarises (a key of `call_values`); None for counts and totals."""
    statistic: Statistic | None = None
    """The statistic over the calls' `per_call` values; None for counts and totals."""
    about: str | None = None
    """For a comparison that is not itself a metric: the metric whose row it is shown on."""


_ROWS = (
    OperationalMetric("n_calls", "calls", None, "calls made or served from the cache, retries not counted"),
    OperationalMetric("failed", "calls", False, "calls that failed after their retries"),
    OperationalMetric("requests", "calls", None, "requests timed (the latency task)"),
    OperationalMetric("error_rate", "", False, "share of timed requests that failed (the latency task)"),
    OperationalMetric("latency_p50_s", "s", False, "median wall time of a successful call", "latency_s", _pct(50)),
    OperationalMetric("latency_p95_s", "s", False, "95th percentile of call wall time", "latency_s", _pct(95)),
    OperationalMetric("latency_p99_s", "s", False, "99th percentile of call wall time", "latency_s", _pct(99)),
    OperationalMetric("latency_mean_s", "s", False, "mean call wall time", "latency_s", _mean),
    OperationalMetric("ttft_p50_s", "s", False, "median time to first token of a streamed call", "ttft_s", _pct(50)),
    OperationalMetric("ttft_p95_s", "s", False, "95th percentile of time to first token", "ttft_s", _pct(95)),
    OperationalMetric("ttft_p99_s", "s", False, "99th percentile of time to first token", "ttft_s", _pct(99)),
    OperationalMetric("output_tokens_per_sec", "tokens/s", True, "median completion tokens per second of wall time",
                      "tokens_per_sec", _pct(50)),
    OperationalMetric("prompt_tokens_mean", "tokens", False, "mean prompt tokens per call", "prompt_tokens", _mean),
    OperationalMetric("completion_tokens_mean", "tokens", False, "mean completion tokens per call",
                      "completion_tokens", _mean),
    OperationalMetric("cost_usd", "USD", False, "total cost; unknown (null) when a call has no price"),
    OperationalMetric("cost_per_1k_usd", "USD", False, "cost per 1,000 successful calls", "cost_per_1k_usd", _mean),
)
OPERATIONAL_METRICS: Mapping[str, OperationalMetric] = {m.name: m for m in _ROWS}
"""Every operational metric by name."""

OPERATIONAL_COMPARISONS: Mapping[str, OperationalMetric] = {m.name: m for m in (
    OperationalMetric("prompt_tokens_rel_change", "", False, "mean prompt tokens relative to the reference's "
                      "(-0.34: 34% fewer)", about="prompt_tokens_mean"),
    OperationalMetric("latency_p50_delta_s", "s", False, "median latency minus the reference's",
                      about="latency_p50_s"),
)}
"""Comparisons of operational quantities that are not metrics themselves, shown on the row of `about`."""


def is_operational(name: str) -> bool:
    """True for a metric or comparison about the calls (time, tokens, money) rather than answer quality."""
    return name in OPERATIONAL_METRICS or name in OPERATIONAL_COMPARISONS


def call_values(g: Generation) -> dict[str, float | None]:
    """The per-call quantities of one successful generation (all None for a failed one)."""
    if not g.ok:
        return dict.fromkeys(("latency_s", "ttft_s", "tokens_per_sec", "prompt_tokens", "completion_tokens",
                              "cost_per_1k_usd"))
    tokens = g.usage.completion_tokens
    return {"latency_s": g.latency_s, "ttft_s": g.ttft_s,
            "tokens_per_sec": tokens / g.latency_s if tokens is not None and g.latency_s else None,
            "prompt_tokens": None if g.usage.prompt_tokens is None else float(g.usage.prompt_tokens),
            "completion_tokens": None if tokens is None else float(tokens),
            "cost_per_1k_usd": None if g.cost_usd is None else g.cost_usd * 1000.0}

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


def _metric(name: str, value: float | None, n: int, ci: tuple[float, float] | None = None) -> MetricValue:
    row = OPERATIONAL_METRICS[name]
    low, high = ci if ci is not None else (None, None)
    return MetricValue(name=name, value=value, ci_low=low, ci_high=high, n=n,
                       higher_is_better=row.higher_is_better, unit=row.unit)


def _mean_metric(name: str, values: list[float], seed: int, n_bootstrap: int, confidence: float) -> MetricValue:
    if not values:
        return _metric(name, None, 0)
    r = bootstrap_mean_ci(values, n_resamples=n_bootstrap, confidence=confidence, seed=seed)
    return _metric(name, r.estimate, len(values), (r.ci_low, r.ci_high))


def _model_metrics(gens: dict[_Key, Generation], seed: int, n_bootstrap: int,
                   confidence: float) -> tuple[MetricValue, ...]:
    all_gens = list(gens.values())
    ok = [g for g in all_gens if g.ok]
    values = [call_values(g) for g in ok]

    def per_call(field: str) -> list[float]:
        return [v[field] for v in values if v[field] is not None]  # type: ignore[misc]

    latencies = per_call("latency_s")
    out = [_metric("n_calls", float(len(all_gens)), len(all_gens)),
           _metric("failed", float(len(all_gens) - len(ok)), len(all_gens))]
    if latencies:
        p50 = bootstrap_median_ci(latencies, n_resamples=n_bootstrap, confidence=confidence, seed=seed)
        out.append(_metric("latency_p50_s", p50.estimate, len(latencies), (p50.ci_low, p50.ci_high)))
        out.append(_metric("latency_p95_s", float(np.percentile(latencies, 95)), len(latencies)))
    else:
        out += [_metric("latency_p50_s", None, 0), _metric("latency_p95_s", None, 0)]
    out.append(_mean_metric("latency_mean_s", latencies, seed, n_bootstrap, confidence))
    for name in ("prompt_tokens_mean", "completion_tokens_mean"):
        out.append(_mean_metric(name, per_call(OPERATIONAL_METRICS[name].per_call or ""), seed, n_bootstrap,
                                confidence))
    billed = ok + [g for g in all_gens if not g.ok and g.cost_usd is not None]
    costs = [g.cost_usd for g in billed]
    total = None if not billed or any(c is None for c in costs) else float(sum(costs))
    out.append(_metric("cost_usd", total, len(billed)))
    per_1k = None if total is None or not ok else total / len(ok) * 1000.0
    out.append(_metric("cost_per_1k_usd", per_1k, len(ok)))
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
