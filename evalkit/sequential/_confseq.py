"""Anytime-valid confidence sequences for the mean of a bounded paired difference. Pure numpy, no I/O.

Method: the predictable plug-in empirical-Bernstein confidence sequence (PrPl-EB) of Waudby-Smith & Ramdas
(2023), "Estimating means of bounded random variables by betting", JRSS-B 86(1), Theorem 2 (i.i.d. draws) and
its sampling-without-replacement form (Section 6; also Waudby-Smith & Ramdas 2020, "Confidence sequences for
sampling without replacement"). For observations z_i in [0, 1] and each side at alpha/2:

    lambda_i = min(sqrt(2 log(2/alpha) / (sigma2_{i-1} i log(1 + i))), 1/2)      (predictable: uses i-1 items)
    sigma2_i = (1/4 + sum_{j<=i} (z_j - mu_j)^2) / (i + 1),  mu_i = (1/2 + sum_{j<=i} z_j) / (i + 1)
    v_i      = (z_i - zbar_{i-1})^2,  psi(l) = -log(1 - l) - l
    lower_t  = sum lambda_i (z_i + Z_i) / sum lambda_i (1 + W_i)
               - (log(2/alpha) + sum v_i psi(lambda_i)) / sum lambda_i (1 + W_i)

with Z_i = W_i = 0 for i.i.d. draws, and Z_i = sum_{j<i} z_j / (N - i + 1), W_i = (i - 1) / (N - i + 1) when the
t items are drawn in uniformly random order from a finite population of N items (then the sequence covers the
population mean, and is intersected with the bounds that the unseen items' range implies). The upper bound is
1 - lower(1 - z). With probability at least 1 - alpha the interval holds at *every* t at once, so it may be
looked at after every item or batch, and the running intersection over t is valid too.

The constants (truncation 1/2, the regularised variance with one pseudo-observation of variance 1/4, zbar_0 = 0)
are those of the authors' reference implementation (`confseq.predmix.predmix_empbern_twosided_cs`, which this
module matches to rounding on the same inputs; see docs/sequential.md for why it is re-implemented here).
"""

from __future__ import annotations

import numpy as np

__all__ = ["METHOD", "TRUNCATION", "paired_difference_cs", "unit_interval_cs"]

METHOD = "predictable-plugin-empirical-bernstein"
TRUNCATION = 0.5
"""Largest bet lambda (Waudby-Smith & Ramdas suggest 1/2 or 3/4; 1/2 is their package's default)."""


def _prior(shape: tuple[int, ...], value: float) -> np.ndarray:
    return np.full(shape[:-1] + (1,), value)


def _lower(z: np.ndarray, alpha_side: float, population: int | None) -> np.ndarray:
    """The lower half of the sequence at level alpha_side, at every t (last axis), before intersection."""
    t = np.arange(1, z.shape[-1] + 1, dtype=float)
    s = np.cumsum(z, axis=-1)
    mu_reg = (0.5 + s) / (t + 1)
    sigma2 = (0.25 + np.cumsum((z - mu_reg) ** 2, axis=-1)) / (t + 1)
    sigma2_prev = np.concatenate([_prior(z.shape, 0.25), sigma2[..., :-1]], axis=-1)
    log_inv_alpha = np.log(1 / alpha_side)
    lam = np.minimum(np.sqrt(2 * log_inv_alpha / (t * np.log1p(t) * sigma2_prev)), TRUNCATION)
    zbar_prev = np.concatenate([_prior(z.shape, 0.0), (s / t)[..., :-1]], axis=-1)
    v = (z - zbar_prev) ** 2
    psi = -np.log1p(-lam) - lam
    if population is None:
        z_star = w_star = 0.0
    else:
        s_prev = np.concatenate([_prior(z.shape, 0.0), s[..., :-1]], axis=-1)
        remaining = population - t + 1
        z_star, w_star = s_prev / remaining, (t - 1) / remaining
    weights = np.cumsum(lam * (1 + w_star), axis=-1)
    centre = np.cumsum(lam * (z + z_star), axis=-1) / weights
    return centre - (log_inv_alpha + np.cumsum(v * psi, axis=-1)) / weights


def unit_interval_cs(z: np.ndarray, alpha: float = 0.05, population: int | None = None,
                     running_intersection: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided confidence sequence for the mean of observations in [0, 1], at every sample size.

    `z` has shape (..., n): the last axis is the order in which items were drawn; any leading axes are
    independent sequences (vectorised simulations). Returns (low, high), each of the shape of `z`, where
    index t-1 holds the interval after t observations. `population` is the number of items the draws come
    from without replacement (None: i.i.d. draws); it must be at least n.

    >>> low, high = unit_interval_cs(np.array([1.0, 0.0] * 200))
    >>> bool(low[-1] < 0.5 < high[-1]), bool(high[-1] - low[-1] < 0.3)
    (True, True)
    """
    z = np.asarray(z, dtype=float)
    if z.ndim < 1 or z.shape[-1] == 0:
        raise ValueError(f"z must have at least one observation on its last axis. Got shape {z.shape}")
    if not np.all((z >= 0) & (z <= 1)):
        raise ValueError("z must hold numbers in [0, 1]. Got values outside it (or NaN)")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in the open interval (0, 1). Got {alpha!r}")
    n = z.shape[-1]
    if population is not None and population < n:
        raise ValueError(f"population must be at least the number of observations ({n}). Got {population}")
    low = np.maximum(_lower(z, alpha / 2, population), 0.0)
    high = np.minimum(1 - _lower(1 - z, alpha / 2, population), 1.0)
    if population is not None:
        # The unseen items lie in [0, 1], so the population mean lies in [S_t / N, (S_t + N - t) / N] for sure.
        t = np.arange(1, n + 1)
        s = np.cumsum(z, axis=-1)
        low = np.maximum(low, s / population)
        high = np.minimum(high, (s + population - t) / population)
    if running_intersection:
        low = np.maximum.accumulate(low, axis=-1)
        high = np.minimum.accumulate(high, axis=-1)
    return low, high


def paired_difference_cs(d: np.ndarray, span: float, alpha: float = 0.05, population: int | None = None,
                         running_intersection: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided confidence sequence for the mean of paired differences d_i = x_i - y_i in [-span, +span].

    `span` is hi - lo for x and y in [lo, hi] (1 for 0/1 correctness, 3 for a 0..3 judge score). The
    differences are mapped onto [0, 1] by z = (d + span) / (2 span), which keeps the guarantee exact; the
    interval is mapped back. Shapes and `population` as in `unit_interval_cs`.

    >>> d = np.tile([1.0, 0.0, 0.0, 0.0, -1.0, 1.0], 200)          # mean difference 1/6
    >>> low, high = paired_difference_cs(d, span=1.0)
    >>> bool(0 < low[-1] < 1/6 < high[-1])
    True
    """
    if not span > 0:
        raise ValueError(f"span must be positive. Got {span!r}")
    d = np.asarray(d, dtype=float)
    # A tolerance for values that are exactly at the range but for float rounding (e.g. 0.1 + 0.2 - 0.3).
    tol = 1e-9 * span
    if np.any(np.abs(d) > span + tol) or np.any(np.isnan(d)):
        bad = d[(np.abs(d) > span + tol) | np.isnan(d)][:3].tolist()
        raise ValueError(f"differences must lie in [-{span:g}, +{span:g}]. Got {bad} among them")
    z = np.clip((d + span) / (2 * span), 0.0, 1.0)
    low, high = unit_interval_cs(z, alpha=alpha, population=population, running_intersection=running_intersection)
    return 2 * span * low - span, 2 * span * high - span
