"""The `rubric_judge` task: each model's answer is graded on its own, by an LLM judge on an additive scale
(e.g. `additive_rubric`: one point per satisfied criterion, 0 to 5), by a check judge (one point per criterion
its checks find met), or by both.

Suite arguments (`task_args`, evalkit.tasks.judged.JudgeTaskArgs): `judge` (a single-answer LLM judge) and/or
`checks` (a check judge); optional `judge_vars` (e.g. `criteria`: as many criteria as the judge's scale has
points), `question_field`, `context_field`, `show_reference`, `max_reasks`.

Policies: an answer whose judgment stays invalid after the re-asks, or whose judge call failed, has no score:
it is counted per model and left out of the means; comparisons pair the items both models got a score on.
`ModelScore.value` is the LLM judge's score when it ran, else the check judge's points;
`ModelScore.details["checks"]` holds the answer's check results per criterion.
"""

from __future__ import annotations

import asyncio
import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.checks import CheckResult
from evalkit.errors import ConfigError
from evalkit.judging import (
    CHECKS_MODEL,
    CheckJudgeSpec,
    ask_judge,
    check_answer,
    single_score,
)
from evalkit.records import (
    Comparison,
    Generation,
    MetricValue,
    ModelScore,
    Sample,
    SampleResult,
    Table,
    TaskSummary,
)
from evalkit.stats import MIN_ITEMS_FOR_TEST, TOO_FEW_ITEMS
from evalkit.tasks.base import ScoringContext, SummaryContext, Task, scored_items
from evalkit.tasks.judged import (
    CheckColumns,
    CheckRows,
    JudgeCallTally,
    JudgeTaskArgs,
    LoadedJudge,
    TaskJudges,
    check_details,
    check_judge_fields,
    item_basics,
    judged_item_metrics,
    judges_note,
    load_task_judges,
    mean_metric,
    paired_score_comparison,
    parse_task_args,
)

__all__ = ["CHECKS_KEY", "RubricTask", "create"]

CRITERIA_VARIABLE = "criteria"
CHECKS_KEY = "checks"
"""ModelScore.details key: criterion -> {"met", "score"} of the answer under the check judge."""


def create(args: Mapping[str, Any], suite_path: Path) -> RubricTask:
    """Build the task from a suite's `task_args`; ConfigError naming the suite file and field if invalid."""
    parsed = parse_task_args(JudgeTaskArgs, args, suite_path)
    judges = load_task_judges(parsed, suite_path, "single")
    judge = judges.llm
    criteria = judge.variables.get(CRITERIA_VARIABLE) if judge is not None else None
    if judge is not None and criteria is not None:
        low, high = judge.spec.score_range
        points = int(high - low)
        if (not isinstance(criteria, list) or not all(isinstance(c, str) and c.strip() for c in criteria)
                or len(criteria) != points):
            raise ConfigError(f"{suite_path}: task_args.judge_vars.{CRITERIA_VARIABLE}: judge '{judge.spec.id}' "
                              f"scores {low:g} to {high:g}, one point per criterion, so it needs a list of exactly "
                              f"{points} non-empty strings (received {criteria!r})")
    return RubricTask(parsed, judge, checks=judges.checks)


class RubricTask(Task):
    """Grades every model's answer with a single-answer LLM judge and/or a check judge; means with CIs and
    paired deltas."""

    name = "rubric_judge"

    def __init__(self, args: JudgeTaskArgs, judge: LoadedJudge | None, checks: CheckJudgeSpec | None = None) -> None:
        if judge is None and checks is None:
            raise ValueError("a rubric task needs an LLM judge, a check judge, or both")
        self.args = args
        self.judge = judge
        self.checks = checks
        self.judges = TaskJudges(llm=judge, checks=checks)
        self.judge_need = self.judges.judge_need
        self.needs_judge = judge is not None
        self.item_metrics = judged_item_metrics(self.judges)
        self.metric = f"{judge.spec.id}_score" if judge is not None else None

    def check_samples(self, samples: Sequence[Sample], where: str) -> None:
        """Every sample has the fields the check judge's checks read (DataError before any call)."""
        if self.checks is not None:
            check_judge_fields(self.checks, samples, where)

    async def score(self, sample: Sample, generations: Mapping[str, Generation],
                    ctx: ScoringContext) -> SampleResult:
        """The check judge's verdict on every answer, and one LLM judgment (with its re-asks) per answer when a
        judge model is given."""
        if self.checks is None and ctx.judge is None:
            raise ConfigError(f"task '{self.name}' needs a judge model (set `judge:` in the suite or the project "
                              f"config, or pass --judge)")
        answered = [m for m, g in generations.items() if g.ok]
        judgments = []
        checked: dict[str, dict[str, CheckResult]] = {}
        if self.checks is not None:
            for m in answered:
                verdict = check_answer(self.checks, generations[m].output or "", sample, details={"model": m})
                checked[m] = dict(verdict.results)
                judgments.append(verdict.judgment)
        outcomes: dict[str, Any] = {}
        if self.judge is not None and ctx.judge is not None:
            basics = item_basics(self.args, sample)
            judge = self.judge
            done = await asyncio.gather(*(
                ask_judge(ctx.judge, judge.spec, {**basics, "answer": generations[m].output}, judge.variables,
                          max_reasks=self.args.max_reasks, seed=ctx.seed, sample_id=sample.id,
                          details={"model": m})
                for m in answered))
            outcomes = dict(zip(answered, done))
            judgments += [j for o in done for j in o.judgments]
        scores: dict[str, ModelScore] = {}
        for m, gen in generations.items():
            if m not in answered:
                scores[m] = ModelScore(details={"failed": True, "error": gen.error or "no output"})
                continue
            details: dict[str, Any] = {}
            value: float | None = None
            if m in checked:
                details[CHECKS_KEY] = {c: {"met": r.met, "score": r.score} for c, r in checked[m].items()}
                details.update(check_details(checked[m]))
                value = float(sum(r.met for r in checked[m].values()))
            if m in outcomes:
                o = outcomes[m]
                value = single_score(self.judge.spec, o.value) if o.ok and o.value is not None else None  # type: ignore[union-attr]
                details.update({"judge_status": o.status, **({"judge_error": o.error} if o.error else {})})
            scores[m] = ModelScore(value=value, details=details)
        return SampleResult(sample_id=sample.id, scores=scores, judgments=tuple(judgments))

    def summarize(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Mean score with CI per model, paired deltas against the reference, the score distribution; per check
        criterion, the mean check score with paired deltas.

        One pass over the results (scored_items) into columns (see _columns); every statistic is computed on
        those."""
        cols = self._columns(samples, results, ctx)
        metrics: dict[str, tuple[MetricValue, ...]] = {m: () for m in ctx.models}
        comparisons: list[Comparison] = []
        tables: list[Table] = []
        notes = [judges_note(self.judges, cols.llm_ran)]
        if self.judge is not None and cols.llm_ran:
            self._llm_summary(cols, ctx, metrics, comparisons, tables, notes)
        if self.checks is not None:
            self._checks_summary(self.checks, cols.checks, ctx, metrics, comparisons, tables, notes)
        if any(c.note == TOO_FEW_ITEMS for c in comparisons):
            notes.append(f"comparisons on fewer than {MIN_ITEMS_FOR_TEST} items ('{TOO_FEW_ITEMS}') report the "
                         f"delta only, with no interval or p-value")
        notes.append(f"intervals: {ctx.confidence:.0%} percentile bootstrap, {ctx.n_bootstrap} resamples, seed "
                     f"{ctx.seed}; deltas are paired on the items both models got a valid score on")
        return TaskSummary(task=self.name, metrics=metrics, comparisons=tuple(comparisons), tables=tuple(tables),
                           notes=tuple(notes))

    def _columns(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                 ctx: SummaryContext) -> _Columns:
        """One pass over the items into the columns every part of the summary reads (a few bytes per item and
        model, never the records)."""
        # Whether the LLM judge ran is known only at the end, so its columns are kept whatever it turns out.
        llm = {m: _ScoreRows() for m in ctx.models} if self.judge is not None else {}
        check_names = [c.name for c in self.checks.criteria] if self.checks is not None else []
        checks = {m: CheckRows(check_names) for m in ctx.models} if self.checks is not None else {}
        calls = JudgeCallTally()
        llm_ran = False
        for _, r in scored_items(samples, results, ctx):
            scores = r.scores
            if not llm_ran:
                llm_ran = any("judge_status" in s.details for s in scores.values())
            for m, rows in llm.items():
                rows.add(scores.get(m))
            for m, check_rows in checks.items():
                s = scores.get(m)
                check_rows.add(s.details.get(CHECKS_KEY) if s is not None else None)
            if self.judge is not None:
                calls.add_all(j for j in r.judgments if j.judge_model != CHECKS_MODEL)
        return _Columns(llm_ran=llm_ran, llm={m: rows.columns() for m, rows in llm.items()},
                        checks={m: rows.columns() for m, rows in checks.items()}, calls=calls)

    def _llm_summary(self, cols: _Columns, ctx: SummaryContext, metrics: dict[str, tuple[MetricValue, ...]],
                     comparisons: list[Comparison], tables: list[Table], notes: list[str]) -> None:
        assert self.judge is not None and self.metric is not None
        spec = self.judge.spec
        rows = []
        low, high = spec.score_range
        levels = [low + i for i in range(int(high - low) + 1)] if float(low).is_integer() else []
        llm_notes = [(f"LLM judge {spec.label} ({spec.kind}, template sha256 {spec.template_sha256}), scores "
                     f"{low:g} to {high:g}")]
        for m in ctx.models:
            c = cols.llm[m]
            values = c.values()
            metrics[m] += (mean_metric(self.metric, values, ctx),
                           MetricValue(name="judge_invalid", value=float(c.invalid + c.failed_judge), n=c.items,
                                       unit="items", higher_is_better=False),
                           MetricValue(name="n", value=float(len(values)), n=len(values), unit="items"))
            rows.append((m, *(int(np.count_nonzero(values == lv)) for lv in levels), c.invalid, c.failed_judge,
                         c.no_answer))
            if c.invalid:
                llm_notes.append(f"{m}: {c.invalid} answer(s) left out because the judge's answer was still invalid "
                                 f"after {self.args.max_reasks} re-ask(s) (see the samples' judge calls)")
            if c.failed_judge:
                llm_notes.append(f"{m}: {c.failed_judge} answer(s) left out because the judge call failed")
            if c.no_answer:
                llm_notes.append(f"{m}: {c.no_answer} item(s) without an answer (failed call), not judged")
        comparisons += [self._compare(m, cols, ctx) for m in ctx.models if m != ctx.reference]
        tables += [Table(title=f"Score distribution: judge {spec.label}",
                         columns=("model", *(f"{lv:g}" for lv in levels), "invalid", "judge failed", "no answer"),
                         rows=tuple(rows)),
                   cols.calls.table(title=f"Judge calls: {spec.label}")]
        notes += llm_notes

    def _compare(self, model: str, cols: _Columns, ctx: SummaryContext) -> Comparison:
        assert self.metric is not None
        own, ref = cols.llm[model], cols.llm[ctx.reference]
        both = own.valid & ref.valid
        return paired_score_comparison(self.metric, model, own.value[both], ref.value[both], ctx,
                                       empty_note="no item where both models got a valid score")

    @staticmethod
    def _checks_summary(spec: CheckJudgeSpec, checked: Mapping[str, CheckColumns], ctx: SummaryContext,
                        metrics: dict[str, tuple[MetricValue, ...]], comparisons: list[Comparison],
                        tables: list[Table], notes: list[str]) -> None:
        points_metric = f"{spec.id}_score"
        ref = checked[ctx.reference]
        rows = []
        for m in ctx.models:
            own = checked[m]
            extra = [mean_metric(c.name, own.criterion(i), ctx) for i, c in enumerate(spec.criteria)]
            extra.append(mean_metric(points_metric, own.points[own.present], ctx))
            metrics[m] += tuple(extra)
            answers = int(np.count_nonzero(own.present))
            for i, c in enumerate(spec.criteria):
                rows.append((c.name, c.check, m, answers, int(np.count_nonzero(own.met[own.present, i]))))
            if m == ctx.reference:
                continue
            shared = own.present & ref.present
            empty = "no item where both models have an answer to check"
            for i, c in enumerate(spec.criteria):
                comparisons.append(paired_score_comparison(c.name, m, own.score[shared, i], ref.score[shared, i], ctx,
                                                           empty_note=empty))
            comparisons.append(paired_score_comparison(points_metric, m, own.points[shared], ref.points[shared], ctx,
                                                       empty_note=empty))
        tables.append(Table(title=f"Checks: {spec.label} (each answer on its own)",
                            columns=("criterion", "check", "model", "answers", "met"), rows=tuple(rows)))
        notes.append(f"check judge {spec.label} (definition sha256 {spec.definition_sha256}): "
                     + "; ".join(f"{c.name} = {c.check}" for c in spec.criteria)
                     + f"; {points_metric} counts the criteria an answer meets (0-{len(spec.criteria)})")


@dataclass(frozen=True)
class _ScoreColumns:
    """One model's LLM judge scores, one row per item: `value` (NaN where `valid` is false: no score, or the
    judge did not run on it), and the counts of the items behind the judge_invalid metric and the notes."""

    value: np.ndarray
    valid: np.ndarray
    items: int
    """Items the model has a score entry on (answered or not)."""
    invalid: int
    failed_judge: int
    no_answer: int

    def values(self) -> np.ndarray:
        """The valid scores, in item order."""
        return self.value[self.valid]


class _ScoreRows:
    """Builds _ScoreColumns one item at a time from the model's ModelScore (None: the model is not in the item)."""

    def __init__(self) -> None:
        self._value = array("d")
        self._valid = array("b")
        self.items = self.invalid = self.failed_judge = self.no_answer = 0

    def add(self, s: ModelScore | None) -> None:
        """One item's score of the model."""
        value = s.value if s is not None and "judge_status" in s.details else None
        self._value.append(math.nan if value is None else value)
        self._valid.append(value is not None)
        if s is None:
            return
        status = s.details.get("judge_status")
        self.items += 1
        self.invalid += status == "invalid"
        self.failed_judge += status == "failed"
        self.no_answer += bool(s.details.get("failed"))

    def columns(self) -> _ScoreColumns:
        """The rows added so far, as arrays."""
        value = np.frombuffer(self._value, dtype=np.float64) if self._value else np.empty(0)
        valid = np.frombuffer(self._valid, dtype=np.int8).astype(bool) if self._valid else np.empty(0, dtype=bool)
        return _ScoreColumns(value=value, valid=valid, items=self.items, invalid=self.invalid,
                             failed_judge=self.failed_judge, no_answer=self.no_answer)


@dataclass(frozen=True)
class _Columns:
    """What the summary reads from the results, in one pass (RubricTask._columns); rows are items, in order."""

    llm_ran: bool
    llm: dict[str, _ScoreColumns]
    """Model -> its LLM judge scores (kept when the task has an LLM judge, whether or not it ran)."""
    checks: dict[str, CheckColumns]
    """Model -> its answers' check results (when the task has a check judge)."""
    calls: JudgeCallTally
    """The LLM judge's calls (the check judge's are not counted)."""
