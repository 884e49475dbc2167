"""The rewrite task: the style guide's criteria reach the rubric judge, text checks, and the bundled tone suite."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from evalkit.errors import ConfigError
from evalkit.records import Generation, Prompt, Sample
from evalkit.suite import load_suite
from evalkit.tasks import ScoringContext, SummaryContext, create_task
from evalkit.tasks.rewrite import load_style_guide, numbers_in, text_checks
from judging.fakejudge import judge_model

TONE = Path(__file__).resolve().parents[2] / "benchmarks" / "tone"
MODELS = ("base", "ft")


def test_bundled_style_guide_and_messages() -> None:
    guide = load_style_guide(TONE / "style_guide.md")
    assert guide.brand == "Tally" and len(guide.criteria) == 5 and guide.max_words == 60
    assert guide.text.startswith("# Tally's tone of voice") and "---" not in guide.text.splitlines()[0]
    messages = [json.loads(x) for x in (TONE / "messages.jsonl").read_text().splitlines()]
    assert len(messages) >= 30 and len({m["id"] for m in messages}) == len(messages)
    suite = load_suite(str(TONE / "suite.yaml"))
    task = create_task(suite.task, suite.task_args, suite.path)
    assert task.needs_judge and task.rubric.judge.variables["criteria"] == list(guide.criteria)


def test_text_checks() -> None:
    guide = load_style_guide(TONE / "style_guide.md")
    original = "Your rent payment of £1,200.00 to Maple Homes is scheduled for 1 September."
    good = text_checks(original, "Rent reminder: your £1,200.00 to Maple Homes is all set for 1 September.", guide)
    assert good == {"numbers_kept": 1.0, "new_numbers": 0.0, "length_ratio": pytest.approx(13 / 13),
                    "within_length": 1.0}
    bad = text_checks(original, "Rent of £1,250 is due on 1 September, plus a £5 fee! " + "la " * 60, guide)
    assert bad["numbers_kept"] == 0.5 and bad["new_numbers"] == 1.0 and bad["within_length"] == 0.0
    assert numbers_in("£3.10 and £12.40 at 18:42 on 2 April") == {"3.10", "12.40", "18:42", "2"}


def test_scores_text_checks_and_judge_context() -> None:
    task = create_task("rewrite", {"style_guide": "style_guide.md"}, TONE / "suite.yaml")
    samples = [Sample(id=f"t{i:02d}", input=f"Your refund of £{i}.50 from Parcelly has arrived.") for i in range(12)]
    prompts: list[str] = []

    def judge(prompt: str) -> str:
        prompts.append(prompt)
        answer = re.search(r"Answer to grade:\n<<<\n(.*?)\n>>>", prompt, re.S).group(1)
        return json.dumps({"justification": "ok", "score": 4 if "Yay" in answer else 1})

    def gen(m: str, s: Sample) -> Generation:
        amount = s.input.split("£")[1].split(" ")[0]
        text = f"Yay! Parcelly sent back £{amount}." if m == "ft" else "Your refund has arrived, £99."
        return Generation(sample_id=s.id, model=m, model_id=m, prompt=Prompt(text="q"), output=text)

    async def go():
        return [await task.score(s, {m: gen(m, s) for m in MODELS}, ScoringContext(judge=judge_model(judge)))
                for s in samples]

    results = asyncio.run(go())
    summary = task.summarize(samples, results, SummaryContext(models=MODELS, reference="base", n_bootstrap=300))
    assert summary.task == "rewrite"
    ft = {m.name: m.value for m in summary.metrics["ft"]}
    base = {m.name: m.value for m in summary.metrics["base"]}
    assert ft["additive_rubric_score"] == 4.0 and base["additive_rubric_score"] == 1.0
    assert ft["numbers_kept"] == 1.0 and base["numbers_kept"] == 0.0 and base["new_numbers_rate"] == 1.0
    delta = next(c for c in summary.comparisons if c.metric == "additive_rubric_score")
    assert delta.delta == 3.0
    # The judge sees the task, the original message, the guide as context and the guide's own criteria.
    assert "Rewrite this app message in Tally's tone of voice" in prompts[0] and "Material provided" in prompts[0]
    assert "# Tally's tone of voice" in prompts[0] and "Voice: the reply sounds like Tally" in prompts[0]
    assert any("style guide: style_guide.md (Tally)" in n for n in summary.notes)


@pytest.mark.parametrize(("text", "message"), [
    ("# no front matter\n", "opens with a YAML front matter"),
    ("---\nbrand: X\n---\nbody\n", "front matter criteria: required field is missing"),
    ("---\nbrand: X\ncriteria: [a]\ncolour: red\n---\nbody\n", "front matter colour: unknown field"),
])
def test_bad_style_guides_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "guide.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_style_guide(path)
    with pytest.raises(ConfigError, match="style guide not found"):
        load_style_guide(tmp_path / "missing.md")


def test_rubric_needs_one_criterion_per_point(tmp_path: Path) -> None:
    (tmp_path / "guide.md").write_text("---\nbrand: X\ncriteria: [a, b]\n---\nbody\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="needs a list of exactly 5 non-empty strings"):
        create_task("rewrite", {"style_guide": "guide.md"}, tmp_path / "suite.yaml")
