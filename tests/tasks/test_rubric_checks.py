"""rubric_judge with a check judge: single-answer points from deterministic checks, alone or beside an LLM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from judging.fakejudge import judge_model, rubric

from evalkit.errors import ConfigError, DataError
from evalkit.records import Generation, Prompt, Sample
from evalkit.tasks import ScoringContext, SummaryContext, create_task

MODELS = ("base", "ft")


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    judge = {"id": "style", "version": "1", "kind": "checks", "description": "house style",
             "criteria": [{"name": "has_sections", "check": "markdown_sections",
                           "args": {"sections": ["Réponse", "Sources"]}},
                          {"name": "no_hedging", "check": "terms", "args": {"forbidden": ["peut-être"]}},
                          {"name": "short", "check": "length", "args": {"max_words": 30}}]}
    (tmp_path / "style.yaml").write_text(yaml.safe_dump(judge, allow_unicode=True), encoding="utf-8")
    return tmp_path / "suite.yaml"


GOOD = "## Réponse\n\nOui.\n\n## Sources\n\nArt. 5."
HEDGED = "## Réponse\n\nPeut-être.\n\n## Sources\n\nArt. 5."


def answers(i: int) -> dict[str, str]:
    # ft: all three criteria on every item; base: no sections, and hedges on even items.
    return {"ft": GOOD, "base": ("Peut-être que oui." if i % 2 == 0 else "Oui, sans doute.")}


def run(task, items, judge=None, out=None):
    def gen(m: str, s: Sample, i: int) -> Generation:
        text = (out or answers)(i)[m]
        return Generation(sample_id=s.id, model=m, model_id=m, prompt=Prompt(text="q"), output=text)

    async def go():
        return [await task.score(s, {m: gen(m, s, i) for m in MODELS}, ScoringContext(judge=judge))
                for i, s in enumerate(items)]

    results = asyncio.run(go())
    return results, task.summarize(items, results, SummaryContext(models=MODELS, reference="base", n_bootstrap=500))


def metric(summary, model, name):
    return next(m for m in summary.metrics[model] if m.name == name)


def test_check_judge_alone_scores_points_per_answer(suite: Path) -> None:
    task = create_task("rubric_judge", {"checks": "style.yaml"}, suite)
    assert task.judge_need == "none" and not task.needs_judge
    items = [Sample(id=f"q{i}", input=f"Q{i}") for i in range(12)]
    results, s = run(task, items)
    assert results[0].scores["ft"].value == 3.0 and results[0].scores["base"].value == 1.0  # short only
    assert results[1].scores["base"].value == 2.0  # short, no hedging
    assert metric(s, "ft", "style_score").value == 3.0 and metric(s, "base", "style_score").value == 1.5
    assert metric(s, "base", "no_hedging").value == 0.5 and metric(s, "ft", "has_sections").value == 1.0
    cmp = {c.metric: c for c in s.comparisons}
    assert cmp["style_score"].delta == 1.5 and cmp["style_score"].ci_low > 0
    assert cmp["has_sections"].delta == 1.0
    assert not any(c.metric == "additive_rubric_score" for c in s.comparisons)
    assert s.notes[0].startswith("judges: check judge style v1 ran")


def test_llm_rubric_beside_the_checks(suite: Path) -> None:
    criteria = ["a", "b", "c", "d", "e"]
    task = create_task("rubric_judge", {"judge": "additive_rubric", "checks": "style.yaml",
                                        "judge_vars": {"criteria": criteria}}, suite)
    assert task.judge_need == "optional" and task.needs_judge
    items = [Sample(id=f"q{i}", input=f"Q{i}") for i in range(10)]
    results, s = run(task, items, judge=judge_model(lambda p: rubric(4)))
    assert results[0].scores["ft"].value == 4.0  # the LLM judge's score is the primary value when it ran
    assert results[0].scores["ft"].details["checks"]["has_sections"]["met"] is True
    assert metric(s, "ft", "additive_rubric_score").value == 4.0 and metric(s, "ft", "style_score").value == 3.0
    # Without a judge model the same task still scores, with the checks only, and says so.
    _, offline = run(task, items)
    assert not any(m.name == "additive_rubric_score" for m in offline.metrics["ft"])
    assert "LLM judge additive_rubric v1 did not run: no judge model was given" in offline.notes[0]


def test_missing_fields_and_bad_arguments(suite: Path) -> None:
    task = create_task("pairwise_judge", {"checks": "bsard_checks"}, suite)
    with pytest.raises(DataError, match=r"^data\.jsonl: sample 'q0' has no field 'references', which criterion "
                                        r"'citation_f1' of check judge bsard_checks v1 needs"):
        task.check_samples([Sample(id="q0", input="?", fields={"context": "x"})], "data.jsonl")
    with pytest.raises(ConfigError, match=r"task_args\.checks: judge 'legal_quality' .* has kind 'pairwise'; "
                                          r"`checks` takes a judge of kind 'checks'"):
        create_task("pairwise_judge", {"checks": "legal_quality"}, suite)
    with pytest.raises(ConfigError, match=r"task_args\.judge_vars: only an LLM judge has variables"):
        create_task("rubric_judge", {"checks": "style.yaml", "judge_vars": {"x": 1}}, suite)
    with pytest.raises(ConfigError, match=r"task_args\.ragas: RAGAS asks an LLM"):
        create_task("pairwise_judge", {"checks": "bsard_checks", "ragas": {"metrics": ["faithfulness"]}}, suite)
    # A check judge named under `judge` is the check judge.
    assert create_task("pairwise_judge", {"judge": "bsard_checks"}, suite).judge_need == "none"


def test_item_metrics_name_the_per_item_values(suite: Path) -> None:
    checks_only = create_task("rubric_judge", {"checks": "style.yaml"}, suite)
    assert [(m.name, m.low, m.high, m.detail) for m in checks_only.item_metrics] == [
        ("has_sections", 0.0, 1.0, "check_has_sections"), ("no_hedging", 0.0, 1.0, "check_no_hedging"),
        ("short", 0.0, 1.0, "check_short"), ("style_score", 0.0, 3.0, None)]
    items = [Sample(id=f"q{i}", input=f"Q{i}") for i in range(4)]
    results, _ = run(checks_only, items)
    base = results[0].scores["base"]
    assert base.details["check_no_hedging"] == 0.0 and base.details["check_short"] == 1.0 and base.value == 1.0
    llm_only = create_task("pairwise_judge", {"judge": "legal_quality"}, suite)
    assert [(m.name, m.high, m.detail) for m in llm_only.item_metrics] == [("legal_quality_score", 3.0, None)]
    both = create_task("pairwise_judge", {"judge": "legal_quality", "checks": "bsard_checks"}, suite)
    assert [m.name for m in both.item_metrics] == ["citation_f1", "grounding", "structure"]  # value not declared
