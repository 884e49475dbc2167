"""The confidence sequence against a plain per-item loop of Waudby-Smith & Ramdas's formulas, and its
properties: it narrows, it covers, it is exact when a finite suite is exhausted, it rejects bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.sequential import paired_difference_cs, unit_interval_cs


def reference_lower(z: list[float], alpha_side: float, population: int | None) -> list[float]:
    """Theorem 2 (and its without-replacement form) of Waudby-Smith & Ramdas (2023), one item at a time."""
    out, s, mu_reg_sq, weights, centre_sum, penalty = [], 0.0, 0.0, 0.0, 0.0, 0.0
    sigma2_prev, zbar_prev = 0.25, 0.0
    for i, x in enumerate(z, start=1):
        lam = min(math.sqrt(2 * math.log(1 / alpha_side) / (sigma2_prev * i * math.log(1 + i))), 0.5)
        if population is None:
            z_star = w_star = 0.0
        else:
            z_star, w_star = s / (population - i + 1), (i - 1) / (population - i + 1)
        penalty += (x - zbar_prev) ** 2 * (-math.log(1 - lam) - lam)
        weights += lam * (1 + w_star)
        centre_sum += lam * (x + z_star)
        out.append(centre_sum / weights - (math.log(1 / alpha_side) + penalty) / weights)
        s += x
        mu_i = (0.5 + s) / (i + 1)
        mu_reg_sq += (x - mu_i) ** 2
        sigma2_prev = (0.25 + mu_reg_sq) / (i + 1)
        zbar_prev = s / i
    return out


@pytest.mark.parametrize("population", [None, 400, 300])
def test_matches_the_per_item_formulas(population):
    rng = np.random.default_rng(5)
    z = rng.choice([0.0, 0.5, 1.0], size=300, p=[0.15, 0.6, 0.25])
    low, high = unit_interval_cs(z, alpha=0.05, population=population, running_intersection=False)
    ref_low = np.maximum(reference_lower(list(z), 0.025, population), 0)
    ref_high = np.minimum(1 - np.array(reference_lower(list(1 - z), 0.025, population)), 1)
    if population is not None:
        t, s = np.arange(1, 301), np.cumsum(z)
        ref_low = np.maximum(ref_low, s / population)
        ref_high = np.minimum(ref_high, (s + population - t) / population)
    np.testing.assert_allclose(low, ref_low, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, atol=1e-12)


def test_batched_leading_axes_give_the_same_sequences_as_one_at_a_time():
    rng = np.random.default_rng(1)
    d = rng.choice([-1.0, 0.0, 1.0], size=(3, 200))
    low, high = paired_difference_cs(d, span=1.0)
    for r in range(3):
        lo1, hi1 = paired_difference_cs(d[r], span=1.0)
        np.testing.assert_array_equal(low[r], lo1)
        np.testing.assert_array_equal(high[r], hi1)


def test_running_intersection_only_narrows_and_the_width_shrinks_like_one_over_root_n():
    rng = np.random.default_rng(2)
    d = rng.choice([-1.0, 0.0, 1.0], size=4000, p=[0.1, 0.7, 0.2])
    low, high = paired_difference_cs(d, span=1.0)
    assert np.all(np.diff(low) >= 0) and np.all(np.diff(high) <= 0)
    width = high - low
    # Quadrupling n roughly halves the width (up to the log log n of time-uniformity).
    assert 0.4 < width[3999] / width[999] < 0.6
    assert low[-1] < d.mean() < high[-1]


def test_span_rescales_scores_exactly():
    rng = np.random.default_rng(3)
    d01 = rng.choice([-1.0, 0.0, 1.0], size=500)
    low1, high1 = paired_difference_cs(d01, span=1.0)
    low3, high3 = paired_difference_cs(3 * d01, span=3.0)          # the same items on a 0..3 judge scale
    np.testing.assert_allclose(low3, 3 * low1, atol=1e-12)
    np.testing.assert_allclose(high3, 3 * high1, atol=1e-12)


def test_without_replacement_the_exhausted_suite_pins_its_exact_mean():
    rng = np.random.default_rng(4)
    suite = rng.permutation(np.array([1.0] * 60 + [-1.0] * 20 + [0.0] * 120))
    low, high = paired_difference_cs(suite, span=1.0, population=200)
    assert low[-1] == pytest.approx(0.2) and high[-1] == pytest.approx(0.2)
    iid_low, iid_high = paired_difference_cs(suite, span=1.0)
    assert np.all(high - low <= iid_high - iid_low + 1e-12)       # knowing N only helps
    assert iid_high[-1] - iid_low[-1] > 0.1


def test_coverage_over_many_runs_holds_at_every_item():
    rng = np.random.default_rng(9)
    z = rng.beta(0.5, 2.0, size=(3000, 300))                      # skewed, continuous, mean 0.2
    low, high = unit_interval_cs(z)
    ever_missed = ((low > 0.2) | (high < 0.2)).any(axis=1)
    assert ever_missed.mean() <= 0.05


@pytest.mark.parametrize("kwargs, message", [
    ({"d": [0.5, 1.5], "span": 1.0}, "must lie in"),
    ({"d": [0.5, float("nan")], "span": 1.0}, "must lie in"),
    ({"d": [0.5], "span": 0.0}, "span must be positive"),
    ({"d": [0.5], "span": 1.0, "alpha": 1.0}, "alpha"),
    ({"d": [0.5, 0.1, 0.0], "span": 1.0, "population": 2}, "population must be at least"),
    ({"d": [], "span": 1.0}, "at least one observation"),
])
def test_bad_input_says_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_difference_cs(**kwargs)
