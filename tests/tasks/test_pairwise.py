"""The pairwise_judge task with an in-process judge: swap bookkeeping, score mapping, exclusions, summary."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from evalkit.errors import ConfigError
from evalkit.records import Generation, Prompt, Sample, SampleResult
from evalkit.tasks import ScoringContext, SummaryContext, create_task
from evalkit.tasks.pairwise import PairwiseTask
from judging.fakejudge import FATAL, choice, judge_model, scores, slots

SUITE = Path("suite.yaml")
MODELS = ("base", "ft")


def samples(n: int) -> list[Sample]:
    return [Sample(id=f"q{i:03d}", input=f"Question {i} ?") for i in range(n)]


def output(model: str, i: int) -> str:
    return f"FT answer {i}: voir l'article {i} du Code civil." if model == "ft" else f"base answer {i}"


def generation(model: str, sample: Sample, text: str | None) -> Generation:
    return Generation(sample_id=sample.id, model=model, model_id=model, prompt=Prompt(text=sample.input),
                      output=text, error=None if text is not None else "HTTP 503 (gave up after 3 tries)")


def score_all(task: PairwiseTask, judge, items: list[Sample], models=MODELS, outputs=None, ctx=None):
    outputs = outputs or {}

    async def run() -> list[SampleResult]:
        c = ctx or ScoringContext(seed=0, judge=judge)
        return list(await asyncio.gather(*(
            task.score(s, {m: generation(m, s, outputs.get((m, i), output(m, i))) for m in models}, c)
            for i, s in enumerate(items))))

    return asyncio.run(run())


def summarize(task, items, results, models=MODELS, reference="base"):
    return task.summarize(items, results, SummaryContext(models=models, reference=reference, n_bootstrap=500))


def metric(summary, model, name):
    return next(m for m in summary.metrics[model] if m.name == name)


def comparison(summary, model, name):
    return next(c for c in summary.comparisons if c.model == model and c.metric == name)


def ft_first(prompt: str) -> bool:
    return slots(prompt)[0].startswith("FT")


def item_index(prompt: str) -> int:
    return int(re.search(r"Question (\d+) \?", prompt).group(1))


@pytest.fixture(scope="module")
def legal() -> PairwiseTask:
    return create_task("pairwise_judge", {"judge": "legal_quality"}, SUITE)


def test_a_judge_that_always_prefers_slot_one(legal: PairwiseTask) -> None:
    items = samples(20)
    results = score_all(legal, judge_model(lambda p: scores(3, 0)), items)
    s = summarize(legal, items, results)
    assert metric(s, "ft", "position_bias").value == 1.0
    assert metric(s, "ft", "flip_rate").value == 1.0
    assert [metric(s, "ft", k).value for k in ("wins", "ties", "losses")] == [0, 20, 0]
    assert metric(s, "ft", "legal_quality_score").value == 1.5 == metric(s, "base", "legal_quality_score").value
    delta = comparison(s, "ft", "legal_quality_score")
    assert delta.delta == 0.0 and not delta.significant and delta.p_value == 1.0
    assert comparison(s, "ft", "net_win_rate").delta == 0.0
    verdicts = s.tables[0]
    row = dict(zip(verdicts.columns, verdicts.rows[0]))
    assert row["flips"] == 20 and row["reversals"] == 20 and row["position bias"] == 1.0


def test_a_judge_that_always_prefers_the_fine_tuned_answer(legal: PairwiseTask) -> None:
    items = samples(20)
    results = score_all(legal, judge_model(lambda p: scores(3, 1) if ft_first(p) else scores(1, 3)), items)
    s = summarize(legal, items, results)
    assert metric(s, "ft", "flip_rate").value == 0.0
    assert metric(s, "ft", "position_bias").value == 0.5
    assert metric(s, "ft", "legal_quality_score").value == 3.0 and metric(s, "base", "legal_quality_score").value == 1.0
    assert [metric(s, "ft", k).value for k in ("wins", "ties", "losses")] == [20, 0, 0]
    delta = comparison(s, "ft", "legal_quality_score")
    assert delta.delta == 2.0 and delta.significant and delta.p_value < 0.001 and delta.test == "wilcoxon-signed-rank"
    net = comparison(s, "ft", "net_win_rate")
    assert net.delta == 1.0 and net.test == "sign-test" and net.p_value < 0.001 and net.significant
    # Per sample: both orders judged, each judgment kept with the slot assignment.
    r = results[0]
    assert len(r.judgments) == 2 and {j.details["order"] for j in r.judgments} == {"base|ft", "ft|base"}
    assert r.scores["ft"].value == 3.0 and r.scores["base"].value == 1.0 and r.scores["ft"].label == "win"


def test_scores_are_mapped_back_to_models_case_study_arithmetic(legal: PairwiseTask) -> None:
    """Each answer gets a fixed score whatever its slot: the per-model means must come out exactly."""
    items = samples(100)
    ft_points = [2] * 73 + [1] * 27    # mean 1.73
    base_points = [2] * 42 + [1] * 58  # mean 1.42

    def judge(prompt: str) -> str:
        i = item_index(prompt)
        return scores(ft_points[i], base_points[i]) if ft_first(prompt) else scores(base_points[i], ft_points[i])

    s = summarize(legal, items, score_all(legal, judge_model(judge), items))
    assert metric(s, "ft", "legal_quality_score").value == pytest.approx(1.73)
    assert metric(s, "base", "legal_quality_score").value == pytest.approx(1.42)
    delta = comparison(s, "ft", "legal_quality_score")
    assert delta.delta == pytest.approx(0.31) and delta.ci_low < 0.31 < delta.ci_high and delta.significant
    assert metric(s, "ft", "flip_rate").value == 0.0


def test_invalid_failed_and_missing_are_counted_shown_and_left_out(legal: PairwiseTask) -> None:
    items = samples(12)

    def judge(prompt: str) -> str:
        i = item_index(prompt)
        if i == 3:
            return "I cannot decide."
        if i == 7:
            raise FATAL
        return scores(3, 1) if ft_first(prompt) else scores(1, 3)

    results = score_all(legal, judge_model(judge), items, outputs={("ft", 5): None})
    s = summarize(legal, items, results)
    by_id = {r.sample_id: r for r in results}
    assert len(by_id["q003"].judgments) == 6  # both orders, 1 call + 2 re-asks each
    assert all(j.details["status"] == "invalid" for j in by_id["q003"].judgments)
    assert len(by_id["q007"].judgments) == 2 and by_id["q005"].judgments == ()
    assert by_id["q003"].scores["ft"].value is None and by_id["q005"].scores["ft"].details["failed"]
    n = metric(s, "ft", "n").value
    assert n == 9 and metric(s, "ft", "legal_quality_score").n == 9
    assert metric(s, "ft", "legal_quality_score").value == 3.0  # no NaN, no zero for the left-out items
    assert metric(s, "ft", "judge_invalid").value == 2  # invalid + failed judge
    row = dict(zip(s.tables[0].columns, s.tables[0].rows[0]))
    assert (row["judge invalid"], row["judge failed"], row["no answer"]) == (1, 1, 1)
    notes = "\n".join(s.notes)
    assert "1 item(s) left out because the judge's answer in at least one order was still invalid after 2" in notes
    assert "1 item(s) left out because a judge call failed" in notes
    assert "1 item(s) left out because a model produced no answer" in notes
    assert "a verdict that changes with the order (a flip) counts as a tie" in notes
    calls = dict(zip(s.tables[-1].columns, s.tables[-1].rows[0]))
    assert calls["calls"] == 9 * 2 + 6 + 2 and calls["re-asks"] == 4 and calls["failed calls"] == 2


def test_preference_judge_a_b_tie(tmp_path: Path) -> None:
    task = create_task("pairwise_judge", {"judge": "preference",
                                         "judge_vars": {"criterion": "Which answer cites the law?"}}, SUITE)
    items = samples(12)
    results = score_all(task, judge_model(lambda p: choice("A" if ft_first(p) else "B")), items)
    assert "Which answer cites the law?" in results[0].judgments[0].prompt
    s = summarize(task, items, results)
    assert metric(s, "ft", "preference_score").value == 1.0 and metric(s, "base", "preference_score").value == 0.0
    assert metric(s, "ft", "net_win_rate").value == 1.0 and metric(s, "ft", "flip_rate").value == 0.0
    slot1 = summarize(task, items, score_all(task, judge_model(lambda p: choice("A")), items))
    assert metric(slot1, "ft", "flip_rate").value == 1.0 and metric(slot1, "ft", "position_bias").value == 1.0
    assert metric(slot1, "ft", "preference_score").value == 0.5 and comparison(slot1, "ft", "preference_score").delta == 0
    ties = summarize(task, items, score_all(task, judge_model(lambda p: choice("tie")), items))
    assert metric(ties, "ft", "ties").value == 12 and metric(ties, "ft", "flip_rate").value == 0.0
    assert metric(ties, "ft", "position_bias").value is None  # no decisive verdict: undefined, not 0 or NaN


def test_length_bias_is_reported(legal: PairwiseTask) -> None:
    items = samples(12)
    outputs = {("ft", i): "x" * (10 + 40 * i) for i in range(12)}
    outputs.update({("base", i): "y" * 200 for i in range(12)})

    def longer_wins(prompt: str) -> str:
        a, b = slots(prompt)
        return scores(3, 0) if len(a) > len(b) else scores(0, 3) if len(b) > len(a) else scores(1, 1)

    s = summarize(legal, items, score_all(legal, judge_model(longer_wins), items, outputs=outputs))
    # Deltas are only -3 or +3 (tied ranks), so the rank correlation is high but below 1.
    assert metric(s, "ft", "length_bias_rho").value > 0.8
    table = next(t for t in s.tables if t.title.startswith("Length bias: ft vs base"))
    assert sum(r[1] for r in table.rows) == 12
    assert any("the longer answer won 12 of 12 decided items (100%" in n for n in s.notes)


def test_with_the_reference_known_only_pairs_with_it_are_judged(legal: PairwiseTask) -> None:
    @dataclass(frozen=True)
    class WithReference(ScoringContext):
        reference: str | None = None

    items = samples(3)
    models = ("base", "ft", "mid")
    outputs = {("mid", i): f"mid answer {i}" for i in range(3)}
    judge = judge_model(lambda p: scores(2, 2))
    all_pairs = score_all(legal, judge, items, models=models, outputs=outputs)
    assert len(all_pairs[0].judgments) == 6  # 3 pairs x 2 orders, when the reference is not known
    judge2 = judge_model(lambda p: scores(2, 2))
    known = score_all(legal, judge2, items, models=models, outputs=outputs,
                      ctx=WithReference(judge=judge2, reference="base"))
    assert len(known[0].judgments) == 4 and set(known[0].scores["mid"].details["pairs"]) == {"base"}
    for results in (all_pairs, known):
        s = summarize(legal, items, results, models=models)
        assert metric(s, "mid", "ties").value == 3 and metric(s, "ft", "ties").value == 3
        assert comparison(s, "mid", "legal_quality_score").note == "too few items"
        assert metric(s, "base", "legal_quality_score").value == 2.0


def test_results_survive_a_json_round_trip(legal: PairwiseTask) -> None:
    items = samples(10)
    results = score_all(legal, judge_model(lambda p: scores(3, 1) if ft_first(p) else scores(2, 3)), items)
    again = [SampleResult.model_validate_json(r.model_dump_json()) for r in results]
    assert summarize(legal, items, again) == summarize(legal, items, results)


def test_errors(legal: PairwiseTask) -> None:
    assert legal.needs_judge and legal.name == "pairwise_judge"
    with pytest.raises(ConfigError, match="needs a judge model"):
        score_all(legal, None, samples(1), ctx=ScoringContext(judge=None))
    with pytest.raises(ConfigError, match="has kind 'single'; this task needs a judge of kind 'pairwise'"):
        create_task("pairwise_judge", {"judge": "additive_rubric"}, SUITE)
    with pytest.raises(ConfigError, match=r"suite.yaml: task_args: name a judge: `judge` \(an LLM judge\), `checks` "
                                          r"\(a check judge\), or both") as info:
        create_task("pairwise_judge", {}, SUITE)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="reference must be among"):
        summarize(legal, [], [], reference="nope")
