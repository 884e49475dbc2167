"""The `rubric_judge` task: an LLM judge grades each model's answer on its own, on an additive scale
(e.g. `additive_rubric`: one point per satisfied criterion, 0 to 5).

Suite arguments (`task_args`, see evalkit.judging.JudgeTaskArgs): `judge` (a single-answer judge id or file),
optional `judge_vars` (e.g. `criteria`: as many criteria as the judge's scale has points), `question_field`,
`context_field`, `show_reference`, `max_reasks`.

Policies: an answer whose judgment stays invalid after the re-asks, or whose judge call failed, has no score:
it is counted per model and left out of the means; comparisons pair the items both models got a score on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import ConfigError
from evalkit.judging._answer import single_score
from evalkit.judging._calls import judge_calls_table
from evalkit.judging._client import ask_judge
from evalkit.judging._summary import check_results, mean_metric, paired_score_comparison
from evalkit.judging._taskargs import JudgeTaskArgs, LoadedJudge, item_basics, load_task_judge, parse_task_args
from evalkit.records import Comparison, Generation, MetricValue, ModelScore, Sample, SampleResult, Table, TaskSummary
from evalkit.stats import MIN_ITEMS_FOR_TEST, TOO_FEW_ITEMS
from evalkit.tasks.base import ScoringContext, SummaryContext, Task

__all__ = ["RubricTask", "create"]

CRITERIA_VARIABLE = "criteria"


def create(args: Mapping[str, Any], suite_path: Path) -> RubricTask:
    """Build the task from a suite's `task_args`; ConfigError naming the suite file and field if invalid."""
    parsed = parse_task_args(JudgeTaskArgs, args, suite_path)
    judge = load_task_judge(parsed, suite_path, "single")
    criteria = judge.variables.get(CRITERIA_VARIABLE)
    if criteria is not None:
        low, high = judge.spec.score_range
        points = int(high - low)
        if (not isinstance(criteria, list) or not all(isinstance(c, str) and c.strip() for c in criteria)
                or len(criteria) != points):
            raise ConfigError(f"{suite_path}: task_args.judge_vars.{CRITERIA_VARIABLE}: judge '{judge.spec.id}' "
                              f"scores {low:g} to {high:g}, one point per criterion, so it needs a list of exactly "
                              f"{points} non-empty strings (received {criteria!r})")
    return RubricTask(parsed, judge)


class RubricTask(Task):
    """Grades every model's answer with a single-answer judge; means with CIs and paired deltas."""

    name = "rubric_judge"
    needs_judge = True

    def __init__(self, args: JudgeTaskArgs, judge: LoadedJudge) -> None:
        self.args = args
        self.judge = judge
        self.metric = f"{judge.spec.id}_score"

    def prompt_vars(self, sample: Sample) -> Mapping[str, Any]:
        """No variables: the compared models' prompts do not depend on the judge."""
        return {}

    async def score(self, sample: Sample, generations: Mapping[str, Generation],
                    ctx: ScoringContext) -> SampleResult:
        """One judgment (with its re-asks) per model that produced an answer."""
        if ctx.judge is None:
            raise ConfigError(f"task '{self.name}' needs a judge model (set `judge:` in the suite or the project "
                              f"config, or pass --judge)")
        basics = item_basics(self.args, sample)
        answered = [m for m, g in generations.items() if g.ok]
        outcomes = await asyncio.gather(*(
            ask_judge(ctx.judge, self.judge.spec, {**basics, "answer": generations[m].output}, self.judge.variables,
                      max_reasks=self.args.max_reasks, seed=ctx.seed, sample_id=sample.id, details={"model": m})
            for m in answered))
        by_model = dict(zip(answered, outcomes))
        scores: dict[str, ModelScore] = {}
        for m, gen in generations.items():
            if m not in by_model:
                scores[m] = ModelScore(details={"failed": True, "error": gen.error or "no output"})
                continue
            o = by_model[m]
            value = single_score(self.judge.spec, o.value) if o.ok and o.value is not None else None
            scores[m] = ModelScore(value=value, details={"judge_status": o.status, **({"judge_error": o.error}
                                                                                      if o.error else {})})
        judgments = tuple(j for o in outcomes for j in o.judgments)
        return SampleResult(sample_id=sample.id, scores=scores, judgments=judgments)

    def summarize(self, samples: Sequence[Sample], results: Sequence[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Mean score with CI per model, paired deltas against the reference, the score distribution."""
        check_results(samples, results, ctx)
        spec = self.judge.spec
        metrics: dict[str, tuple[MetricValue, ...]] = {}
        rows, notes = [], []
        low, high = spec.score_range
        levels = [low + i for i in range(int(high - low) + 1)] if float(low).is_integer() else []
        for m in ctx.models:
            scored = [r.scores[m] for r in results if m in r.scores]
            values = [s.value for s in scored if s.value is not None]
            invalid = sum(s.details.get("judge_status") == "invalid" for s in scored)
            failed_judge = sum(s.details.get("judge_status") == "failed" for s in scored)
            no_answer = sum(bool(s.details.get("failed")) for s in scored)
            metrics[m] = (mean_metric(self.metric, values, ctx),
                          MetricValue(name="judge_invalid", value=float(invalid + failed_judge), n=len(scored),
                                      unit="items", higher_is_better=False),
                          MetricValue(name="n", value=float(len(values)), n=len(values), unit="items"))
            rows.append((m, *(sum(v == lv for v in values) for lv in levels), invalid, failed_judge, no_answer))
            if invalid:
                notes.append(f"{m}: {invalid} answer(s) left out because the judge's answer was still invalid "
                             f"after {self.args.max_reasks} re-ask(s) (see the samples' judge calls)")
            if failed_judge:
                notes.append(f"{m}: {failed_judge} answer(s) left out because the judge call failed")
            if no_answer:
                notes.append(f"{m}: {no_answer} item(s) without an answer (failed call), not judged")
        comparisons = [self._compare(m, results, ctx) for m in ctx.models if m != ctx.reference]
        tables = (Table(title=f"Score distribution: judge {spec.label}",
                        columns=("model", *(f"{lv:g}" for lv in levels), "invalid", "judge failed", "no answer"),
                        rows=tuple(rows)),
                  judge_calls_table((j for r in results for j in r.judgments), title=f"Judge calls: {spec.label}"))
        head = [f"judge {spec.label} ({spec.kind}, template sha256 {spec.template_sha256}), scores "
                f"{low:g} to {high:g}"]
        if any(c.note == TOO_FEW_ITEMS for c in comparisons):
            notes.append(f"comparisons on fewer than {MIN_ITEMS_FOR_TEST} items ('{TOO_FEW_ITEMS}') report the "
                         f"delta only, with no interval or p-value")
        notes.append(f"intervals: {ctx.confidence:.0%} percentile bootstrap, {ctx.n_bootstrap} resamples, seed "
                     f"{ctx.seed}; deltas are paired on the items both models got a valid score on")
        return TaskSummary(task=self.name, metrics=metrics, comparisons=tuple(comparisons), tables=tables,
                           notes=tuple(head + notes))

    def _compare(self, model: str, results: Sequence[SampleResult], ctx: SummaryContext) -> Comparison:
        own, ref = [], []
        for r in results:
            a, b = r.scores.get(model), r.scores.get(ctx.reference)
            if a is not None and b is not None and a.value is not None and b.value is not None:
                own.append(a.value)
                ref.append(b.value)
        return paired_score_comparison(self.metric, model, own, ref, ctx,
                                       empty_note="no item where both models got a valid score")
