import time

import numpy as np
import pytest

from evalkit.stats import (
    MIN_ITEMS_FOR_TEST,
    bootstrap_mean_ci,
    bootstrap_median_ci,
    has_enough_items,
    mcnemar_exact,
    paired_bootstrap,
    paired_bootstrap_many,
    sign_test,
    wilcoxon_signed_rank,
    wilson_interval,
)


def mean_delta(a, b):
    return a.mean(axis=-1) - b.mean(axis=-1)


# --- paired_bootstrap --------------------------------------------------------------------------------------


def test_percentile_interval_matches_a_hand_rolled_bootstrap():
    x = np.array([0.2, 1.5, 3.1, 0.7, 2.2, 5.0, 1.1, 0.4])
    r = paired_bootstrap(lambda a: a.mean(axis=-1), x, n_resamples=500, seed=7, vectorized=True)
    # Same generator, same draws: the resampled means and their 2.5/97.5 percentiles.
    idx = np.random.default_rng(7).integers(0, len(x), size=(500, len(x)))
    means = x[idx].mean(axis=1)
    assert r.estimate == pytest.approx(x.mean())
    assert r.ci_low == pytest.approx(np.quantile(means, 0.025))
    assert r.ci_high == pytest.approx(np.quantile(means, 0.975))
    assert (r.n, r.n_resamples, r.confidence, r.p_value) == (8, 500, 0.95, None)


def test_same_indices_across_arrays_keep_pairs_paired():
    # b is a minus 2 exactly; any resample keeps the pairs, so the delta is always 2.
    a = np.arange(30, dtype=float)
    r = paired_bootstrap(mean_delta, a, a - 2, vectorized=True, null_value=0.0)
    assert (r.estimate, r.ci_low, r.ci_high) == pytest.approx((2.0, 2.0, 2.0))
    # No resample reaches zero: p is the +1-corrected minimum, 2 / (n_resamples + 1).
    assert r.p_value == pytest.approx(2 / 2001)


def test_identical_arrays_give_p_value_one():
    a = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1, 1])
    r = paired_bootstrap(mean_delta, a, a.copy(), vectorized=True, null_value=0.0)
    assert r.estimate == 0.0 and r.p_value == 1.0


def test_vectorized_and_scalar_statistics_agree():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=40), rng.normal(size=40)
    v = paired_bootstrap(mean_delta, a, b, n_resamples=300, seed=5, vectorized=True, null_value=0.0)
    s = paired_bootstrap(lambda x, y: float(np.mean(x - y)), a, b, n_resamples=300, seed=5, null_value=0.0)
    assert v.ci_low == pytest.approx(s.ci_low) and v.ci_high == pytest.approx(s.ci_high)
    assert v.p_value == pytest.approx(s.p_value)


def test_many_statistics_share_resamples_and_match_single_runs():
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=60), rng.normal(size=60)
    many = paired_bootstrap_many(lambda x, y: {"mean": mean_delta(x, y),
                                               "median": np.median(x, axis=-1) - np.median(y, axis=-1)},
                                 a, b, n_resamples=400, seed=2, null_value=0.0, vectorized=True)
    assert set(many) == {"mean", "median"}
    single = paired_bootstrap(mean_delta, a, b, n_resamples=400, seed=2, null_value=0.0, vectorized=True)
    assert many["mean"] == single
    assert many["median"].estimate == pytest.approx(np.median(a) - np.median(b))


def test_many_statistics_validate_shapes():
    with pytest.raises(ValueError, match="one value per resample row.*statistic 'x'"):
        paired_bootstrap_many(lambda a: {"x": a.mean()}, np.arange(5.0), vectorized=True, n_resamples=10)


def test_reproducible_with_seed_and_different_across_seeds():
    x = np.random.default_rng(0).exponential(size=50)
    r1 = bootstrap_mean_ci(x, seed=11)
    r2 = bootstrap_mean_ci(x, seed=11)
    r3 = bootstrap_mean_ci(x, seed=12)
    assert r1 == r2
    assert (r1.ci_low, r1.ci_high) != (r3.ci_low, r3.ci_high)


def test_real_difference_is_detected_and_null_is_not():
    rng = np.random.default_rng(42)
    base = rng.normal(size=400)
    shifted = paired_bootstrap(mean_delta, base + 0.5 + rng.normal(scale=0.1, size=400), base,
                               vectorized=True, null_value=0.0)
    assert shifted.ci_low > 0.4 and shifted.ci_high < 0.6 and shifted.p_value < 0.01
    null = paired_bootstrap(mean_delta, base + rng.normal(scale=0.1, size=400), base,
                            vectorized=True, null_value=0.0)
    assert null.ci_low < 0 < null.ci_high and null.p_value > 0.05


def test_fast_for_ten_thousand_items():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, 10_000), rng.integers(0, 2, 10_000)
    start = time.perf_counter()
    r = paired_bootstrap(mean_delta, a, b, n_resamples=2000, vectorized=True, null_value=0.0)
    assert time.perf_counter() - start < 10
    assert r.ci_low < r.estimate < r.ci_high


@pytest.mark.parametrize(("arrays", "kwargs", "message"), [
    (([1, 2, 3], [1, 2]), {}, r"equal lengths.*\[3, 2\]"),
    (([],), {}, "must not be empty"),
    (([1, 2],), {"confidence": 1.0}, r"open interval \(0, 1\). Got 1.0"),
    (([1, 2],), {"confidence": 0}, "Got 0 instead"),
    (([1, 2],), {"n_resamples": 0}, "n_resamples must be a positive int. Got 0"),
    (([[1, 2], [3, 4]],), {}, r"must be 1-D. Got shape \(2, 2\)"),
])
def test_paired_bootstrap_rejects_bad_input_and_says_what_it_got(arrays, kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(lambda a: float(np.mean(a)), *arrays, **kwargs)


def test_statistic_undefined_on_resamples_is_an_error_not_a_nan():
    # Finite on the data (max 2), infinite on every resample whose max is 1.
    def stat(a):
        with np.errstate(divide="ignore"):
            return 1.0 / (a.max(axis=-1) - 1.0)

    with pytest.raises(ValueError, match=r"not finite on \d+ of 50 resamples.*zero_division"):
        paired_bootstrap(stat, np.array([0.0, 0.0, 1.0, 2.0]), n_resamples=50, vectorized=True)


def test_vectorized_statistic_must_return_one_value_per_row():
    with pytest.raises(ValueError, match="one value per resample row"):
        paired_bootstrap(lambda a: a.mean(), np.arange(5.0), vectorized=True, n_resamples=10)


# --- mean / median -------------------------------------------------------------------------------------------


def test_mean_and_median_cis():
    x = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    mean, median = bootstrap_mean_ci(x), bootstrap_median_ci(x)
    assert mean.estimate == 22.0 and median.estimate == 3.0
    assert 1.0 <= median.ci_low <= 3.0 <= median.ci_high <= 100.0
    assert 1.0 <= mean.ci_low < 22.0 < mean.ci_high <= 100.0


def test_mean_ci_rejects_non_finite_values():
    with pytest.raises(ValueError, match=r"finite numbers. Got \[nan\]"):
        bootstrap_mean_ci([1.0, float("nan"), 2.0])


def test_mean_ci_rejects_non_numeric_values():
    with pytest.raises(ValueError, match="numeric"):
        bootstrap_mean_ci(["a", "b"])


# --- exact tests -------------------------------------------------------------------------------------------


def test_mcnemar_exact_hand_computed():
    # b = 5 (only A correct), c = 1 (only B correct): p = 2 * P(X <= 1 | n=6, 1/2) = 2 * 7/64.
    a = [1, 1, 1, 1, 1, 0, 1, 0]
    b = [0, 0, 0, 0, 0, 1, 1, 0]
    r = mcnemar_exact(a, b)
    assert (r.b, r.c) == (5, 1)
    assert r.p_value == pytest.approx(14 / 64)


def test_mcnemar_without_discordant_pairs_has_p_one():
    assert mcnemar_exact([True, False, True], [True, False, True]).p_value == 1.0


def test_mcnemar_validates():
    with pytest.raises(ValueError, match="equal lengths"):
        mcnemar_exact([1, 0], [1])
    with pytest.raises(ValueError, match="booleans.*2"):
        mcnemar_exact([1, 2], [1, 0])


def test_sign_test():
    assert sign_test(9, 1) == pytest.approx(22 / 1024)
    assert sign_test(5, 5) == 1.0
    assert sign_test(0, 0) == 1.0
    with pytest.raises(ValueError, match="wins must be a non-negative int. Got -1"):
        sign_test(-1, 3)


def test_wilson_interval_hand_computed():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.49016, abs=1e-4) and high == pytest.approx(0.94331, abs=1e-4)
    low0, high0 = wilson_interval(0, 10)
    assert low0 == pytest.approx(0.0, abs=1e-12) and 0.2 < high0 < 0.35  # never a zero-width interval
    with pytest.raises(ValueError, match="k=11, n=10"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 10, confidence=95)


def test_wilcoxon_signed_rank():
    r = wilcoxon_signed_rank([2, 3, 4, 5, 6], [1, 1, 1, 1, 1])
    assert r.p_value == pytest.approx(2 / 32)  # exact: every difference positive, 5 pairs
    assert r.n_nonzero == 5


def test_wilcoxon_all_zero_differences_is_a_policy_not_a_crash():
    r = wilcoxon_signed_rank([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert (r.p_value, r.n_nonzero, r.note) == (1.0, 0, "all differences are zero")


def test_wilcoxon_validates_zero_method():
    with pytest.raises(ValueError, match="zero_method.*Got 'drop'"):
        wilcoxon_signed_rank([1, 2], [2, 1], zero_method="drop")


def test_min_items_policy():
    assert MIN_ITEMS_FOR_TEST == 10
    assert not has_enough_items(MIN_ITEMS_FOR_TEST - 1)
    assert has_enough_items(MIN_ITEMS_FOR_TEST)


def test_docstring_examples_run():
    import doctest

    import evalkit.stats

    result = doctest.testmod(evalkit.stats)
    assert result.attempted > 0 and result.failed == 0
