"""The multiple_choice task on a hand-worked set: 12 items, 3 attempts, two models (values computed by hand)."""

from __future__ import annotations

import asyncio
import statistics
from fractions import Fraction
from pathlib import Path

import pytest

from evalkit.errors import ConfigError, DataError
from evalkit.records import Generation, Prompt, Sample
from evalkit.tasks import ScoringContext, SummaryContext, create_task
from evalkit.tasks.multiple_choice import create

SUITE = Path("benchmarks/mcq/suite.yaml")
OPTIONS = ["trisomy 21", "trisomy 18", "monosomy X", "trisomy 13"]
TARGETS = "ABCDABCDABCD"
SAMPLES = [Sample(id=f"q{i + 1}", input=f"question {i + 1}", target=t, fields={"options": OPTIONS})
           for i, t in enumerate(TARGETS)]
T, W, INV, FAIL = "right", "wrong", "unsure", None


def wrong(letter: str) -> str:
    return "ABCD"[("ABCD".index(letter) + 1) % 4]


def output(kind: str | None, target: str) -> str | None:
    """A realistic output for an attempt: right / wrong letter, an unparsable hedge, or a failed call (None)."""
    if kind is None:
        return None
    if kind == INV:
        return "I'm not sure; it could be any of them."
    return f"Answer: {target if kind == T else wrong(target)}"


# Per model, per item: the outcome of attempts 1-3.
PLAN = {
    "ft": [[T, T, T]] * 9 + [[T, W, W], [W, INV, T], [FAIL, T, T]],
    "base": [[T, T, T]] * 6 + [[W, W, W]] * 6,
}


def gens(model: str, i: int, attempts: int = 3) -> tuple[Generation, ...]:
    out = []
    for a, kind in enumerate(PLAN[model][i][:attempts]):
        text = output(kind, TARGETS[i])
        out.append(Generation(sample_id=SAMPLES[i].id, model=model, model_id=model, attempt=a, prompt=Prompt(text="q"),
                              output=text, error=None if text is not None else "HTTP 503 (gave up after 3 tries)",
                              latency_s=0.1))
    return tuple(out)


def summarize(attempts: int = 3, models: tuple[str, ...] = ("base", "ft")):
    task = create({}, SUITE)

    async def run():
        return [await task.score(s, {m: gens(m, i, attempts) for m in models}, ScoringContext())
                for i, s in enumerate(SAMPLES)]

    results = asyncio.run(run())
    return results, task.summarize(SAMPLES, results, SummaryContext(models=models, reference="base", n_bootstrap=400))


def metric(summary, model, name):
    return next(m for m in summary.metrics[model] if m.name == name)


def test_item_scores() -> None:
    results, _ = summarize()
    s10, s11, s12 = (results[i].scores["ft"] for i in (9, 10, 11))
    assert s10.value == pytest.approx(1 / 3) and s10.label == "C" and s10.correct is False  # majority W = C
    assert s10.details["answers"] == ["B", "C", "C"] and s10.details["agreement"] == pytest.approx(2 / 3)
    assert s11.label == "tie" and s11.correct is False and s11.details["answers"] == ["D", "invalid", "C"]
    assert s11.details["parse_rules"] == ["leading_letter", "none", "leading_letter"]
    assert s12.value == 1.0 and s12.details["failed_attempts"] == 1 and s12.details["answers"] == [None, "D", "D"]


def test_attempt_metrics_hand_computed() -> None:
    _, summary = summarize()
    ft = {name: metric(summary, "ft", name).value for name in
          ("accuracy", "accuracy_sd", "majority_accuracy", "agreement", "unanimous_rate", "invalid_rate", "n")}
    # Item means: nine 1s, 1/3, 1/3, 1 (the failed attempt left out) -> 32/36.
    assert ft["accuracy"] == pytest.approx(8 / 9)
    assert ft["majority_accuracy"] == pytest.approx(10 / 12)
    assert ft["agreement"] == pytest.approx((9 + 2 / 3 + 1 / 3 + 1) / 12)
    assert ft["unanimous_rate"] == pytest.approx(10 / 12)
    assert ft["invalid_rate"] == pytest.approx((1 / 3) / 12)
    # Per-attempt accuracies 10/11 (q12 failed), 10/12, 11/12; their sample standard deviation:
    per_attempt = [Fraction(10, 11), Fraction(10, 12), Fraction(11, 12)]
    assert ft["accuracy_sd"] == pytest.approx(statistics.stdev(float(x) for x in per_attempt))
    assert ft["n"] == 12
    base = {m.name: m.value for m in summary.metrics["base"]}
    assert base["accuracy"] == 0.5 and base["majority_accuracy"] == 0.5 and base["agreement"] == 1.0
    assert base["accuracy_sd"] == 0.0
    table = next(t for t in summary.tables if t.title.startswith("Accuracy per attempt"))
    row = next(r for r in table.rows if r[0] == "ft")
    assert row[1:4] == pytest.approx([float(x) for x in per_attempt])
    outcomes = next(t for t in summary.tables if t.title.startswith("Answer outcomes"))
    assert next(r for r in outcomes.rows if r[0] == "ft") == ("ft", 31, 3, 1, 1)
    assert any("1 of 35 answers named no option" in n for n in summary.notes)


def test_paired_comparisons() -> None:
    _, summary = summarize()
    acc = next(c for c in summary.comparisons if c.metric == "accuracy")
    maj = next(c for c in summary.comparisons if c.metric == "majority_accuracy")
    assert acc.delta == pytest.approx(8 / 9 - 1 / 2) and acc.test == "paired-bootstrap" and acc.n == 12
    assert acc.ci_low <= acc.delta <= acc.ci_high
    # Majority vote: ft alone right on q7, q8, q9, q12; base alone right on none -> exact p = 2 * 0.5**4.
    assert maj.delta == pytest.approx(4 / 12) and maj.test == "mcnemar-exact"
    assert maj.p_value == pytest.approx(0.125) and "4 only ft correct, 0 only base correct" in maj.note


def test_single_attempt_reports_accuracy_with_mcnemar() -> None:
    _, summary = summarize(attempts=1)
    names = [m.name for m in summary.metrics["ft"]]
    assert names == ["accuracy", "invalid_rate", "n"]
    # Attempt 1: ft right on q1-q10, wrong on q11, failed on q12 (left out) -> 10/11.
    assert metric(summary, "ft", "accuracy").value == pytest.approx(10 / 11)
    (acc,) = summary.comparisons
    assert acc.test == "mcnemar-exact" and acc.n == 11 and acc.delta == pytest.approx(10 / 11 - 6 / 11)
    assert any("item(s) without any output" in n for n in summary.notes)


def test_a_single_generation_is_accepted_as_one_attempt() -> None:
    task = create({}, SUITE)
    g = gens("ft", 0, 1)[0]
    r = asyncio.run(task.score(SAMPLES[0], {"ft": g}, ScoringContext()))
    assert r.scores["ft"].value == 1.0 and r.scores["ft"].details["answers"] == ["A"]


def test_targets_options_and_prompt_vars() -> None:
    task = create({"option_columns": ["A", "B", "C"], "context_field": "passages"}, SUITE)
    s = Sample(id="x", input="q", target="no", fields={"A": "yes", "B": "no", "C": "maybe", "passages": ["p1", "p2"]})
    v = task.prompt_vars(s)
    assert v["options_block"] == "A. yes\nB. no\nC. maybe" and v["letters"] == "A, B or C"
    assert v["context"] == "p1\n\np2" and v["choices"][1] == {"letter": "B", "text": "no"}
    r = asyncio.run(task.score(s, {"m": Generation(sample_id="x", model="m", model_id="m", prompt=Prompt(text="q"),
                                                    output="No, it did not.")}, ScoringContext()))
    assert r.scores["m"].correct is True  # target given as option text, answered with option text
    mapping = create({}, SUITE)
    s2 = Sample(id="y", input="q", target="(b)", fields={"options": {"A": "x", "B": "y"}})
    assert mapping._item(s2).target == "B"


@pytest.mark.parametrize(("fields", "target", "message"), [
    ({"options": ["x"]}, "A", "must hold 2 to 26 options"),
    ({}, "A", "must hold 2 to 26 options"),
    ({"options": {"B": "x", "A": "y"}}, "A", "must map the letters A, B, ... in order"),
    ({"options": ["x", "y"]}, "C", "target 'C' must be one of the letters A, B or one option's text"),
])
def test_bad_samples_name_the_sample(fields, target, message) -> None:
    task = create({}, SUITE)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        task._item(Sample(id="bad", input="q", target=target, fields=fields))


def test_bad_task_args() -> None:
    with pytest.raises(ConfigError, match=r"task_args.optons_field: unknown field"):
        create({"optons_field": "x"}, SUITE)
    with pytest.raises(ConfigError, match="option_columns must name distinct fields"):
        create({"option_columns": ["A", "A"]}, SUITE)
    assert create_task("multiple_choice", {}, SUITE).uses_attempts is True
