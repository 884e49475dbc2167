"""The planner against hand-computed Connor (1987) sizes, a brute-force exact McNemar power built on
statsmodels' own test, and the noncentral t distribution."""

from __future__ import annotations

import math

import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

from evalkit.sequential import (
    mcnemar_mdd,
    mcnemar_power,
    mcnemar_sample_size,
    paired_t_mdd,
    paired_t_power,
    paired_t_sample_size,
)


@pytest.mark.parametrize("psi, delta, power, expected", [
    # (1.959964 * sqrt(0.2) + 0.841621 * sqrt(0.2 - 0.05^2))^2 / 0.05^2 = (0.876523 + 0.374026)^2 / 0.0025
    #   = 625.55 -> 626
    (0.2, 0.05, 0.8, 626),
    # (1.959964 * sqrt(0.3) + 1.281552 * sqrt(0.3 - 0.01))^2 / 0.01 = (1.073517 + 0.690123)^2 / 0.01
    #   = 311.05 -> 312
    (0.3, 0.1, 0.9, 312),
])
def test_mcnemar_sample_size_matches_connors_formula_by_hand(psi, delta, power, expected):
    assert mcnemar_sample_size(psi, delta, power) == expected
    assert mcnemar_sample_size(psi, -delta, power) == expected          # two-sided: the sign does not matter


def test_the_size_is_the_smallest_n_with_the_power():
    n = mcnemar_sample_size(0.25, 0.08, 0.8)
    assert mcnemar_power(n, 0.25, 0.08) >= 0.8 > mcnemar_power(n - 1, 0.25, 0.08)


def brute_force_exact_power(n: int, psi: float, delta: float, alpha: float) -> float:
    """Sum over every table of n pairs: P(table) * [statsmodels' exact McNemar p-value <= alpha]."""
    p10, p01 = (psi + delta) / 2, (psi - delta) / 2
    total = 0.0
    for b in range(n + 1):
        for c in range(n + 1 - b):
            p = mcnemar([[0, b], [c, 0]], exact=True).pvalue
            if p <= alpha:
                total += stats.multinomial.pmf([b, c, n - b - c], n, [p10, p01, 1 - psi])
    return total


@pytest.mark.parametrize("n, psi, delta", [(30, 0.4, 0.2), (25, 0.6, -0.3)])
def test_exact_power_equals_a_brute_force_sum_over_statsmodels_exact_test(n, psi, delta):
    assert mcnemar_power(n, psi, delta, exact=True) == pytest.approx(brute_force_exact_power(n, psi, delta, 0.05),
                                                                     abs=1e-10)


def test_connors_size_gives_about_the_power_with_the_exact_test():
    n = mcnemar_sample_size(0.2, 0.05, 0.8)
    assert 0.75 < mcnemar_power(n, 0.2, 0.05, exact=True) < 0.82     # the exact test is a little conservative


def test_mcnemar_mdd_inverts_the_power():
    mdd = mcnemar_mdd(180, 0.2)
    assert mcnemar_power(180, 0.2, mdd) == pytest.approx(0.8, abs=1e-9)
    assert mcnemar_sample_size(0.2, mdd) in (180, 181)
    assert mcnemar_mdd(5, 0.1) is None                                 # 5 items cannot show any difference


def noncentral_t_power(n: int, effect: float, alpha: float) -> float:
    crit = stats.t.ppf(1 - alpha / 2, n - 1)
    nc = effect * math.sqrt(n)
    return float(stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc))


@pytest.mark.parametrize("sd, delta, expected", [(1.0, 0.5, 34), (1.0, 0.2, 199), (0.9, 0.3, 73)])
def test_paired_t_size_against_the_noncentral_t(sd, delta, expected):
    n = paired_t_sample_size(sd, delta)
    assert n == expected
    assert noncentral_t_power(n, delta / sd, 0.05) >= 0.8 > noncentral_t_power(n - 1, delta / sd, 0.05)
    assert paired_t_power(n, sd, delta) == pytest.approx(noncentral_t_power(n, delta / sd, 0.05), abs=1e-9)


def test_paired_t_mdd_inverts_the_power():
    mdd = paired_t_mdd(60, 0.7)
    assert noncentral_t_power(60, mdd / 0.7, 0.05) == pytest.approx(0.8, abs=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: mcnemar_sample_size(0.1, 0.2), "needs at least as many discordant items"),
    (lambda: mcnemar_sample_size(0.0, 0.01), "discordance must be in"),
    (lambda: mcnemar_sample_size(0.2, 0.05, power=1.0), "power must be in"),
    (lambda: mcnemar_power(0, 0.2, 0.05), "n must be at least 1"),
    (lambda: paired_t_sample_size(0.0, 0.1), "sd must be a positive number"),
    (lambda: paired_t_sample_size(1.0, 0.0), "delta must be non-zero"),
    (lambda: paired_t_mdd(1, 1.0), "n must be at least 2"),
])
def test_bad_input_says_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()
