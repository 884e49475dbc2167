"""Simulated sequential runs: peeking after every batch keeps the false decision rate at most alpha for the
confidence sequence, while the same peeking with fixed-n tests does not. Vectorised over runs, seeded."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evalkit.sequential import KIND_ABOVE, KIND_EQUIVALENT, KIND_UNDECIDED, first_decision, paired_difference_cs

RUNS, ITEMS, BATCH, ALPHA = 2000, 1000, 50, 0.05
LOOK_AT = np.arange(BATCH, ITEMS + 1, BATCH) - 1          # index of the last item of each batch


def iid_differences(rng: np.random.Generator, p_plus: float, p_minus: float, runs: int = RUNS) -> np.ndarray:
    """Paired 0/1 outcomes as differences: +1 only the model right, -1 only the reference right, else 0."""
    u = rng.uniform(size=(runs, ITEMS))
    return np.where(u < p_plus, 1.0, np.where(u < p_plus + p_minus, -1.0, 0.0))


def finite_population_null(rng: np.random.Generator) -> np.ndarray:
    """A suite of 1000 items whose mean difference is exactly 0 (100 won, 100 lost), in random orders."""
    population = np.array([1.0] * 100 + [-1.0] * 100 + [0.0] * 800)
    return rng.permuted(np.tile(population, (RUNS, 1)), axis=1)


def cs_at_looks(d: np.ndarray, population: int | None = None, alpha: float = ALPHA):
    low, high = paired_difference_cs(d, span=1.0, alpha=alpha, population=population)
    return low[:, LOOK_AT], high[:, LOOK_AT]


def naive_mcnemar_any(d: np.ndarray, looks: np.ndarray = LOOK_AT) -> np.ndarray:
    """Exact McNemar p <= 0.05 at any of `looks` (the fixed-n test, repeated after every batch)."""
    b = np.cumsum(d > 0, axis=1)[:, looks]
    c = np.cumsum(d < 0, axis=1)[:, looks]
    p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(b, c), b + c, 0.5))
    return (p <= 0.05).any(axis=1)


def naive_t_any(d: np.ndarray) -> np.ndarray:
    """Paired t-test p < 0.05 at any look."""
    n = LOOK_AT + 1
    mean = np.cumsum(d, axis=1)[:, LOOK_AT] / n
    var = (np.cumsum(d ** 2, axis=1)[:, LOOK_AT] - n * mean ** 2) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / np.sqrt(var / n)
    p = 2 * stats.t.sf(np.abs(np.nan_to_num(t)), n - 1)
    return (p < 0.05).any(axis=1)


@pytest.mark.parametrize("design", ["iid", "finite population"])
def test_peeking_every_batch_keeps_false_decisions_below_alpha_and_naive_tests_do_not(design):
    rng = np.random.default_rng(20240601)
    if design == "iid":
        d, population = iid_differences(rng, 0.1, 0.1), None
    else:
        d, population = finite_population_null(rng), ITEMS
    low, high = cs_at_looks(d, population)
    _, kind = first_decision(low, high)
    false_rate = float(np.mean(kind != KIND_UNDECIDED))
    mcnemar_rate = float(np.mean(naive_mcnemar_any(d)))
    t_rate = float(np.mean(naive_t_any(d)))
    print(f"{design}: CS {false_rate:.4f}, naive McNemar {mcnemar_rate:.4f}, naive t {t_rate:.4f}")
    assert false_rate <= ALPHA
    # 20 looks of a fixed-n test: above the nominal rate by far more than the binomial noise of 2,000 runs
    # around 0.05 (sd 0.005): 0.17 (McNemar) and 0.24 (t) i.i.d.; 0.07 and 0.12 for a finite suite, where the
    # exact McNemar test is conservative and the late looks see most of the suite.
    inflated = 0.10 if design == "iid" else 0.06
    assert mcnemar_rate > inflated and t_rate > inflated
    # One look of the same test is a valid 5% test: the inflation comes from peeking.
    assert np.mean(naive_mcnemar_any(d, looks=LOOK_AT[1:2])) <= 0.06


def test_a_gate_bound_at_the_true_difference_is_rarely_settled():
    # True difference exactly 0.05 = the gate bound: any verdict on the bound is false.
    rng = np.random.default_rng(7)
    low, high = cs_at_looks(iid_differences(rng, 0.15, 0.10))
    _, kind = first_decision(low, high, bounds=(0.05,))
    assert np.mean(kind != KIND_UNDECIDED) <= ALPHA


def test_equivalence_is_rarely_claimed_when_the_difference_exceeds_the_margin_and_often_when_it_is_zero():
    rng = np.random.default_rng(11)
    low, high = cs_at_looks(iid_differences(rng, 0.115, 0.085))      # true difference 0.03 > margin 0.02
    _, kind = first_decision(low, high, margin=0.02)
    assert np.mean(kind == KIND_EQUIVALENT) <= ALPHA
    low, high = cs_at_looks(iid_differences(rng, 0.05, 0.05, runs=500))   # true difference 0
    _, kind = first_decision(low, high, margin=0.08)
    assert np.mean(kind == KIND_EQUIVALENT) > 0.9


def test_a_clear_difference_is_decided_early_and_on_the_right_side():
    rng = np.random.default_rng(3)
    low, high = cs_at_looks(iid_differences(rng, 0.2, 0.05, runs=500))   # +15 points, discordance 0.25
    look, kind = first_decision(low, high)
    assert np.all(kind == KIND_ABOVE)
    items = (look + 1) * BATCH
    assert np.median(items) <= 300      # fixed-n McNemar at 80% power needs 85 items; the CS a few times more
