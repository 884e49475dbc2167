import pytest

from evalkit.operational import operational_metrics
from evalkit.records import Generation, Prompt, Usage
from evalkit.stats import TOO_FEW_ITEMS

PROMPT = Prompt(text="q")


def gen(model, sid, *, latency=1.0, prompt_tokens=100, completion_tokens=5, cost=0.001, error=None, attempt=0,
        cached=False):
    return Generation(sample_id=sid, model=model, model_id=f"{model}-id", attempt=attempt, prompt=PROMPT,
                      output=None if error else "x", error=error, latency_s=latency,
                      usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
                      cost_usd=cost, cached=cached)


def by_name(metrics):
    return {m.name: m for m in metrics}


def small_run():
    base = [gen("base", f"s{i}", latency=lat, completion_tokens=c)
            for i, (lat, c) in enumerate([(1.0, 4), (2.0, 6), (3.0, 5), (10.0, 5)], 1)]
    ft = [gen("ft", "s1", latency=0.5, prompt_tokens=66, completion_tokens=1, cost=0.0005),
          gen("ft", "s2", latency=1.0, prompt_tokens=66, completion_tokens=1, cost=None),
          gen("ft", "s3", latency=1.5, prompt_tokens=66, completion_tokens=1, cost=0.0005, cached=True),
          gen("ft", "s4", latency=None, prompt_tokens=None, completion_tokens=None, cost=None, error="timeout")]
    return base + ft


def test_per_model_metrics_hand_computed():
    metrics, _ = operational_metrics(small_run(), ["base", "ft"], "base")
    assert list(metrics) == ["base", "ft"]
    b, f = by_name(metrics["base"]), by_name(metrics["ft"])
    assert list(b) == ["n_calls", "failed", "latency_p50_s", "latency_p95_s", "latency_mean_s",
                       "prompt_tokens_mean", "completion_tokens_mean", "cost_usd", "cost_per_1k_usd"]
    assert (b["n_calls"].value, b["failed"].value) == (4.0, 0.0)
    assert b["latency_p50_s"].value == pytest.approx(2.5)
    # numpy's linear percentile: rank 0.95 * 3 = 2.85, between 3.0 and 10.0 -> 3 + 0.85 * 7
    assert b["latency_p95_s"].value == pytest.approx(8.95)
    assert b["latency_mean_s"].value == pytest.approx(4.0)
    assert b["latency_mean_s"].ci_low <= 4.0 <= b["latency_mean_s"].ci_high
    assert b["latency_p50_s"].ci_low <= 2.5 <= b["latency_p50_s"].ci_high
    assert b["prompt_tokens_mean"].value == 100.0 and b["completion_tokens_mean"].value == 5.0
    assert b["cost_usd"].value == pytest.approx(0.004)
    assert b["cost_per_1k_usd"].value == pytest.approx(1.0)

    # ft: s4 failed (counted, not timed); s3 was served from the cache and keeps its original latency.
    assert (f["n_calls"].value, f["failed"].value) == (4.0, 1.0)
    assert f["latency_p50_s"].value == pytest.approx(1.0) and f["latency_p50_s"].n == 3
    assert f["latency_mean_s"].value == pytest.approx(1.0)
    assert f["latency_p95_s"].value == pytest.approx(1.45)
    assert f["prompt_tokens_mean"].value == 66.0 and f["completion_tokens_mean"].value == 1.0
    # One successful call has no price: the total is unknown, not a partial sum.
    assert f["cost_usd"].value is None and f["cost_per_1k_usd"].value is None


def test_directions_and_units():
    metrics, _ = operational_metrics(small_run(), ["base", "ft"], "base")
    for m in metrics["base"]:
        assert m.higher_is_better is (None if m.name == "n_calls" else False), m.name
    units = {m.name: m.unit for m in metrics["base"]}
    assert units["latency_p50_s"] == "s" and units["cost_usd"] == "USD" and units["prompt_tokens_mean"] == "tokens"


def test_failed_call_without_cost_does_not_make_cost_unknown():
    gens = [gen("m", "s1", cost=0.002), gen("m", "s2", cost=0.004),
            gen("m", "s3", error="HTTP 500", cost=None, latency=None)]
    metrics, _ = operational_metrics(gens, ["m"], "m")
    m = by_name(metrics["m"])
    assert m["cost_usd"].value == pytest.approx(0.006)
    assert m["cost_per_1k_usd"].value == pytest.approx(3.0)  # 0.006 over 2 successful calls, x 1000


def test_comparisons_below_min_items_are_point_estimates_only():
    _, comps = operational_metrics(small_run(), ["base", "ft"], "base")
    c = {x.metric: x for x in comps}
    assert set(c) == {"prompt_tokens_rel_change", "latency_p50_delta_s"}
    tokens, latency = c["prompt_tokens_rel_change"], c["latency_p50_delta_s"]
    # 3 pairs where both succeeded (s1-s3): 66 vs 100 tokens, medians 1.0 vs 2.0 s.
    assert tokens.delta == pytest.approx(-0.34) and tokens.n == 3
    assert latency.delta == pytest.approx(-1.0) and latency.n == 3
    for x in (tokens, latency):
        assert (x.model, x.reference, x.note) == ("ft", "base", TOO_FEW_ITEMS)
        assert (x.ci_low, x.ci_high, x.p_value) == (None, None, None)


def test_comparisons_with_enough_pairs_have_bootstrap_ci_and_p():
    gens = []
    for i in range(20):
        gens.append(gen("base", f"s{i}", latency=1.0 + 0.1 * i, prompt_tokens=100 + 10 * i))
        # ft: 0.5 s faster on every item and 34% fewer prompt tokens, exactly.
        gens.append(gen("ft", f"s{i}", latency=0.5 + 0.1 * i, prompt_tokens=round((100 + 10 * i) * 0.66)))
    _, comps = operational_metrics(gens, ["base", "ft"], "base", seed=3, n_bootstrap=500)
    c = {x.metric: x for x in comps}
    lat = c["latency_p50_delta_s"]
    assert lat.delta == pytest.approx(-0.5)
    # A constant shift moves every resample's median by exactly 0.5.
    assert lat.ci_low == pytest.approx(-0.5) and lat.ci_high == pytest.approx(-0.5)
    assert lat.p_value == pytest.approx(2 / 501) and lat.test == "paired-bootstrap" and lat.n == 20
    tok = c["prompt_tokens_rel_change"]
    assert tok.delta == pytest.approx(-0.34, abs=0.002)
    assert tok.ci_low == pytest.approx(-0.34, abs=0.005) and tok.ci_high == pytest.approx(-0.34, abs=0.005)
    assert tok.significant


def test_pairs_by_sample_and_attempt():
    gens = [gen("a", "s1", latency=1.0, attempt=0), gen("a", "s1", latency=3.0, attempt=1),
            gen("b", "s1", latency=2.0, attempt=1)]
    _, comps = operational_metrics(gens, ["a", "b"], "a")
    lat = next(x for x in comps if x.metric == "latency_p50_delta_s")
    assert lat.n == 1 and lat.delta == pytest.approx(-1.0)  # b's attempt 1 (2.0 s) vs a's attempt 1 (3.0 s)


def test_three_models_compare_each_to_the_reference_and_empty_model_is_reported():
    gens = [gen(m, f"s{i}") for m in ("base", "ft1") for i in range(3)]
    metrics, comps = operational_metrics(gens, ["base", "ft1", "ft2"], "base")
    assert [(c.model, c.metric) for c in comps] == [("ft1", "prompt_tokens_rel_change"),
                                                    ("ft1", "latency_p50_delta_s"),
                                                    ("ft2", "prompt_tokens_rel_change"),
                                                    ("ft2", "latency_p50_delta_s")]
    empty = by_name(metrics["ft2"])
    assert empty["n_calls"].value == 0.0 and empty["latency_p50_s"].value is None
    assert empty["cost_usd"].value is None
    assert all(c.delta is None and c.note for c in comps if c.model == "ft2")


def test_zero_reference_tokens_is_undefined_not_infinite():
    gens = [gen("a", "s1", prompt_tokens=0), gen("b", "s1", prompt_tokens=10)]
    _, comps = operational_metrics(gens, ["a", "b"], "a")
    tok = next(x for x in comps if x.metric == "prompt_tokens_rel_change")
    assert tok.delta is None and "zero" in tok.note


@pytest.mark.parametrize(("gens", "models", "reference", "message"), [
    ([], ["a"], "b", r"reference must be among \['a'\]. Got 'b'"),
    ([], [], "a", "non-empty"),
    ([gen("c", "s1")], ["a"], "a", r"model 'c', which must be among \['a'\]"),
    ([gen("a", "s1"), gen("a", "s1")], ["a"], "a", "two generations for sample 's1', attempt 0"),
])
def test_validation(gens, models, reference, message):
    with pytest.raises(ValueError, match=message):
        operational_metrics(gens, models, reference)
