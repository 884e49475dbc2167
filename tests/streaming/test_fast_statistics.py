"""The faster statistics behind the fixed-cost target give the answers of the slow ones: the closed-form
tests agree with scipy/statsmodels, bootstraps from weights equal gathered ones exactly, bootstraps from counts
have the same distribution, and operational metrics do not depend on the order calls finished in."""

from __future__ import annotations

import random

import numpy as np
import pytest

from evalkit.operational import operational_metrics
from evalkit.records import Generation, Prompt, Usage
from evalkit.stats import (
    binomial_two_sided,
    bootstrap_counts,
    mcnemar_exact,
    paired_bootstrap,
    paired_bootstrap_many,
    paired_bootstrap_weights,
    sign_test,
    weighted_quantile,
    wilson_interval,
)


@pytest.mark.parametrize("n", [1, 2, 7, 40, 1001, 100_000])
def test_binomial_test_agrees_with_scipy_and_statsmodels(n: int) -> None:
    from scipy.stats import binomtest
    from statsmodels.stats.contingency_tables import mcnemar

    rng = random.Random(n)
    for k in {0, n, n // 2, *(rng.randint(0, n) for _ in range(20))}:
        p = binomial_two_sided(min(k, n - k), n)
        assert p == pytest.approx(min(1.0, mcnemar([[0, k], [n - k, 0]], exact=True).pvalue), rel=1e-7, abs=1e-300)
        assert p == pytest.approx(binomtest(k, n, 0.5).pvalue, rel=1e-7, abs=1e-300)
        assert sign_test(k, n - k) == p


def test_mcnemar_counts_discordant_pairs() -> None:
    a = np.array([1] * 30 + [0] * 10 + [1] * 5 + [0] * 55, dtype=bool)
    b = np.array([0] * 30 + [1] * 10 + [1] * 5 + [0] * 55, dtype=bool)
    r = mcnemar_exact(a, b)
    assert (r.b, r.c) == (30, 10) and r.p_value == pytest.approx(binomial_two_sided(10, 40))


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_wilson_agrees_with_statsmodels(confidence: float) -> None:
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (512, 1000), (7, 123456)]:
        low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
        assert wilson_interval(k, n, confidence) == pytest.approx((low, high), abs=1e-12)


@pytest.mark.parametrize("n", [5, 8, 333, 4000])
def test_weights_give_exactly_the_gathered_bootstrap(n: int) -> None:
    rng = np.random.default_rng(n)
    x, y = rng.exponential(size=n), rng.exponential(size=n)
    xs = np.sort(x)
    gathered = paired_bootstrap_many(lambda a: {"p50": np.median(a, axis=-1), "p95": np.percentile(a, 95, axis=-1),
                                                "mean": a.mean(axis=-1)}, xs, vectorized=True, seed=9)
    weighted = paired_bootstrap_weights(lambda w: {"p50": weighted_quantile(w, xs, 50),
                                                   "p95": weighted_quantile(w, xs, 95),
                                                   "mean": np.einsum("ij,j->i", w, xs) / n}, n, seed=9)
    for k in gathered:
        assert (weighted[k].ci_low, weighted[k].ci_high) == pytest.approx((gathered[k].ci_low, gathered[k].ci_high),
                                                                           rel=1e-12)
    # Paired data: the weights stay in the items' order, each side sorted through its own permutation.
    ox, oy = np.argsort(x), np.argsort(y)
    d = paired_bootstrap(lambda a, b: np.median(a, axis=-1) - np.median(b, axis=-1), x, y, vectorized=True,
                         seed=2, null_value=0.0)
    dw = paired_bootstrap_weights(lambda w: {"d": weighted_quantile(w, x[ox], 50, ox)
                                             - weighted_quantile(w, y[oy], 50, oy)}, n, seed=2, null_value=0.0)["d"]
    assert (dw.estimate, dw.ci_low, dw.ci_high, dw.p_value) == pytest.approx((d.estimate, d.ci_low, d.ci_high,
                                                                              d.p_value))


def test_counts_give_the_distribution_of_the_item_bootstrap() -> None:
    # 2,000 binary items, 30% ones: the interval of the mean from counts and from resampled items agree to
    # Monte Carlo error (they are draws from one distribution, not the same draws).
    rng = np.random.default_rng(0)
    x = (rng.random(2000) < 0.3).astype(int)
    by_items = paired_bootstrap(lambda a: a.mean(axis=-1), x, n_resamples=20000, vectorized=True, seed=1)
    by_counts = bootstrap_counts(lambda c: {"m": c[:, 1] / c.sum(axis=1)}, x, 2, n_resamples=20000, seed=1)["m"]
    assert by_counts.estimate == by_items.estimate == pytest.approx(x.mean())
    assert by_counts.ci_low == pytest.approx(by_items.ci_low, abs=0.002)
    assert by_counts.ci_high == pytest.approx(by_items.ci_high, abs=0.002)
    with pytest.raises(ValueError, match=r"codes must be integers in \[0, 2\)"):
        bootstrap_counts(lambda c: {"m": c[:, 0]}, [0, 2], 2)


def _gen(model: str, i: int, rng: random.Random) -> Generation:
    ok = rng.random() > 0.1
    return Generation(sample_id=f"s{i}", model=model, model_id=model, prompt=Prompt(text="q"),
                      output="x" if ok else None, error=None if ok else "HTTP 500",
                      latency_s=rng.uniform(0.05, 2.0) if ok else None,
                      usage=Usage(prompt_tokens=rng.randint(20, 60), completion_tokens=rng.randint(1, 9)),
                      cost_usd=0.001)


def test_operational_metrics_do_not_depend_on_the_order_calls_finished() -> None:
    rng = random.Random(5)
    gens = [_gen(m, i, rng) for i in range(300) for m in ("base", "ft")]
    first = operational_metrics(gens, ["base", "ft"], "base", n_bootstrap=300)
    shuffled = list(gens)
    random.Random(6).shuffle(shuffled)  # a resumed run stores cached calls first, new ones after
    assert operational_metrics(shuffled, ["base", "ft"], "base", n_bootstrap=300) == first
    metrics = {mv.name: mv for mv in first[0]["ft"]}
    ok = [g for g in gens if g.model == "ft" and g.ok]
    assert metrics["latency_p50_s"].value == pytest.approx(float(np.median([g.latency_s for g in ok])))
    assert metrics["prompt_tokens_mean"].value == pytest.approx(np.mean([g.usage.prompt_tokens for g in ok]))
    assert metrics["latency_p50_s"].ci_low < metrics["latency_p50_s"].value < metrics["latency_p50_s"].ci_high
