"""The monitor the runner calls after each batch: same sequence as the vectorised one, stops when every
comparison is decided or the items run out, replays stored results, round-trips through JSON."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.records import ModelScore, SampleResult
from evalkit.sequential import (
    ComparisonSpec,
    SequentialMonitor,
    SequentialPlan,
    SequentialResult,
    batches,
    draw_order,
    paired_difference_cs,
)

ACC = ComparisonSpec(key="ft-base/accuracy", model="ft", reference="base", metric="accuracy")


def suite(n: int, p_plus: float, p_minus: float, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Per sample id: (ft, base) correctness."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n):
        u, base = rng.uniform(), float(rng.uniform() < 0.6)
        ft = base
        if u < p_plus:
            ft, base = 1.0, 0.0
        elif u < p_plus + p_minus:
            ft, base = 0.0, 1.0
        out[f"s{i}"] = (ft, base)
    return out


def results_for(ids, scores) -> list[SampleResult]:
    return [SampleResult(sample_id=i, scores={"ft": ModelScore(value=scores[i][0]),
                                              "base": ModelScore(value=scores[i][1])}) for i in ids]


def run(plan: SequentialPlan, scores) -> SequentialMonitor:
    monitor = SequentialMonitor(plan)
    for ids in batches(draw_order(list(scores), plan.seed), plan.batch_size):
        if monitor.update_results(results_for(ids, scores)):
            break
    return monitor


def test_looks_equal_the_vectorised_sequence_in_draw_order():
    scores = suite(600, 0.1, 0.1)
    plan = SequentialPlan(comparisons=(ACC,), batch_size=40, items_total=600, target="suite")
    monitor = run(plan, scores)
    order = draw_order(list(scores), plan.seed)
    d = np.array([scores[i][0] - scores[i][1] for i in order])
    low, high = paired_difference_cs(d, span=1.0, population=600)
    seq = monitor.state(ACC.key).looks
    assert len(seq) == 15 and seq[-1].drawn == 600
    for k, look in enumerate(seq):
        t = (k + 1) * 40
        assert look.n == t and look.estimate == pytest.approx(d[:t].mean())
        assert look.low == pytest.approx(low[t - 1], abs=1e-12) and look.high == pytest.approx(high[t - 1], abs=1e-12)


def test_stops_when_decided_and_counts_the_items_saved():
    scores = suite(1000, 0.22, 0.03)                            # +19 points
    monitor = run(SequentialPlan(comparisons=(ACC,), items_total=1000), scores)
    result = monitor.result()
    assert result.stopped == "decided" and result.items_drawn < 1000
    assert result.items_saved == 1000 - result.items_drawn
    outcome = result.comparisons[0]
    assert outcome.decision.kind == "above" and outcome.decision.drawn == result.items_drawn


def test_runs_out_of_items_when_there_is_no_difference():
    scores = suite(300, 0.1, 0.1)
    monitor = run(SequentialPlan(comparisons=(ACC,), items_total=300), scores)
    result = monitor.result()
    assert result.items_drawn == 300 and result.stopped == "exhausted" and monitor.stop
    assert result.comparisons[0].decision.kind == "undecided"


def test_the_suite_target_is_exact_once_every_item_is_drawn():
    scores = suite(300, 0.1, 0.1)
    suite_mean = np.mean([ft - base for ft, base in scores.values()])
    monitor = run(SequentialPlan(comparisons=(ACC,), items_total=300, target="suite"), scores)
    last = monitor.state(ACC.key).looks[-1]
    assert last.drawn == 300 and last.low == pytest.approx(suite_mean) and last.high == pytest.approx(suite_mean)
    # So a suite-target run always decides by the end (unless the suite's mean difference is exactly zero).
    assert monitor.result().stopped == "decided"


def test_every_comparison_must_decide_before_stopping():
    scores = suite(1000, 0.22, 0.03)
    gated = ACC.model_copy(update={"key": "gated", "bounds": (0.18,)})   # a gate bound near the truth (0.19)
    monitor = run(SequentialPlan(comparisons=(ACC, gated), items_total=1000), scores)
    decisions = monitor.decisions
    assert decisions[ACC.key].decided
    assert decisions["gated"].drawn is None or decisions["gated"].drawn >= decisions[ACC.key].drawn
    assert monitor.items_drawn >= decisions[ACC.key].drawn


def test_replay_of_stored_results_continues_the_same_sequence():
    scores = suite(500, 0.15, 0.05)
    plan = SequentialPlan(comparisons=(ACC,), batch_size=50, items_total=500)
    order = draw_order(list(scores), plan.seed)
    live = SequentialMonitor(plan)
    for ids in batches(order[:200], 50):
        live.update_results(results_for(ids, scores))
    stored = results_for(list(reversed(order[:200])), scores)    # stored in completion order, not draw order
    replayed = SequentialMonitor.replay(plan, stored)
    assert replayed.state(ACC.key) == live.state(ACC.key)
    for ids in batches(order[200:300], 50):
        live.update_results(results_for(ids, scores))
        replayed.update_results(results_for(ids, scores))
    assert replayed.result() == live.result()


def test_missing_values_are_left_out_and_counted():
    plan = SequentialPlan(comparisons=(ACC,), batch_size=3, items_total=10)
    monitor = SequentialMonitor(plan)
    monitor.update({"a": {ACC.key: 1.0}, "b": {ACC.key: None}, "c": {ACC.key: 0.0}})
    state = monitor.state(ACC.key)
    assert state.skipped == 1 and state.looks[0].n == 2 and state.looks[0].drawn == 3
    r = SampleResult(sample_id="d", scores={"ft": ModelScore(value=None), "base": ModelScore(value=1.0)})
    monitor.update_results([r])
    assert monitor.state(ACC.key).skipped == 2


def test_a_comparison_margin_overrides_the_plan_margin():
    scores = suite(1000, 0.05, 0.05)                          # no difference
    judge = ComparisonSpec(key="judge", model="ft", reference="base", metric="score", margin=0.15)
    plan = SequentialPlan(comparisons=(ACC, judge), margin=0.02, items_total=1000)
    monitor = run(plan, scores)
    assert plan.margin_of(ACC) == 0.02 and plan.margin_of(judge) == 0.15
    assert monitor.decisions["judge"].kind == "equivalent"
    assert monitor.decisions[ACC.key].kind == "undecided"     # 0.02 is too tight for 1,000 items


def test_bad_batches_are_rejected():
    plan = SequentialPlan(comparisons=(ACC,), batch_size=2, items_total=3)
    monitor = SequentialMonitor(plan)
    monitor.update({"a": {ACC.key: 1.0}, "b": {ACC.key: 0.0}})
    with pytest.raises(ValueError, match="already seen"):
        monitor.update({"a": {ACC.key: 1.0}})
    with pytest.raises(ValueError, match="outside"):
        monitor.update({"c": {ACC.key: 2.0}})
    with pytest.raises(ValueError, match="no entry for comparison"):
        monitor.update({"c": {}})
    with pytest.raises(ValueError, match="more items drawn"):
        monitor.update({"c": {ACC.key: 1.0}, "d": {ACC.key: 1.0}})


def test_the_result_round_trips_through_json():
    scores = suite(200, 0.2, 0.05)
    plan = SequentialPlan(comparisons=(ACC.model_copy(update={"bounds": (0.05,)}),), batch_size=25,
                          margin=0.02, items_total=200, seed=4)
    result = run(plan, scores).result()
    assert SequentialResult.model_validate_json(result.model_dump_json()) == result
    assert "distribution" in result.method
    suite_plan = plan.model_copy(update={"target": "suite"})
    assert "this suite's 200 items (sampling without replacement)" in run(suite_plan, scores).result().method


@pytest.mark.parametrize("make, message", [
    (lambda: ComparisonSpec(key="k", model="a", reference="b", metric="m", value_low=1, value_high=1),
     "value_high must be greater"),
    (lambda: ComparisonSpec(key="k", model="a", reference="b", metric="m", bounds=(1.5,)), "strictly inside"),
    (lambda: SequentialPlan(comparisons=()), "at least one comparison"),
    (lambda: SequentialPlan(comparisons=(ACC, ACC)), "unique"),
    (lambda: SequentialPlan(comparisons=(ACC,), margin=1.0), "margin 1 must be smaller"),
    (lambda: SequentialPlan(comparisons=(ACC,), batch_size=0), "greater than or equal to 1"),
    (lambda: SequentialPlan(comparisons=(ACC,), target="suite"), "needs items_total"),
    (lambda: ComparisonSpec(key="k", model="a", reference="b", metric="m", margin=1.0), "margin 1 must be smaller"),
])
def test_plans_validate_their_fields(make, message):
    with pytest.raises(ValueError, match=message):
        make()
