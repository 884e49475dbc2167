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
- The generations are read in one pass into compact columns per model (CallColumns: numpy arrays of the
  per-call quantities, sorted by item and attempt), so a million calls cost a few arrays, not a million
  objects.
- Comparisons pair generations by (sample_id, attempt) and use pairs where both calls succeeded and report
  the quantity compared. Below MIN_ITEMS_FOR_TEST pairs only the point estimate is given (note `too few
  items`); intervals and p-values are paired percentile bootstraps (see evalkit.stats).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalkit.records import Comparison, Generation, MetricValue, Records
from evalkit.stats import (
    TOO_FEW_ITEMS,
    bootstrap_counts,
    bootstrap_mean_ci,
    counts_fit,
    has_enough_items,
    paired_bootstrap,
    paired_bootstrap_weights,
    weighted_quantile,
)

__all__ = ["OPERATIONAL_COMPARISONS", "OPERATIONAL_METRICS", "CallColumns", "OperationalMetric", "call_columns",
           "call_values", "is_operational", "item_key", "operational_metrics"]

Statistic = Callable[[np.ndarray], np.ndarray]
"""A statistic over calls, vectorised along the last axis (rows are bootstrap resamples)."""


def quantile_rows(x: np.ndarray, q: float) -> np.ndarray:
    """np.percentile(x, q, axis=-1) (linear interpolation), partitioning `x` in place when it owns its data.

    A bootstrap hands its statistic a freshly gathered array per chunk of resamples: partitioning that one in
    place saves np.percentile's copy, a third of its cost. A view (the original data) is copied first.
    """
    x = np.atleast_2d(x)
    if not x.flags.owndata or not x.flags.writeable:
        x = x.copy()
    n = x.shape[-1]
    h = (n - 1) * q / 100.0
    lo = int(np.floor(h))
    hi = min(lo + 1, n - 1)
    x.partition(sorted({lo, hi}), axis=-1)
    low = x[..., lo]
    return low + (h - lo) * (x[..., hi] - low)


def _pct(q: float) -> Statistic:
    return lambda x: quantile_rows(x, q)


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

def item_key(sample_id: str) -> int:
    """A sample id as a 64-bit integer, the same in every process (pairs calls and orders them reproducibly)."""
    return int.from_bytes(hashlib.blake2b(sample_id.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


_NAN = float("nan")


class _Builder:
    """One model's calls as growing columns (one pass over the generations, nothing else kept)."""

    def __init__(self) -> None:
        self.key, self.attempt, self.ok = array("q"), array("i"), array("b")
        # Token counts as float32: exact up to 16 million, and half the memory of a million calls.
        self.latency, self.cost = array("d"), array("d")
        self.prompt_tokens, self.completion_tokens = array("f"), array("f")

    def add(self, g: Generation) -> None:
        ok = g.ok
        self.key.append(item_key(g.sample_id))
        self.attempt.append(g.attempt)
        self.ok.append(ok)
        u = g.usage
        self.latency.append(_NAN if not ok or g.latency_s is None else g.latency_s)
        self.prompt_tokens.append(_NAN if not ok or u.prompt_tokens is None else float(u.prompt_tokens))
        self.completion_tokens.append(_NAN if not ok or u.completion_tokens is None else float(u.completion_tokens))
        self.cost.append(_NAN if g.cost_usd is None else g.cost_usd)


@dataclass(frozen=True)
class CallColumns:
    """One model's calls as columns, sorted by (item key, attempt): the pairing key of every comparison.

    Quantities of failed calls are NaN (a failed call has no answer to time or count), except `cost_usd`,
    which a failed call may report; NaN there means unknown.
    """

    key: np.ndarray
    """item_key(sample_id), int64."""
    attempt: np.ndarray
    ok: np.ndarray
    latency_s: np.ndarray
    prompt_tokens: np.ndarray
    completion_tokens: np.ndarray
    cost_usd: np.ndarray

    @property
    def n(self) -> int:
        """Calls (made or served from the cache)."""
        return int(self.key.size)

    def values(self, per_call: str) -> np.ndarray:
        """The known values of a per-call quantity of `call_values` (successful calls only), in key order."""
        if per_call == "tokens_per_sec":
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(self.latency_s > 0, self.completion_tokens / self.latency_s, np.nan)
        elif per_call == "cost_per_1k_usd":
            x = np.where(self.ok, self.cost_usd * 1000.0, np.nan)
        else:
            x = getattr(self, per_call)
        return x[np.isfinite(x)]


def call_columns(generations: Iterable[Generation], models: Sequence[str]) -> dict[str, CallColumns]:
    """Every model's calls as CallColumns, from one pass over `generations` (e.g. a run's generations.jsonl).

    ValueError for a generation of a model not in `models`, and for two generations of one model for the same
    sample and attempt.
    """
    builders = {m: _Builder() for m in models}
    for g in generations:
        b = builders.get(g.model)
        if b is None:
            raise ValueError(f"generation for sample {g.sample_id!r} has model {g.model!r}, which must be "
                             f"among {list(models)}.")
        b.add(g)
    out = {}
    for m in list(builders):
        b = builders.pop(m)  # each model's growing arrays go as soon as its columns exist
        key = np.frombuffer(b.key, dtype=np.int64) if len(b.key) else np.empty(0, np.int64)
        attempt = np.frombuffer(b.attempt, dtype=np.int32) if len(b.attempt) else np.empty(0, np.int32)
        order = np.lexsort((attempt, key))
        key, attempt = key[order], attempt[order]
        if key.size > 1:
            dup = np.flatnonzero((key[1:] == key[:-1]) & (attempt[1:] == attempt[:-1]))
            if dup.size:
                sid = _sample_id_of(generations, m, int(key[dup[0]]))
                raise ValueError(f"model {m!r} has two generations for sample {sid!r}, attempt {int(attempt[dup[0]])}.")

        def col(a: array, dtype: Any, order: np.ndarray = order) -> np.ndarray:
            return (np.frombuffer(a, dtype=dtype) if len(a) else np.empty(0, dtype))[order]

        out[m] = CallColumns(key=key, attempt=attempt, ok=col(b.ok, np.int8).astype(bool),
                             latency_s=col(b.latency, np.float64),
                             prompt_tokens=col(b.prompt_tokens, np.float32).astype(np.float64),
                             completion_tokens=col(b.completion_tokens, np.float32).astype(np.float64),
                             cost_usd=col(b.cost, np.float64))
    return out


def _sample_id_of(generations: Iterable[Generation], model: str, key: int) -> str:
    """The sample id behind `key`, for an error message (a second pass when `generations` can be re-read)."""
    if isinstance(generations, (Records, Sequence)):
        for g in generations:
            if g.model == model and item_key(g.sample_id) == key:
                return g.sample_id
    return f"<key {key}>"


def _metric(name: str, value: float | None, n: int, ci: tuple[float, float] | None = None) -> MetricValue:
    row = OPERATIONAL_METRICS[name]
    low, high = ci if ci is not None else (None, None)
    return MetricValue(name=name, value=value, ci_low=low, ci_high=high, n=n,
                       higher_is_better=row.higher_is_better, unit=row.unit)


def _mean_metric(name: str, values: np.ndarray, seed: int, n_bootstrap: int, confidence: float) -> MetricValue:
    if not values.size:
        return _metric(name, None, 0)
    r = _mean_ci(values, seed, n_bootstrap, confidence)
    return _metric(name, r.estimate, int(values.size), (r.ci_low, r.ci_high))


def _mean_ci(values: np.ndarray, seed: int, n_bootstrap: int, confidence: float) -> Any:
    """The mean with a bootstrap CI; token counts (few distinct integers) resample their value counts."""
    distinct, codes = np.unique(values, return_inverse=True)
    if np.all(distinct == np.round(distinct)) and counts_fit(distinct.size, values.size, n_bootstrap):
        return bootstrap_counts(lambda c: {"mean": c @ distinct / c.sum(axis=1)}, codes, distinct.size,
                                n_resamples=n_bootstrap, confidence=confidence, seed=seed)["mean"]
    return bootstrap_mean_ci(values, n_resamples=n_bootstrap, confidence=confidence, seed=seed)


def _model_metrics(c: CallColumns, seed: int, n_bootstrap: int, confidence: float) -> tuple[MetricValue, ...]:
    n_ok = int(c.ok.sum())
    latencies = c.values("latency_s")
    out = [_metric("n_calls", float(c.n), c.n), _metric("failed", float(c.n - n_ok), c.n)]
    if latencies.size:
        # One resampling of the calls serves the median and the mean (the same seed and n draw the same
        # indices, so each interval equals its own bootstrap's).
        lat = np.sort(latencies)
        n_lat = int(lat.size)
        # einsum, not w @ lat: BLAS on an integer matrix casts it, and threads on a busy machine cost more.
        boot = paired_bootstrap_weights(lambda w: {"p50": weighted_quantile(w, lat, 50),
                                                   "mean": np.einsum("ij,j->i", w, lat) / n_lat},
                                        n_lat, n_resamples=n_bootstrap, confidence=confidence, seed=seed)
        p50, mean = boot["p50"], boot["mean"]
        out.append(_metric("latency_p50_s", p50.estimate, n_lat, (p50.ci_low, p50.ci_high)))
        out.append(_metric("latency_p95_s", float(np.percentile(latencies, 95)), n_lat))
        out.append(_metric("latency_mean_s", mean.estimate, n_lat, (mean.ci_low, mean.ci_high)))
    else:
        out += [_metric("latency_p50_s", None, 0), _metric("latency_p95_s", None, 0), _metric("latency_mean_s", None, 0)]
    for name in ("prompt_tokens_mean", "completion_tokens_mean"):
        out.append(_mean_metric(name, c.values(OPERATIONAL_METRICS[name].per_call or ""), seed, n_bootstrap,
                                confidence))
    # Billed: every successful call, and any failed one that reports a cost (failed calls without one are
    # taken as unbilled). One unknown cost among them makes the total unknown.
    billed = c.ok | np.isfinite(c.cost_usd)
    n_billed = int(billed.sum())
    costs = c.cost_usd[billed]
    total = None if not n_billed or not bool(np.all(np.isfinite(costs))) else float(costs.sum())
    out.append(_metric("cost_usd", total, n_billed))
    per_1k = None if total is None or not n_ok else total / n_ok * 1000.0
    out.append(_metric("cost_per_1k_usd", per_1k, n_ok))
    return tuple(out)


def _paired(model: CallColumns, ref: CallColumns, field: str) -> tuple[np.ndarray, np.ndarray]:
    """Values of both models on the (item, attempt) keys where both succeeded and `field` is known, in key
    order."""
    a_keys = np.stack([model.key, model.attempt.astype(np.int64)], axis=1) if model.n else np.empty((0, 2), np.int64)
    b_keys = np.stack([ref.key, ref.attempt.astype(np.int64)], axis=1) if ref.n else np.empty((0, 2), np.int64)
    # Both are sorted by (key, attempt): one structured view makes the pairs an intersection of sorted rows.
    view = np.dtype([("k", np.int64), ("a", np.int64)])
    _, ia, ib = np.intersect1d(a_keys.view(view).ravel(), b_keys.view(view).ravel(), assume_unique=True,
                               return_indices=True)
    a, b = getattr(model, field)[ia], getattr(ref, field)[ib]
    keep = model.ok[ia] & ref.ok[ib] & np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def _compare(metric: str, model: str, reference: str, a: np.ndarray, b: np.ndarray,
             statistic: Callable[[np.ndarray, np.ndarray], np.ndarray], seed: int, n_bootstrap: int,
             confidence: float, counts_ok: bool = False, medians: bool = False) -> Comparison:
    n = len(a)
    base = dict(metric=metric, model=model, reference=reference, n=n)
    if n == 0:
        return Comparison(**base, delta=None, note="no paired successful calls")
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = float(statistic(a[np.newaxis, :], b[np.newaxis, :])[0])
    if not np.isfinite(estimate):
        return Comparison(**base, delta=None, note="undefined: the reference's value is zero")
    if not has_enough_items(n):
        return Comparison(**base, delta=estimate, note=TOO_FEW_ITEMS)
    try:
        pairs, codes = np.unique(np.stack([a, b], axis=1), axis=0, return_inverse=True)
        if counts_ok and counts_fit(len(pairs), n, n_bootstrap):
            # A statistic of means, over few distinct (model, reference) value pairs (token counts): resample
            # the pairs' counts.
            ua, ub = pairs[:, 0], pairs[:, 1]

            def of_counts(c: np.ndarray) -> dict[str, np.ndarray]:
                with np.errstate(divide="ignore", invalid="ignore"):
                    return {"v": (c @ ua) / (c @ ub) - 1.0}

            r = bootstrap_counts(of_counts, codes.reshape(-1), len(pairs), n_resamples=n_bootstrap,
                                 confidence=confidence, seed=seed, null_value=0.0)["v"]
        elif medians:
            # _median_delta from resampling weights (the same draws as paired_bootstrap, without gathering).
            oa, ob = np.argsort(a, kind="stable"), np.argsort(b, kind="stable")
            sa, sb = a[oa], b[ob]
            r = paired_bootstrap_weights(
                lambda w: {"d": weighted_quantile(w, sa, 50, oa) - weighted_quantile(w, sb, 50, ob)}, n,
                n_resamples=n_bootstrap, confidence=confidence, seed=seed, null_value=0.0)["d"]
        else:
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
    return quantile_rows(a, 50) - quantile_rows(b, 50)


def operational_metrics(generations: Iterable[Generation] | Mapping[str, CallColumns], models: Sequence[str],
                        reference: str, seed: int = 0, n_bootstrap: int = 2000, confidence: float = 0.95,
                        ) -> tuple[dict[str, tuple[MetricValue, ...]], tuple[Comparison, ...]]:
    """Per-model call metrics (keyed by model, in `models` order) and comparisons against `reference`.

    `generations` is read in one pass into CallColumns (or given as call_columns' result). Comparisons:
    `prompt_tokens_rel_change` (mean prompt tokens relative to the reference's, -0.34 meaning 34% fewer) and
    `latency_p50_delta_s` (median latency minus the reference's), on paired calls.
    """
    models = list(models)
    if not models or len(set(models)) != len(models):
        raise ValueError(f"models must be a non-empty list of distinct names. Got {models!r} instead.")
    if reference not in models:
        raise ValueError(f"reference must be among {models}. Got {reference!r} instead.")
    columns = generations if isinstance(generations, Mapping) else call_columns(generations, models)
    metrics = {m: _model_metrics(columns[m], seed, n_bootstrap, confidence) for m in models}
    comparisons: list[Comparison] = []
    for m in models:
        if m == reference:
            continue
        a, b = _paired(columns[m], columns[reference], "prompt_tokens")
        comparisons.append(_compare("prompt_tokens_rel_change", m, reference, a, b, _rel_change,
                                    seed, n_bootstrap, confidence, counts_ok=True))
        a, b = _paired(columns[m], columns[reference], "latency_s")
        comparisons.append(_compare("latency_p50_delta_s", m, reference, a, b, _median_delta,
                                    seed, n_bootstrap, confidence, medians=True))
    return metrics, tuple(comparisons)
