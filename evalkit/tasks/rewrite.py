"""The `rewrite` task: the input is a plain factual message; the model rewrites it in a brand voice that a style
guide file defines (the Cleo tone-of-voice case study).

Suite arguments (`task_args`):
- `style_guide`: a Markdown file (relative to the suite) opening with a YAML front matter: `brand`, `criteria`
  (one per point of the judge's scale: voice, style rules, meaning preserved, no invented facts, length),
  optional `max_length_ratio` (rewrite words / original words) and `max_words`. Its body is the guide itself,
  given to prompts as `style_guide` (and the brand as `brand`) and shown to the judge as context.
- `judge` (default `additive_rubric`), `max_reasks`: the single-answer 0-5 judge. Grading goes through the
  `rubric_judge` task as is, with the style guide's criteria, so its metrics, tables and comparisons (mean score
  with CI, paired deltas, score distribution, judge calls) are the rubric task's own.

Next to the judge, cheap checks computed from the text alone (per model, with bootstrap CIs):
`numbers_kept` (share of the original's numbers and amounts found in the rewrite: facts preserved),
`new_numbers_rate` (share of rewrites with a number the original does not have: a sign of invented facts),
`length_ratio` and `within_length` (at most `max_length_ratio` times the original's words and `max_words`).
Blind human preference between two models' rewrites: `evalkit human export RUN_DIR --task tone` (or the suite's
own study-task YAML), reused as is.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import ConfigError
from evalkit.records import Generation, MetricValue, Sample, SampleResult, TaskSummary
from evalkit.stats import paired_bootstrap_many
from evalkit.tasks.base import ScoringContext, SummaryContext, Task, scored_items
from evalkit.user_errors import validation_error

__all__ = ["RewriteArgs", "RewriteTask", "StyleGuide", "create", "load_style_guide", "numbers_in", "text_checks"]

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


class RewriteArgs(BaseModel):
    """The `task_args` of a rewrite suite."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    style_guide: str
    """The style guide file, relative to the suite file."""
    judge: str = "additive_rubric"
    max_reasks: int = Field(default=2, ge=0, le=5)


class _FrontMatter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    brand: str = Field(min_length=1)
    criteria: list[str] = Field(min_length=1)
    max_length_ratio: float = Field(default=2.0, gt=0)
    max_words: int | None = Field(default=None, ge=1)


@dataclass(frozen=True)
class StyleGuide:
    """A parsed style guide file."""

    path: Path
    brand: str
    criteria: tuple[str, ...]
    text: str
    """The guide's Markdown body (front matter removed)."""
    max_length_ratio: float
    max_words: int | None


def load_style_guide(path: Path) -> StyleGuide:
    """Read a style guide; ConfigError naming the file and field when it is malformed."""
    if not path.is_file():
        raise ConfigError(f"style guide not found: {path}")
    raw = path.read_text(encoding="utf-8")
    m = re.match(r"^---\s*\n(.*?)\n---\s*\n(.*)$", raw, re.DOTALL)
    if not m:
        raise ConfigError(f"{path}: a style guide opens with a YAML front matter between '---' lines "
                          f"(brand, criteria, optional max_length_ratio and max_words)")
    try:
        meta = _FrontMatter.model_validate(yaml.safe_load(m.group(1)) or {})
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML front matter: {exc}") from None
    except ValidationError as err:
        raise validation_error(err, where=str(path), prefix="front matter ", model=_FrontMatter) from None
    return StyleGuide(path=path, brand=meta.brand, criteria=tuple(meta.criteria), text=m.group(2).strip(),
                      max_length_ratio=meta.max_length_ratio, max_words=meta.max_words)


def numbers_in(text: str) -> set[str]:
    """Numbers as written, without thousands separators ("£1,200.00" -> "1200.00"; "18:42" stays).

    >>> sorted(numbers_in("£1,200.00 on 3 March at 18:42"))
    ['1200.00', '18:42', '3']
    """
    return {re.sub(r"(?<=\d),(?=\d{3}\b)", "", n) for n in _NUMBER.findall(text)}


def text_checks(original: str, rewrite: str, guide: StyleGuide) -> dict[str, float]:
    """The text-only checks of one rewrite (see the module docstring)."""
    source, out = numbers_in(original), numbers_in(rewrite)
    words_in, words_out = max(1, len(original.split())), len(rewrite.split())
    ratio = words_out / words_in
    within = ratio <= guide.max_length_ratio and (guide.max_words is None or words_out <= guide.max_words)
    return {"numbers_kept": len(source & out) / len(source) if source else 1.0,
            "new_numbers": float(bool(out - source)), "length_ratio": ratio, "within_length": float(within)}


def create(args: Mapping[str, Any], suite_path: Path) -> RewriteTask:
    """Build the task from a suite's `task_args`; ConfigError naming the suite file and field if invalid."""
    from evalkit.tasks.judged import (
        parse_task_args,  # the judge tasks' own error format
    )
    from evalkit.tasks.rubric import create as create_rubric

    parsed = parse_task_args(RewriteArgs, args, suite_path)  # type: ignore[arg-type]
    guide = load_style_guide((suite_path.parent / parsed.style_guide).resolve())
    rubric = create_rubric({"judge": parsed.judge, "judge_vars": {"criteria": list(guide.criteria)},
                            "context_field": "style_guide", "max_reasks": parsed.max_reasks}, suite_path)
    return RewriteTask(parsed, guide, rubric)


class RewriteTask(Task):
    """Judge-graded brand-voice rewrites (the rubric judge with the style guide's criteria) plus text checks."""

    name = "rewrite"
    needs_judge = True

    def __init__(self, args: RewriteArgs, guide: StyleGuide, rubric: Any) -> None:
        self.args = args
        self.guide = guide
        self.rubric = rubric
        self.judge_need = rubric.judge_need
        self.item_metrics = rubric.item_metrics  # the judge's score is the sample score, as in the rubric task

    def prompt_vars(self, sample: Sample) -> Mapping[str, Any]:
        """`style_guide` (the guide's text) and `brand`."""
        return {"style_guide": self.guide.text, "brand": self.guide.brand}

    def _for_judge(self, sample: Sample) -> Sample:
        """The sample as the judge sees it: the task in words, the original message, the guide as context."""
        question = (f"Rewrite this app message in {self.guide.brand}'s tone of voice, keeping every fact:\n"
                    f"{sample.input}")
        return sample.model_copy(update={"input": question, "fields": {**sample.fields,
                                                                       "style_guide": self.guide.text}})

    async def score(self, sample: Sample, generations: Mapping[str, Generation],
                    ctx: ScoringContext) -> SampleResult:
        """The judge's score per model (the sample score) with the text checks in the details."""
        judged = await self.rubric.score(self._for_judge(sample), generations, ctx)
        scores = {}
        for model, s in judged.scores.items():
            gen = generations[model]
            checks = text_checks(sample.input, gen.output or "", self.guide) if gen.ok else {}
            scores[model] = s.model_copy(update={"details": {**s.details, **checks}})
        return SampleResult(sample_id=sample.id, scores=scores, judgments=judged.judgments)

    def summarize(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """The rubric task's summary, with the text checks' means (bootstrap CIs) added per model."""
        summary = self.rubric.summarize(samples, results, ctx)
        names = ("numbers_kept", "new_numbers", "length_ratio", "within_length")
        shown = {"new_numbers": "new_numbers_rate"}
        checks = {m: {n: array("d") for n in names} for m in ctx.models}
        for _, r in scored_items(samples, results, ctx):
            for m in ctx.models:
                s = r.scores.get(m)
                if s is not None and "numbers_kept" in s.details:
                    for n in names:
                        checks[m][n].append(float(s.details[n]))
        metrics = {}
        for model in ctx.models:
            cols = [np.frombuffer(checks[model][n], dtype=np.float64) for n in names]
            n_rows = len(checks[model][names[0]])
            extra: list[MetricValue] = []
            if n_rows:
                boot = paired_bootstrap_many(lambda *c: {n: x.mean(axis=-1) for n, x in zip(names, c)}, *cols,
                                             n_resamples=ctx.n_bootstrap, confidence=ctx.confidence, seed=ctx.seed,
                                             vectorized=True)
                extra = [MetricValue(name=shown.get(n, n), value=boot[n].estimate, ci_low=boot[n].ci_low,
                                     ci_high=boot[n].ci_high, n=n_rows,
                                     higher_is_better=n in ("numbers_kept", "within_length"),
                                     unit="ratio" if n == "length_ratio" else "")
                         for n in names]
            metrics[model] = tuple(summary.metrics.get(model, ())) + tuple(extra)
        limit = f"{self.guide.max_length_ratio:g}x the original's words" + (
            f" and {self.guide.max_words} words" if self.guide.max_words else "")
        notes = (f"style guide: {self.guide.path.name} ({self.guide.brand}); text checks: numbers_kept = share of "
                 f"the original's numbers kept, new_numbers_rate = share of rewrites adding a number, within_length "
                 f"= at most {limit}",)
        return summary.model_copy(update={"task": self.name, "metrics": metrics, "notes": summary.notes + notes})
