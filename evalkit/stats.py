"""Statistics for paired model comparisons: bootstrap intervals and exact tests. Pure functions, no I/O.

Choices made once, here:

- Bootstrap intervals are *percentile* intervals over `n_resamples` resamples of the items (with the same
  indices in every array, so pairs stay paired). Percentile intervals need no jackknife, are what most
  evaluation papers report, and behave sensibly for bounded statistics such as accuracy; BCa would be
  slightly more accurate for skewed statistics at several times the cost.
- Bootstrap p-values (for delta statistics, given `null_value=0.0`) are two-sided: twice the share of
  resamples on the far side of the null value, counting ties on both sides, with the +1 correction
  `(k + 1) / (n_resamples + 1)` so a p-value is never reported as exactly 0; capped at 1.
- Randomness comes only from `numpy.random.default_rng(seed)`: same inputs and seed, same result.
- Below `MIN_ITEMS_FOR_TEST` paired items a comparison reports its point estimate with the note
  `TOO_FEW_ITEMS` and no confidence interval or p-value (`has_enough_items` decides). The functions here
  still compute whatever they are asked; the policy is applied where comparisons are built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

__all__ = [
    "MIN_ITEMS_FOR_TEST",
    "TOO_FEW_ITEMS",
    "BootstrapResult",
    "McNemarResult",
    "WilcoxonResult",
    "binomial_two_sided",
    "bootstrap_counts",
    "bootstrap_mean_ci",
    "bootstrap_median_ci",
    "counts_fit",
    "has_enough_items",
    "mcnemar_exact",
    "paired_bootstrap",
    "paired_bootstrap_many",
    "paired_bootstrap_weights",
    "sign_test",
    "weighted_quantile",
    "wilcoxon_signed_rank",
    "wilson_interval",
]

MIN_ITEMS_FOR_TEST = 10
"""Fewer paired items than this: a comparison gets the note TOO_FEW_ITEMS, and no CI or p-value."""

TOO_FEW_ITEMS = "too few items"

# Resampled index matrices are built in chunks of at most this many cells, so 10,000 items x 2,000
# resamples never needs the whole 160 MB matrix at once.
_CHUNK_CELLS = 2_000_000


@dataclass(frozen=True)
class BootstrapResult:
    """A statistic on the original data, with its percentile bootstrap interval (and p-value for deltas)."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float | None
    """Two-sided bootstrap p-value against `null_value`; None when no null value was given."""
    n: int
    n_resamples: int
    confidence: float


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test on paired correctness: b = only A correct, c = only B correct."""

    b: int
    c: int
    p_value: float


@dataclass(frozen=True)
class WilcoxonResult:
    """Wilcoxon signed-rank test on paired differences a - b."""

    statistic: float
    p_value: float
    n_nonzero: int
    """Pairs with a non-zero difference (the ones the 'wilcox' zero method ranks)."""
    note: str = ""


def has_enough_items(n: int) -> bool:
    """True when `n` paired items are enough to report a test (see MIN_ITEMS_FOR_TEST)."""
    return n >= MIN_ITEMS_FOR_TEST


# ---------------------------------------------------------------------------------------------------------
# Validation


def _check_confidence(confidence: float) -> None:
    if not isinstance(confidence, (int, float)) or not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be a float in the open interval (0, 1). Got {confidence!r} instead.")


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int. Got {value!r} instead.")


def _as_arrays(arrays: Sequence[Any], *, numeric: bool) -> list[np.ndarray]:
    """1-D arrays of one common, non-zero length (finite floats when `numeric`)."""
    if not arrays:
        raise ValueError("at least one array is required. Got none.")
    out = [np.asarray(a) for a in arrays]
    for i, a in enumerate(out):
        if a.ndim != 1:
            raise ValueError(f"array {i} must be 1-D. Got shape {a.shape} instead.")
    lengths = [len(a) for a in out]
    if len(set(lengths)) != 1:
        raise ValueError(f"arrays must have equal lengths (paired items). Got lengths {lengths} instead.")
    if lengths[0] == 0:
        raise ValueError("arrays must not be empty. Got 0 items.")
    if numeric:
        converted = []
        for i, a in enumerate(out):
            try:
                f = a.astype(float)
            except (TypeError, ValueError):
                raise ValueError(f"array {i} must be numeric. Got dtype {a.dtype} instead.") from None
            if not np.all(np.isfinite(f)):
                bad = f[~np.isfinite(f)][:3].tolist()
                raise ValueError(f"array {i} must hold finite numbers. Got {bad} among its values.")
            converted.append(f)
        out = converted
    return out


# ---------------------------------------------------------------------------------------------------------
# Bootstrap


def paired_bootstrap(statistic: Callable[..., Any], *arrays: Any, n_resamples: int = 2000,
                     confidence: float = 0.95, seed: int = 0, null_value: float | None = None,
                     vectorized: bool = False) -> BootstrapResult:
    """Percentile bootstrap of `statistic(*arrays)`, resampling items with the same indices in every array.

    `statistic` maps the (resampled) arrays to a float. With `vectorized=True` it must instead accept 2-D
    arrays of shape (resamples, items) and return one value per row; this is much faster for large data.
    Give `null_value=0.0` for a delta statistic to get a two-sided p-value (see the module docstring).
    A statistic that returns NaN or inf on any resample is an error: give it an explicit policy for the
    undefined case (e.g. a `zero_division` value) instead.

    >>> r = paired_bootstrap(lambda a, b: float(np.mean(a - b)), [3, 4, 5, 6], [1, 2, 3, 4], null_value=0.0)
    >>> round(r.estimate, 6), round(r.ci_low, 6), round(r.ci_high, 6), round(r.p_value, 4)
    (2.0, 2.0, 2.0, 0.001)
    """
    if not callable(statistic):
        raise ValueError(f"statistic must be callable. Got {statistic!r} instead.")
    return paired_bootstrap_many(lambda *a: {"value": statistic(*a)}, *arrays, n_resamples=n_resamples,
                                 confidence=confidence, seed=seed, null_value=null_value,
                                 vectorized=vectorized)["value"]


def paired_bootstrap_many(statistics: Callable[..., Mapping[str, Any]], *arrays: Any, n_resamples: int = 2000,
                          confidence: float = 0.95, seed: int = 0, null_value: float | None = None,
                          vectorized: bool = False) -> dict[str, BootstrapResult]:
    """Like `paired_bootstrap` for several statistics computed together on the same resamples.

    `statistics` returns a mapping name -> value (one value per row when `vectorized`); the result maps
    the same names to their BootstrapResult. Use it when the statistics share work (e.g. all metrics of a
    confusion matrix): the resamples are drawn and gathered once. With the same seed each result equals
    what `paired_bootstrap` gives for that statistic alone.

    >>> r = paired_bootstrap_many(lambda a: {"min": a.min(axis=-1), "max": a.max(axis=-1)}, [1, 2, 3],
    ...                           vectorized=True)
    >>> r["min"].estimate, r["max"].estimate
    (1.0, 3.0)
    """
    _check_positive_int("n_resamples", n_resamples)
    _check_confidence(confidence)
    if not callable(statistics):
        raise ValueError(f"statistics must be callable. Got {statistics!r} instead.")
    data = _as_arrays(arrays, numeric=False)
    n = len(data[0])

    def evaluate(parts: list[np.ndarray], rows: int) -> dict[str, np.ndarray]:
        if vectorized:
            raw = dict(statistics(*parts))
        else:
            per_row = [dict(statistics(*(a[r] for a in parts))) for r in range(rows)]
            raw = {k: [row[k] for row in per_row] for k in per_row[0]}
        return _per_row(raw, rows, "a vectorized statistic must return one value per resample row")

    estimates = _finite_estimates(evaluate([a[np.newaxis, :] for a in data], 1))

    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // n)
    values = {k: np.empty(n_resamples, dtype=float) for k in estimates}
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        for k, v in evaluate([a[idx] for a in data], stop - start).items():
            if k not in values:
                raise ValueError(f"statistics must return the same names on every call. Got new name {k!r}.")
            values[k][start:stop] = v

    return _percentile_results(estimates, values, n, n_resamples, confidence, null_value)


def _per_row(raw: Mapping[str, Any], rows: int, rule: str) -> dict[str, np.ndarray]:
    """Each statistic's values as a float array of one value per resample row; ValueError stating `rule`."""
    out = {}
    for k, v in dict(raw).items():
        arr = np.asarray(v, dtype=float).reshape(-1)
        if arr.shape != (rows,):
            raise ValueError(f"{rule}. Got shape {arr.shape} for {rows} rows (statistic {k!r}).")
        out[k] = arr
    return out


def _finite_estimates(estimates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`estimates` (one row: the statistics on the data itself), once each is known to be finite."""
    for k, v in estimates.items():
        if not np.isfinite(v[0]):
            raise ValueError(f"statistic {k!r} must be finite on the data. Got {v[0]!r}.")
    return estimates


def _percentile_results(estimates: Mapping[str, np.ndarray], values: Mapping[str, np.ndarray], n: int,
                        n_resamples: int, confidence: float, null_value: float | None) -> dict[str, BootstrapResult]:
    """Percentile intervals (and p-values against `null_value`) from each statistic's resampled values."""
    alpha = 1.0 - confidence
    results = {}
    for k, vals in values.items():
        if not np.all(np.isfinite(vals)):
            bad = int(np.sum(~np.isfinite(vals)))
            raise ValueError(f"statistic {k!r} was not finite on {bad} of {n_resamples} resamples; give it an "
                             f"explicit policy for undefined cases (e.g. zero_division).")
        low, high = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
        p_value = None
        if null_value is not None:
            below = int(np.sum(vals <= null_value))
            above = int(np.sum(vals >= null_value))
            p_value = min(1.0, 2.0 * (min(below, above) + 1) / (n_resamples + 1))
        results[k] = BootstrapResult(estimate=float(estimates[k][0]), ci_low=float(low), ci_high=float(high),
                                     p_value=p_value, n=n, n_resamples=n_resamples, confidence=confidence)
    return results


def paired_bootstrap_weights(statistics: Callable[[np.ndarray], Mapping[str, Any]], n: int, *,
                             n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0,
                             null_value: float | None = None) -> dict[str, BootstrapResult]:
    """paired_bootstrap_many with each resample given as weights: how many times each of the `n` items was
    drawn (an array of shape (rows, n); the estimate's row is all ones).

    The draws are paired_bootstrap_many's (same seed, same indices), so a statistic of weights
    that computes what a statistic of the gathered arrays would gives the same result; it just never gathers
    the arrays: a mean is `einsum("ij,j->i", weights, x) / n`, a quantile a cumulative sum of the weights over the items in
    sorted order (`weighted_quantile`). For a median that is about three times faster than partitioning.

    >>> x = np.array([3.0, 1.0, 2.0])
    >>> r = paired_bootstrap_weights(lambda w: {"mean": np.einsum("ij,j->i", w, x) / 3}, 3, n_resamples=200)
    >>> r["mean"].estimate
    2.0
    """
    _check_positive_int("n_resamples", n_resamples)
    _check_confidence(confidence)
    _check_positive_int("n", n)

    def evaluate(weights: np.ndarray) -> dict[str, np.ndarray]:
        return _per_row(statistics(weights), weights.shape[0], "statistics must return one value per row of weights")

    estimates = _finite_estimates(evaluate(np.ones((1, n), dtype=np.int64)))
    rng = np.random.default_rng(seed)
    # Half paired_bootstrap_many's chunk: weights need the indices, their counts and a cumulative sum at once.
    # The draws are the same (numpy draws the same numbers whatever the shape they are asked in).
    chunk = max(1, _CHUNK_CELLS // 2 // n)
    values = {k: np.empty(n_resamples, dtype=float) for k in estimates}
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        rows = stop - start
        idx = rng.integers(0, n, size=(rows, n))
        flat = (idx + (np.arange(rows) * n)[:, np.newaxis]).ravel()
        weights = np.bincount(flat, minlength=rows * n).reshape(rows, n)
        for k, v in evaluate(weights).items():
            values[k][start:stop] = v
    return _percentile_results(estimates, values, n, n_resamples, confidence, null_value)


def weighted_quantile(weights: np.ndarray, sorted_values: np.ndarray, q: float,
                      order: np.ndarray | None = None) -> np.ndarray:
    """The q-th percentile (numpy's default linear interpolation) of each row's resample, from weights.

    `sorted_values` are the items' values in increasing order; `order` the permutation that sorts them
    (`np.argsort(values)`), when the weights are in the items' original order (paired data).

    >>> weighted_quantile(np.array([[1, 1, 1], [0, 3, 0]]), np.array([1.0, 2.0, 4.0]), 50)
    array([2., 2.])
    """
    w = weights if order is None else weights[:, order]
    total = int(w[0].sum())
    h = (total - 1) * q / 100.0
    lo = int(np.floor(h))
    hi = min(lo + 1, total - 1)
    cum = np.cumsum(w, axis=1)
    # The k-th smallest drawn value (0-based) is the first item whose cumulative count exceeds k.
    j_lo = np.argmax(cum > lo, axis=1)
    j_hi = j_lo if hi == lo else np.argmax(cum > hi, axis=1)
    low = sorted_values[j_lo]
    return low + (h - lo) * (sorted_values[j_hi] - low)


COUNTS_BUDGET = 20_000_000
"""Most cells (resamples x categories) bootstrap_counts draws at once; beyond it callers resample items."""


def counts_fit(n_cells: int, n_items: int, n_resamples: int) -> bool:
    """True when bootstrap_counts is the cheaper way: fewer categories than items, within COUNTS_BUDGET."""
    return n_cells < n_items and n_cells * n_resamples <= COUNTS_BUDGET


def bootstrap_counts(statistics: Callable[[np.ndarray], Mapping[str, Any]], codes: Any, n_cells: int, *,
                     n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0,
                     null_value: float | None = None) -> dict[str, BootstrapResult]:
    """The percentile bootstrap of statistics of categorical items, drawn as counts.

    `codes` gives each item's category (0 .. n_cells - 1; for paired data, one code per combination, e.g.
    true label x prediction x reference prediction). Resampling the n items with replacement and counting the
    categories is the same as drawing the counts from Multinomial(n, observed shares), so each resample costs
    O(n_cells) instead of O(n): the interval has the distribution paired_bootstrap's has (not the same random
    numbers). `statistics` maps counts of shape (rows, n_cells) to a mapping name -> one value per row; the
    result maps the same names to their BootstrapResult, with the same percentile and p-value rules.

    >>> r = bootstrap_counts(lambda c: {"mean": c[:, 1] / c.sum(axis=1)}, [0, 1, 1, 1], 2, seed=1)
    >>> r["mean"].estimate
    0.75
    """
    _check_positive_int("n_resamples", n_resamples)
    _check_confidence(confidence)
    _check_positive_int("n_cells", n_cells)
    (c,) = _as_arrays([codes], numeric=False)
    if not np.issubdtype(c.dtype, np.integer) or int(c.min()) < 0 or int(c.max()) >= n_cells:
        raise ValueError(f"codes must be integers in [0, {n_cells}). Got dtype {c.dtype}, range "
                         f"[{c.min()}, {c.max()}].")
    n = int(c.size)
    counts = np.bincount(c, minlength=n_cells)

    def evaluate(rows: np.ndarray) -> dict[str, np.ndarray]:
        return _per_row(statistics(rows), rows.shape[0], "statistics must return one value per row of counts")

    estimates = _finite_estimates(evaluate(counts[np.newaxis, :]))
    rng = np.random.default_rng(seed)
    chunk = max(1, COUNTS_BUDGET // n_cells)
    values = {k: np.empty(n_resamples, dtype=float) for k in estimates}
    shares = counts / n
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        for k, v in evaluate(rng.multinomial(n, shares, size=stop - start)).items():
            values[k][start:stop] = v
    return _percentile_results(estimates, values, n, n_resamples, confidence, null_value)


def bootstrap_mean_ci(values: Any, *, n_resamples: int = 2000, confidence: float = 0.95,
                      seed: int = 0) -> BootstrapResult:
    """The mean of `values` with a percentile bootstrap interval."""
    (x,) = _as_arrays([values], numeric=True)
    return paired_bootstrap(lambda a: a.mean(axis=-1), x, n_resamples=n_resamples, confidence=confidence,
                            seed=seed, vectorized=True)


def bootstrap_median_ci(values: Any, *, n_resamples: int = 2000, confidence: float = 0.95,
                        seed: int = 0) -> BootstrapResult:
    """The median of `values` with a percentile bootstrap interval."""
    (x,) = _as_arrays([values], numeric=True)
    return paired_bootstrap(lambda a: np.median(a, axis=-1), x, n_resamples=n_resamples,
                            confidence=confidence, seed=seed, vectorized=True)


# ---------------------------------------------------------------------------------------------------------
# Exact and rank tests


def _as_bools(name: str, values: Any) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D. Got shape {a.shape} instead.")
    if a.dtype != bool:
        if not np.all(np.isin(a, [0, 1])):
            bad = sorted({repr(v) for v in a.tolist() if v not in (0, 1)})[:3]
            raise ValueError(f"{name} must hold booleans (or 0/1). Got {', '.join(bad)} among its values.")
        a = a.astype(bool)
    return a


def binomial_two_sided(k: int, n: int) -> float:
    """Two-sided exact binomial test of `k` successes in `n` trials at p = 1/2: min(1, 2 P(X <= min(k, n - k))).

    The tail is summed from log binomial coefficients (cumulative sums of logs, in numpy), which agrees with
    scipy's binomial CDF to about 1e-9 relative even at n = 10^6 and costs no scipy import: McNemar's and the
    sign test are on every comparison's critical path, and importing scipy.stats alone took longer than a
    5,000-item run's statistics.

    >>> round(binomial_two_sided(1, 10), 6)
    0.021484
    """
    if n == 0:
        return 1.0
    m = min(k, n - k)
    if 2 * m == n:
        return 1.0
    i = np.arange(1, m + 1, dtype=float)
    log_coef = np.concatenate(([0.0], np.cumsum(np.log(n - i + 1) - np.log(i))))
    log_terms = log_coef - n * math.log(2.0)
    top = float(log_terms.max())
    tail = math.exp(top) * float(np.exp(log_terms - top).sum())
    return min(1.0, 2.0 * tail)


def mcnemar_exact(correct_a: Any, correct_b: Any) -> McNemarResult:
    """McNemar's exact (binomial) test of paired correctness; p = 1.0 when no pair is discordant.

    >>> mcnemar_exact([1, 1, 1, 0], [1, 0, 0, 0])
    McNemarResult(b=2, c=0, p_value=0.5)
    """
    a = _as_bools("correct_a", correct_a)
    b_ = _as_bools("correct_b", correct_b)
    _as_arrays([a, b_], numeric=False)
    b = int(np.sum(a & ~b_))
    c = int(np.sum(~a & b_))
    if b + c == 0:
        # No discordant pair: the data carry no evidence of a difference.
        return McNemarResult(b=0, c=0, p_value=1.0)
    # statsmodels' mcnemar(exact=True): twice the binomial CDF of min(b, c) in b + c trials at 1/2, capped at 1.
    return McNemarResult(b=b, c=c, p_value=binomial_two_sided(min(b, c), b + c))


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test of `wins` against `losses` (ties excluded); 1.0 when both are 0.

    >>> round(sign_test(9, 1), 4)
    0.0215
    """
    for name, v in (("wins", wins), ("losses", losses)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be a non-negative int. Got {v!r} instead.")
    # At p = 1/2 the binomial is symmetric: scipy's binomtest (two-sided) is twice the smaller tail.
    return binomial_two_sided(int(wins), int(wins + losses))


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (as statsmodels' proportion_confint(method="wilson")).

    >>> tuple(round(x, 4) for x in wilson_interval(8, 10))
    (0.4902, 0.9433)
    """
    _check_confidence(confidence)
    for name, v in (("k", k), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be an int. Got {v!r} instead.")
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1. Got k={k}, n={n}.")
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)
    p, z2 = k / n, z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    return float(center - half), float(center + half)


def wilcoxon_signed_rank(a: Any, b: Any, *,
                         zero_method: Literal["wilcox", "pratt", "zsplit"] = "wilcox") -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test on a - b; all-zero differences give p = 1.0 with a note.

    >>> wilcoxon_signed_rank([1, 2, 3], [1, 2, 3]).p_value
    1.0
    """
    from scipy.stats import wilcoxon

    if zero_method not in ("wilcox", "pratt", "zsplit"):
        raise ValueError(f"zero_method must be a str among {{'wilcox', 'pratt', 'zsplit'}}. "
                         f"Got {zero_method!r} instead.")
    x, y = _as_arrays([a, b], numeric=True)
    d = x - y
    n_nonzero = int(np.count_nonzero(d))
    if n_nonzero == 0:
        # scipy cannot rank an empty set of differences; identical outputs are no evidence of a difference.
        return WilcoxonResult(statistic=0.0, p_value=1.0, n_nonzero=0, note="all differences are zero")
    res = wilcoxon(x, y, zero_method=zero_method, alternative="two-sided")
    return WilcoxonResult(statistic=float(res.statistic), p_value=float(res.pvalue), n_nonzero=n_nonzero)
