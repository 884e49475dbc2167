"""The rubric_judge task: one additive 0-5 judgment per model per sample, means with CIs, paired deltas."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from evalkit.errors import ConfigError
from evalkit.records import Generation, Prompt, Sample
from evalkit.tasks import ScoringContext, SummaryContext, create_task
from judging.fakejudge import FATAL, graded_answer, judge_model, rubric

SUITE = Path("suite.yaml")
MODELS = ("base", "ft")
CRITERIA = ["cites an article", "answers in French", "uses Markdown", "is under 200 words", "has no typo"]


def samples(n: int) -> list[Sample]:
    return [Sample(id=f"q{i:03d}", input=f"Question {i} ?", target=f"gold {i}") for i in range(n)]


def run(task, judge, items, outputs=None):
    outputs = outputs or {}

    def gen(m: str, i: int, s: Sample) -> Generation:
        text = outputs.get((m, i), f"{m} answer {i}")
        return Generation(sample_id=s.id, model=m, model_id=m, prompt=Prompt(text="q"), output=text,
                          error=None if text is not None else "HTTP 500")

    async def go():
        return list(await asyncio.gather(*(task.score(s, {m: gen(m, i, s) for m in MODELS},
                                                      ScoringContext(judge=judge)) for i, s in enumerate(items))))

    results = asyncio.run(go())
    return results, task.summarize(items, results, SummaryContext(models=MODELS, reference="base", n_bootstrap=500))


def metric(summary, model, name):
    return next(m for m in summary.metrics[model] if m.name == name)


def test_means_deltas_distribution_and_exclusions() -> None:
    task = create_task("rubric_judge", {"judge": "additive_rubric", "judge_vars": {"criteria": CRITERIA},
                                        "show_reference": True}, SUITE)
    items = samples(12)

    def judge(prompt: str) -> str:
        answer = graded_answer(prompt)
        i = int(re.search(r"answer (\d+)", answer).group(1)) if "answer" in answer else -1
        if answer.startswith("ft") and i == 2:
            return "five"
        if answer.startswith("base") and i == 4:
            raise FATAL
        return rubric(4 if answer.startswith("ft") else 2)

    results, s = run(task, judge_model(judge), items, outputs={("ft", 9): None})
    prompt = results[0].judgments[0].prompt
    assert "1. cites an article" in prompt and "5. has no typo" in prompt and "gold 0" in prompt
    assert len(results[2].judgments) == 2 + 2  # base once, ft three times (invalid, re-asked twice)
    assert metric(s, "ft", "additive_rubric_score").value == 4.0 and metric(s, "ft", "n").value == 10
    assert metric(s, "base", "additive_rubric_score").value == 2.0 and metric(s, "base", "n").value == 11
    assert metric(s, "ft", "judge_invalid").value == 1 and metric(s, "base", "judge_invalid").value == 1
    delta = next(c for c in s.comparisons if c.model == "ft")
    # Paired on the items both got a valid score on: 12 - (q002, q004, q009) = 9 < 10: delta only.
    assert delta.delta == 2.0 and delta.n == 9 and delta.note == "too few items"
    dist = dict((r[0], r[1:]) for r in s.tables[0].rows)
    assert s.tables[0].columns == ("model", "0", "1", "2", "3", "4", "5", "invalid", "judge failed", "no answer")
    assert dist["ft"] == (0, 0, 0, 0, 10, 0, 1, 0, 1) and dist["base"] == (0, 0, 11, 0, 0, 0, 0, 1, 0)
    notes = "\n".join(s.notes)
    assert "ft: 1 answer(s) left out because the judge's answer was still invalid after 2 re-ask(s)" in notes
    assert "base: 1 answer(s) left out because the judge call failed" in notes


def test_significant_delta_with_enough_items() -> None:
    task = create_task("rubric_judge", {"judge": "additive_rubric"}, SUITE)
    _, s = run(task, judge_model(lambda p: rubric(5 if graded_answer(p).startswith("ft") else 3)), samples(15))
    delta = next(c for c in s.comparisons if c.model == "ft")
    assert delta.delta == 2.0 and delta.significant and delta.p_value < 0.001


def test_criteria_must_match_the_scale() -> None:
    with pytest.raises(ConfigError, match=r"judge_vars.criteria: judge 'additive_rubric' scores 0 to 5, one point "
                                          r"per criterion, so it needs a list of exactly 5"):
        create_task("rubric_judge", {"judge": "additive_rubric", "judge_vars": {"criteria": ["only one"]}}, SUITE)
    with pytest.raises(ConfigError, match="has kind 'pairwise'; this task needs a judge of kind 'single'"):
        create_task("rubric_judge", {"judge": "legal_quality"}, SUITE)
