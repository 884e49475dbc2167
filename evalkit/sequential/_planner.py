"""How many paired items a comparison needs: sample size and minimum detectable difference at the fixed-n,
two-sided test. Pure functions, no I/O.

- Paired 0/1 outcomes (accuracy, exact match, win/loss indicators): McNemar's test, with the normal-
  approximation sample size of Connor (1987), "Sample size for testing differences in proportions for the
  paired-sample design", Biometrics 43(1):207-211:

      n = (z_{1-alpha/2} sqrt(psi) + z_{1-beta} sqrt(psi - delta^2))^2 / delta^2

  where psi = P(the two models disagree on an item) (the discordance rate, p10 + p01) and delta = p10 - p01
  (the difference in accuracy). `mcnemar_power(..., exact=True)` gives the power of the exact conditional
  test at a given n, to check it.
- Paired continuous scores (judge scores, bounded metrics): the one-sample t-test on the per-item differences,
  with statsmodels' `TTestPower` (effect size delta / sd of the differences).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

__all__ = ["mcnemar_mdd", "mcnemar_power", "mcnemar_sample_size", "paired_t_mdd", "paired_t_power",
           "paired_t_sample_size"]


def _check_unit(name: str, value: float, *, closed_high: bool = False) -> None:
    ok = 0 < value <= 1 if closed_high else 0 < value < 1
    if not ok:
        interval = "(0, 1]" if closed_high else "(0, 1)"
        raise ValueError(f"{name} must be in {interval}. Got {value!r}")


def _check_binary(discordance: float, delta: float | None = None) -> None:
    _check_unit("discordance", discordance, closed_high=True)
    if delta is not None and not 0 < abs(delta) <= discordance:
        raise ValueError(f"|delta| must be in (0, discordance={discordance:g}]: a difference in accuracy needs "
                         f"at least as many discordant items. Got delta={delta!r}")


def _z(alpha: float, power: float) -> tuple[float, float]:
    _check_unit("alpha", alpha)
    _check_unit("power", power)
    return float(stats.norm.ppf(1 - alpha / 2)), float(stats.norm.ppf(power))


def mcnemar_sample_size(discordance: float, delta: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """Paired items needed for McNemar's two-sided test to detect an accuracy difference `delta` with the
    given power, when the models disagree on a share `discordance` of the items (Connor 1987).

    >>> mcnemar_sample_size(discordance=0.2, delta=0.05)
    626
    """
    _check_binary(discordance, delta)
    za, zb = _z(alpha, power)
    n = (za * math.sqrt(discordance) + zb * math.sqrt(discordance - delta ** 2)) ** 2 / delta ** 2
    return math.ceil(n - 1e-9)


def mcnemar_power(n: int, discordance: float, delta: float, alpha: float = 0.05, exact: bool = False) -> float:
    """Power of McNemar's two-sided test with `n` paired items: the normal approximation behind Connor's
    formula, or (`exact=True`) the exact conditional binomial test (reject when its p-value <= alpha),
    averaged over the number of discordant items."""
    _check_binary(discordance, delta)
    _check_unit("alpha", alpha)
    if n < 1:
        raise ValueError(f"n must be at least 1. Got {n!r}")
    if not exact:
        za = stats.norm.ppf(1 - alpha / 2)
        spread = math.sqrt(discordance - delta ** 2)
        if spread == 0:
            return 1.0
        return float(stats.norm.cdf((abs(delta) * math.sqrt(n) - za * math.sqrt(discordance)) / spread))
    k = np.arange(n + 1)
    # Largest r with P(Bin(k, 1/2) <= r) <= alpha/2: the exact test rejects when min(b, c) <= r.
    r = stats.binom.ppf(alpha / 2, k, 0.5)
    r = np.where(stats.binom.cdf(r, k, 0.5) <= alpha / 2, r, r - 1)
    share = (discordance + delta) / 2 / discordance          # P(an item is won by the model | discordant)
    reject = np.where(r >= 0, stats.binom.cdf(r, k, share) + stats.binom.sf(k - r - 1, k, share), 0.0)
    return float(np.sum(stats.binom.pmf(k, n, discordance) * reject))


def mcnemar_mdd(n: int, discordance: float, power: float = 0.8, alpha: float = 0.05) -> float | None:
    """The smallest accuracy difference McNemar's test detects with the given power at `n` items (Connor's
    formula solved for delta); None when even delta = discordance (every disagreement one way) falls short."""
    _check_unit("discordance", discordance, closed_high=True)
    _z(alpha, power)
    if mcnemar_power(n, discordance, discordance, alpha) < power:
        return None
    return float(optimize.brentq(lambda d: mcnemar_power(n, discordance, d, alpha) - power,
                                 1e-12, discordance, xtol=1e-12))


def _ttest():
    from statsmodels.stats.power import TTestPower

    return TTestPower()


def _check_sd(sd: float) -> None:
    if not (isinstance(sd, (int, float)) and sd > 0 and math.isfinite(sd)):
        raise ValueError(f"sd must be a positive number. Got {sd!r}")


def paired_t_sample_size(sd: float, delta: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """Paired items needed for the two-sided paired t-test to detect a mean difference `delta` with the
    given power, when the per-item differences have standard deviation `sd` (statsmodels TTestPower).

    >>> paired_t_sample_size(sd=1.0, delta=0.5)
    34
    """
    _check_sd(sd)
    if delta == 0:
        raise ValueError("delta must be non-zero")
    _z(alpha, power)
    n = _ttest().solve_power(effect_size=abs(delta) / sd, nobs=None, alpha=alpha, power=power,
                             alternative="two-sided")
    return max(2, math.ceil(float(n) - 1e-9))


def paired_t_power(n: int, sd: float, delta: float, alpha: float = 0.05) -> float:
    """Power of the two-sided paired t-test with `n` items (statsmodels TTestPower)."""
    _check_sd(sd)
    _check_unit("alpha", alpha)
    if n < 2:
        raise ValueError(f"n must be at least 2. Got {n!r}")
    return float(_ttest().power(effect_size=abs(delta) / sd, nobs=n, alpha=alpha, alternative="two-sided"))


def paired_t_mdd(n: int, sd: float, power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest mean difference the paired t-test detects with the given power at `n` items."""
    _check_sd(sd)
    _z(alpha, power)
    if n < 2:
        raise ValueError(f"n must be at least 2. Got {n!r}")
    effect = _ttest().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power, alternative="two-sided")
    return float(effect) * sd
