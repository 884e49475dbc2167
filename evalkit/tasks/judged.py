"""What judged tasks share, public for task authors: arguments, judges, the variables a judge sees, summaries.

A judged task names an LLM judge (`judge:`, a judge file with a template, run only when the runner gives a judge
model), a check judge (`checks:`, a judge file of `kind: checks`, always run: no model), or both:

    task_args: {judge: legal_quality, checks: bsard_checks, context_field: context}

    args = parse_task_args(JudgeTaskArgs, task_args, suite_path)     # one-line ConfigError when wrong
    judges = load_task_judges(args, suite_path, "pairwise")           # TaskJudges(llm=..., checks=...)
    judges.judge_need                                                 # "required" / "optional" / "none"

Summary helpers (`mean_metric`, `rate_metric`, `paired_score_comparison`) give every judged task the same
means with bootstrap CIs and the same paired comparisons. A summary reads the stored results once
(evalkit.tasks.base.scored_items) into columns: `PairRows` (pairs as verdict codes, scores and lengths, with
`PairColumns.stats()`/`length_bias()` equal to evalkit.judging's pair_stats/length_bias over the same pairs),
`CheckRows` (each answer's check results) and `JudgeCallTally` (judge_calls_table without keeping the calls).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evalkit.checks import CheckResult
from evalkit.errors import ConfigError, DataError
from evalkit.judging import (
    DEFAULT_MAX_REASKS,
    LENGTH_BINS,
    VERDICTS,
    CheckJudgeSpec,
    JudgeCallStats,
    JudgeSpec,
    LengthBias,
    LengthBin,
    PairJudgment,
    PairStats,
    Verdict,
    find_judge,
    judge_calls_table,
    judge_variables,
)
from evalkit.records import Comparison, Judgment, MetricValue, Sample, Table
from evalkit.search_path import search_dirs
from evalkit.stats import (
    TOO_FEW_ITEMS,
    bootstrap_mean_ci,
    has_enough_items,
    paired_bootstrap,
    wilcoxon_signed_rank,
    wilson_interval,
)
from evalkit.tasks.base import SummaryContext
from evalkit.user_errors import validation_error

__all__ = [
    "CHECK_DETAIL_PREFIX",
    "SCORE_TEST",
    "CheckColumns",
    "CheckRows",
    "JudgeCallTally",
    "JudgeNeed",
    "JudgeTaskArgs",
    "LoadedJudge",
    "PairColumns",
    "PairRows",
    "TaskJudges",
    "check_details",
    "check_judge_fields",
    "find_task_judge",
    "item_basics",
    "item_mean",
    "judge_dirs",
    "judged_item_metrics",
    "judges_note",
    "load_task_judge",
    "load_task_judges",
    "mean_metric",
    "paired_score_comparison",
    "parse_task_args",
    "rate_metric",
]

JudgeNeed = Literal["none", "optional", "required"]
"""Whether a task needs a judge model from the runner: `required` (an LLM judge and no check judge: nothing to
score without it), `optional` (a check judge scores anyway; the LLM judge runs beside it when a model is given),
`none` (checks only)."""

CHECK_DETAIL_PREFIX = "check_"
"""ModelScore.details key prefix of an answer's score on one check criterion (`check_citation_f1`), the per-item
value behind that criterion's metric."""

SCORE_TEST = "wilcoxon-signed-rank"
"""The test behind a judge score comparison's p-value (its CI is a paired bootstrap)."""


class JudgeTaskArgs(BaseModel):
    """The `task_args` of a judged task (`pairwise_judge`, `rubric_judge`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: str | None = None
    """An LLM judge id from `judges/` (e.g. `legal_quality`) or a judge file path relative to the suite file.
    A check judge named here is used as `checks`."""
    checks: str | None = None
    """A check judge (`kind: checks`) id or file: criteria scored by deterministic checks, no model."""
    judge_vars: dict[str, Any] = Field(default_factory=dict)
    """Values of the LLM judge file's own variables (e.g. `criterion`, `criteria`)."""
    question_field: str | None = None
    """The sample field shown to the judge as `question`; default: the sample's input."""
    context_field: str | None = None
    """A sample field shown to the judge as `context` (e.g. the articles given to the models); default: none."""
    show_reference: bool = False
    """Show the sample's target to the judge as `reference` (e.g. a gold translation)."""
    max_reasks: int = Field(default=DEFAULT_MAX_REASKS, ge=0, le=5)
    """Re-asks after an invalid judge answer, before the judgment counts as invalid."""

    @model_validator(mode="after")
    def _some_judge(self) -> JudgeTaskArgs:
        if self.judge is None and self.checks is None:
            raise ValueError("name a judge: `judge` (an LLM judge), `checks` (a check judge), or both")
        return self


@dataclass(frozen=True)
class LoadedJudge:
    """An LLM judge file with the variables a suite gives it."""

    spec: JudgeSpec
    variables: Mapping[str, Any]


@dataclass(frozen=True)
class TaskJudges:
    """The judges a task was configured with: an LLM judge, a check judge, or both."""

    llm: LoadedJudge | None
    checks: CheckJudgeSpec | None

    @property
    def judge_need(self) -> JudgeNeed:
        """What the task needs from the runner (see JudgeNeed)."""
        if self.llm is None:
            return "none"
        return "optional" if self.checks is not None else "required"


def parse_task_args(model: type[BaseModel], args: Mapping[str, Any], suite_path: Path) -> Any:
    """Validate `task_args`; a one-line ConfigError names the suite file, the field, what was received and what
    is allowed (evalkit.user_errors.validation_error)."""
    try:
        return model.model_validate(dict(args))
    except ValidationError as err:
        raise validation_error(err, where=str(suite_path), prefix="task_args.", model=model,
                               allowed=f"task_args {', '.join(model.model_fields)}") from None


def judge_dirs() -> list[Path]:
    """Folders searched for judge files by id: $EVALKIT_JUDGES, ./judges, then the project's `judges/`."""
    return search_dirs("EVALKIT_JUDGES", "judges")


def find_task_judge(name_or_path: str, *, relative_to: Path | None = None, where: str = "") -> Any:
    """A judge file (LLM or check judge) by id from judge_dirs(), or by path relative to `relative_to`."""
    return find_judge(name_or_path, dirs=judge_dirs(), relative_to=relative_to, where=where)


def _find(name: str, suite_path: Path, where: str) -> Any:
    return find_task_judge(name, relative_to=suite_path.parent, where=where)


def load_task_judges(args: JudgeTaskArgs, suite_path: Path, kind: str) -> TaskJudges:
    """Load the judges a suite names: `judge` must be an LLM judge of `kind` (or a check judge, used as the
    check judge), `checks` a check judge; ConfigError naming the suite field otherwise."""
    llm: LoadedJudge | None = None
    checks: CheckJudgeSpec | None = None
    if args.judge is not None:
        where = f"{suite_path}: task_args.judge"
        spec = _find(args.judge, suite_path, where)
        if isinstance(spec, CheckJudgeSpec):
            if args.checks is not None:
                raise ConfigError(f"{where}: '{spec.id}' is a check judge and task_args.checks names another; "
                                  f"name an LLM judge under `judge` and the check judge under `checks`")
            checks = spec
        else:
            if spec.kind != kind:
                raise ConfigError(f"{where}: judge '{spec.id}' ({spec.path}) has kind '{spec.kind}'; this task "
                                  f"needs a judge of kind '{kind}'")
            variables = judge_variables(spec, args.judge_vars, where=f"{suite_path}: task_args.judge_vars")
            llm = LoadedJudge(spec=spec, variables=variables)
    if args.checks is not None:
        where = f"{suite_path}: task_args.checks"
        spec = _find(args.checks, suite_path, where)
        if not isinstance(spec, CheckJudgeSpec):
            raise ConfigError(f"{where}: judge '{spec.id}' ({spec.path}) has kind '{spec.kind}'; `checks` takes a "
                              f"judge of kind 'checks' (an LLM judge goes under `judge`)")
        checks = spec
    if llm is None and args.judge_vars:
        raise ConfigError(f"{suite_path}: task_args.judge_vars: only an LLM judge has variables, and none is named "
                          f"(received {sorted(args.judge_vars)})")
    return TaskJudges(llm=llm, checks=checks)


def load_task_judge(args: JudgeTaskArgs, suite_path: Path, kind: str) -> LoadedJudge:
    """The LLM judge a suite names under `judge` (of `kind`), for tasks that need exactly one."""
    judges = load_task_judges(args, suite_path, kind)
    if judges.llm is None:
        raise ConfigError(f"{suite_path}: task_args.judge: this task needs an LLM judge of kind '{kind}' "
                          f"(received {args.judge!r})")
    return judges.llm


def item_basics(args: JudgeTaskArgs, sample: Sample) -> dict[str, Any]:
    """The built-in variables an LLM judge template sees, taken from the sample: question, context, reference,
    fields."""
    def field(arg: str, name: str) -> Any:
        if name not in sample.fields:
            raise DataError(f"sample {sample.id!r}: task_args.{arg} names the field {name!r}, which this sample "
                            f"does not have (fields: {sorted(sample.fields)})")
        value = sample.fields[name]
        # A list of passages (e.g. several articles) reads best as paragraphs, not as a Python list.
        return "\n\n".join(str(v) for v in value) if isinstance(value, (list, tuple)) else value

    return {
        "question": sample.input if args.question_field is None else field("question_field", args.question_field),
        "context": None if args.context_field is None else field("context_field", args.context_field),
        "reference": sample.target if args.show_reference else None,
        "fields": dict(sample.fields),
    }


def check_judge_fields(checks: CheckJudgeSpec, samples: Sequence[Sample], where: str) -> None:
    """DataError (before any model call) naming the first sample that lacks a field a check needs."""
    needed = [(c.name, f) for c, check in zip(checks.criteria, checks.checks) for f in check.required_fields()]
    for s in samples:
        for criterion, name in needed:
            if name not in s.fields:
                raise DataError(f"{where}: sample {s.id!r} has no field {name!r}, which criterion '{criterion}' of "
                                f"check judge {checks.label} needs (fields: {', '.join(sorted(s.fields)) or 'none'})")


def check_details(results: Mapping[str, Any]) -> dict[str, float]:
    """Flat per-criterion scores of one answer (`check_<criterion>` -> score) for ModelScore.details."""
    return {f"{CHECK_DETAIL_PREFIX}{c}": float(r.score) for c, r in results.items()}


def judged_item_metrics(judges: TaskJudges) -> tuple[Any, ...]:
    """The metrics of a judged task that are means of a bounded per-item value (Task.item_metrics).

    Each check criterion's metric always is (its score, 0-1, in `details["check_<criterion>"]`). The sample
    value (ModelScore.value) is the LLM judge's score when the task has only an LLM judge, the check judge's
    points when it has only a check judge; with both it depends on whether a judge model was given, so it is
    not declared.
    """
    from evalkit.tasks.base import ItemMetric

    out = []
    if judges.checks is not None:
        out += [ItemMetric(c.name, 0.0, 1.0, detail=f"{CHECK_DETAIL_PREFIX}{c.name}") for c in judges.checks.criteria]
        if judges.llm is None:
            low, high = judges.checks.score_range
            out.append(ItemMetric(f"{judges.checks.id}_score", low, high))
    elif judges.llm is not None:
        low, high = judges.llm.spec.score_range
        out.append(ItemMetric(f"{judges.llm.spec.id}_score", float(low), float(high)))
    return tuple(out)


def judges_note(judges: TaskJudges, llm_ran: bool) -> str:
    """One plain sentence saying which judges ran and why (for the report's notes)."""
    parts = []
    if judges.checks is not None:
        parts.append(f"check judge {judges.checks.label} ran (deterministic checks, no model; definition sha256 "
                     f"{judges.checks.definition_sha256[:12]})")
    if judges.llm is not None:
        label = judges.llm.spec.label
        if llm_ran:
            parts.append(f"LLM judge {label} ran")
        else:
            parts.append(f"LLM judge {label} did not run: no judge model was given (one runs when --judge, the "
                         f"project config's `judge` or the suite's `judge` names one, or by default when "
                         f"MISTRAL_API_KEY is set)")
    return "judges: " + "; ".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Summary helpers


def mean_metric(name: str, values: Sequence[float] | np.ndarray, ctx: SummaryContext, *, unit: str = "",
                higher_is_better: bool | None = True) -> MetricValue:
    """The mean of `values` (a sequence or a 1-D array) with a bootstrap CI; value None (never NaN) without any
    value."""
    if len(values) == 0:
        return MetricValue(name=name, value=None, n=0, unit=unit, higher_is_better=higher_is_better)
    r = bootstrap_mean_ci(np.asarray(values, dtype=float), n_resamples=ctx.n_bootstrap, confidence=ctx.confidence,
                          seed=ctx.seed)
    return MetricValue(name=name, value=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, n=len(values), unit=unit,
                       higher_is_better=higher_is_better)


def rate_metric(name: str, k: int, n: int, ctx: SummaryContext, *, higher_is_better: bool | None) -> MetricValue:
    """k/n with a Wilson interval; value None without items."""
    if n == 0:
        return MetricValue(name=name, value=None, n=0, higher_is_better=higher_is_better)
    low, high = wilson_interval(k, n, ctx.confidence)
    return MetricValue(name=name, value=k / n, ci_low=low, ci_high=high, n=n, higher_is_better=higher_is_better)


def paired_score_comparison(metric: str, model: str, own: Sequence[float] | np.ndarray,
                            opponent: Sequence[float] | np.ndarray,
                            ctx: SummaryContext, *, empty_note: str) -> Comparison:
    """Mean paired difference own - opponent: bootstrap CI, Wilcoxon signed-rank p-value (few items: delta only)."""
    n = len(own)
    if n == 0:
        return Comparison(metric=metric, model=model, reference=ctx.reference, delta=None, n=0, note=empty_note)
    a, b = np.asarray(own, dtype=float), np.asarray(opponent, dtype=float)
    delta = float(np.mean(a - b))
    if not has_enough_items(n):
        return Comparison(metric=metric, model=model, reference=ctx.reference, delta=delta, n=n, note=TOO_FEW_ITEMS)
    boot = paired_bootstrap(lambda x, y: (x - y).mean(axis=-1), a, b, n_resamples=ctx.n_bootstrap,
                            confidence=ctx.confidence, seed=ctx.seed, null_value=0.0, vectorized=True)
    w = wilcoxon_signed_rank(a, b)
    note = "CI: paired bootstrap; p: Wilcoxon signed-rank" + (f" ({w.note})" if w.note else "")
    return Comparison(metric=metric, model=model, reference=ctx.reference, delta=delta, ci_low=boot.ci_low,
                      ci_high=boot.ci_high, p_value=w.p_value, test=SCORE_TEST, n=n, note=note)


def item_mean(values: Sequence[float]) -> float:
    """The mean of one item's few values (e.g. a model's score over its pairs) as np.mean gives it, without
    numpy's per-call cost for the usual single value (a one-element mean is that element, exactly)."""
    return values[0] if len(values) == 1 else float(np.mean(values))


# ---------------------------------------------------------------------------------------------------------
# Columns: a judged task's summary reads the stored results once into these (a few bytes per item), and
# the statistics run on the arrays. Each equals what the helpers of evalkit.judging give on the records.

_STATUSES = ("complete", "judge_invalid", "judge_failed", "no_answer")
_ABSENT = -1
"""PairRows status code of an item without a pair (a model missing from it, or a pair not made)."""
_UNORDERED = len(_STATUSES)
"""PairRows status code of a pair marked complete that lacks an order's verdict: it counts in nothing (as in
evalkit.judging.pair_stats)."""
_WIN, _TIE, _LOSS = (VERDICTS.index(v) for v in ("win", "tie", "loss"))


@dataclass(frozen=True)
class PairColumns:
    """Pairs of one answer against an opponent (one row per item) as codes and numbers, never as records.

    `status` indexes ("complete", "judge_invalid", "judge_failed", "no_answer"), -1 where the item has no
    pair (4: marked complete without both orders, counted in nothing); `verdicts` holds PairJudgment.verdicts of a complete pair (+1 own better, 0 tie, -1 opponent
    better, per order); `scores` its (own_score, opponent_score) (NaN when not complete) and `lengths` the two
    answers' characters (-1 when unknown), when the rows kept them.
    """

    status: np.ndarray
    verdicts: np.ndarray
    scores: np.ndarray | None = None
    lengths: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.status.size)

    @property
    def present(self) -> np.ndarray:
        """Rows that hold a pair (of any status)."""
        return self.status != _ABSENT

    @property
    def complete(self) -> np.ndarray:
        """Rows whose pair got a valid verdict in both orders (only these count)."""
        return self.status == 0

    def take(self, mask: np.ndarray) -> PairColumns:
        """The rows where `mask` is true, in order."""
        return PairColumns(status=self.status[mask], verdicts=self.verdicts[mask],
                           scores=None if self.scores is None else self.scores[mask],
                           lengths=None if self.lengths is None else self.lengths[mask])

    def outcomes(self) -> np.ndarray:
        """The complete pairs' verdicts as indices of evalkit.judging.VERDICTS (a flip is a tie), in order."""
        v = self.verdicts[self.complete]
        out = np.full(len(v), _TIE, dtype=np.int8)
        agreed = v[:, 0] == v[:, 1]
        out[agreed & (v[:, 0] > 0)] = _WIN
        out[agreed & (v[:, 0] < 0)] = _LOSS
        return out

    def verdict_labels(self) -> list[Verdict]:
        """outcomes() as labels, for evalkit.judging.judge_agreement."""
        return [VERDICTS[i] for i in self.outcomes().tolist()]

    def own_scores(self) -> np.ndarray:
        """The own answer's score on each complete pair (its mean over the two orders)."""
        assert self.scores is not None, "these rows were kept without scores"
        return self.scores[self.complete, 0]

    def opponent_scores(self) -> np.ndarray:
        """The opponent's score on each complete pair."""
        assert self.scores is not None, "these rows were kept without scores"
        return self.scores[self.complete, 1]

    def stats(self) -> PairStats:
        """evalkit.judging.pair_stats of the rows' pairs (items without a pair are not counted)."""
        v = self.verdicts[self.complete].astype(np.int64)
        outcomes = self.outcomes()
        v1, v2 = v[:, 0], v[:, 1]
        return PairStats(
            n=int(v.shape[0]), wins=int((outcomes == _WIN).sum()), ties=int((outcomes == _TIE).sum()),
            losses=int((outcomes == _LOSS).sum()), flips=int((v1 != v2).sum()), reversals=int((v1 * v2 < 0).sum()),
            slot1_wins=int((v1 > 0).sum() + (v2 < 0).sum()),
            decisive_orders=int((v1 != 0).sum() + (v2 != 0).sum()),
            judge_invalid=int((self.status == 1).sum()), judge_failed=int((self.status == 2).sum()),
            no_answer=int((self.status == 3).sum()))

    def length_bias(self) -> LengthBias:
        """evalkit.judging.length_bias of the rows' pairs: verdicts by length ratio, and its rank correlation
        with the score delta."""
        from scipy.stats import spearmanr

        assert self.scores is not None and self.lengths is not None, "these rows were kept without lengths"
        complete = self.complete
        known = complete & (self.lengths[:, 0] >= 0) & (self.lengths[:, 1] >= 0)
        outcomes = self.outcomes()[known[complete]]
        own_len, opp_len = self.lengths[known, 0], self.lengths[known, 1]
        # math.log2 item by item, as the record-based helper computes it (numpy's log2 may differ in the last bit).
        ratios = [math.log2(q) for q in ((own_len + 1) / (opp_len + 1)).tolist()]
        deltas = self.scores[known, 0] - self.scores[known, 1]
        x = np.asarray(ratios, dtype=float)
        low, high = LENGTH_BINS[2][1], LENGTH_BINS[2][2]
        index = np.full(x.size, 2, dtype=np.int64)
        for i, (_, lo, hi) in enumerate(LENGTH_BINS):
            if i != 2:
                index[(lo <= x) & (x < hi) & ~((low <= x) & (x <= high))] = i  # the middle bin is closed
        bins = []
        for i, (label, _, _) in enumerate(LENGTH_BINS):
            sel = index == i
            outs = outcomes[sel]
            bins.append(LengthBin(label=label, n=int(sel.sum()), wins=int((outs == _WIN).sum()),
                                  ties=int((outs == _TIE).sum()), losses=int((outs == _LOSS).sum()),
                                  mean_delta=float(np.mean(deltas[sel])) if sel.any() else None))
        rho = None
        if len(ratios) >= 3 and len(set(ratios)) > 1 and np.unique(deltas).size > 1:
            value = float(spearmanr(ratios, deltas).statistic)
            rho = value if math.isfinite(value) else None
        decided = (outcomes != _TIE) & (own_len != opp_len)
        longer_won = int(((outcomes[decided] == _WIN) == (own_len[decided] > opp_len[decided])).sum())
        return LengthBias(bins=tuple(bins), spearman_rho=rho, longer_won=longer_won,
                          decided_with_length_difference=int(decided.sum()))


class PairRows:
    """Builds PairColumns one item at a time: `add(pair)` for a PairJudgment (or None), `add_verdict` for a
    pair already reduced to its verdicts (a check judge's, where both orders are one verdict)."""

    def __init__(self, *, scores: bool = True, lengths: bool = False) -> None:
        self._status = array("b")
        self._verdicts = array("b")
        self._scores = array("d") if scores else None
        self._lengths = array("q") if lengths else None

    def add(self, pair: PairJudgment | None) -> None:
        """One item's pair (None: the item has none)."""
        if pair is None:
            self.add_absent()
            return
        complete = pair.complete
        v1, v2 = pair.verdicts if complete else (0, 0)
        self._status.append(0 if complete else _UNORDERED if pair.status == "complete" else
                            _STATUSES.index(pair.status))
        self._verdicts.extend((v1, v2))
        if self._scores is not None:
            self._scores.extend((pair.own_score, pair.opponent_score) if complete else (math.nan, math.nan))
        if self._lengths is not None:
            self._lengths.extend((-1 if pair.own_length is None else pair.own_length,
                                  -1 if pair.opponent_length is None else pair.opponent_length))

    def add_verdict(self, verdict: int, own_score: float = math.nan, opponent_score: float = math.nan) -> None:
        """One item's complete pair whose two orders gave the same verdict (+1, 0, -1) and scores."""
        self._status.append(0)
        self._verdicts.extend((verdict, verdict))
        if self._scores is not None:
            self._scores.extend((own_score, opponent_score))
        if self._lengths is not None:
            self._lengths.extend((-1, -1))

    def add_absent(self) -> None:
        """An item without a pair."""
        self._status.append(_ABSENT)
        self._verdicts.extend((0, 0))
        if self._scores is not None:
            self._scores.extend((math.nan, math.nan))
        if self._lengths is not None:
            self._lengths.extend((-1, -1))

    def columns(self) -> PairColumns:
        """The rows added so far, as arrays."""
        return PairColumns(status=_np(self._status, np.int8), verdicts=_np(self._verdicts, np.int8).reshape(-1, 2),
                           scores=None if self._scores is None else _np(self._scores, np.float64).reshape(-1, 2),
                           lengths=None if self._lengths is None else _np(self._lengths, np.int64).reshape(-1, 2))


def _np(values: array, dtype: Any) -> np.ndarray:
    return np.frombuffer(values, dtype=dtype) if len(values) else np.empty(0, dtype=dtype)


@dataclass(frozen=True)
class CheckColumns:
    """Each answer's check results (one row per item): `present` where the answer was checked; `met` and
    `score` per criterion of the check judge (columns in its order); `points` the criteria it met."""

    present: np.ndarray
    met: np.ndarray
    score: np.ndarray
    points: np.ndarray

    def criterion(self, i: int, mask: np.ndarray | None = None) -> np.ndarray:
        """Criterion i's scores on the checked rows (and `mask`), in order."""
        keep = self.present if mask is None else self.present & mask
        return self.score[keep, i]


class CheckRows:
    """Builds CheckColumns one item at a time from `ModelScore.details["checks"]` (criterion -> {met, score})."""

    def __init__(self, criteria: Sequence[str]) -> None:
        self.criteria = tuple(criteria)
        self._present = array("b")
        self._met = array("b")
        self._score = array("d")
        self._points = array("d")

    def add(self, raw: Mapping[str, Any] | None) -> dict[str, CheckResult] | None:
        """One answer's stored check results (None: not checked); returns them parsed (None when absent)."""
        if raw is None:
            self._present.append(0)
            self._met.extend(bytes(len(self.criteria)))
            self._score.extend([math.nan] * len(self.criteria))
            self._points.append(math.nan)
            return None
        results = {c: CheckResult.model_validate(v) for c, v in raw.items()}
        row = [results[c] for c in self.criteria]
        self._present.append(1)
        self._met.extend(int(r.met) for r in row)
        self._score.extend(r.score for r in row)
        self._points.append(float(sum(r.met for r in results.values())))
        return results

    def columns(self) -> CheckColumns:
        """The rows added so far, as arrays."""
        shape = (len(self._present), len(self.criteria))
        return CheckColumns(present=_np(self._present, np.int8).astype(bool),
                            met=_np(self._met, np.int8).reshape(shape).astype(bool),
                            score=_np(self._score, np.float64).reshape(shape), points=_np(self._points, np.float64))


class _CallCounts:
    __slots__ = ("cached", "calls", "completion_tokens", "cost_usd", "failed", "invalid", "latencies",
                 "prompt_tokens", "reasks")

    def __init__(self) -> None:
        self.calls = self.reasks = self.invalid = self.failed = self.cached = 0
        self.prompt_tokens: int | None = 0
        self.completion_tokens: int | None = 0
        self.cost_usd: float | None = 0
        self.latencies = array("d")


class JudgeCallTally:
    """evalkit.judging.judge_call_stats / judge_calls_table over judge calls added one at a time: counters and
    one float (the latency) per call are kept, never the calls (whose prompts are most of a run's records)."""

    def __init__(self) -> None:
        self._by_model: dict[str, _CallCounts] = {}

    def add(self, j: Judgment) -> None:
        """Count one judge call."""
        c = self._by_model.get(j.judge_model)
        if c is None:
            c = self._by_model[j.judge_model] = _CallCounts()
        details = j.details
        c.calls += 1
        c.reasks += int(details.get("attempt", 0)) > 0
        status = details.get("status")
        c.invalid += status == "invalid"
        c.failed += status == "failed"
        c.cached += bool(details.get("cached"))
        # A total with any unknown part is unknown (None), as in judge_call_stats: a partial sum would read low.
        c.prompt_tokens = None if c.prompt_tokens is None or j.usage.prompt_tokens is None else \
            c.prompt_tokens + j.usage.prompt_tokens
        c.completion_tokens = None if c.completion_tokens is None or j.usage.completion_tokens is None else \
            c.completion_tokens + j.usage.completion_tokens
        c.cost_usd = None if c.cost_usd is None or j.cost_usd is None else c.cost_usd + j.cost_usd
        if j.latency_s is not None:
            c.latencies.append(j.latency_s)

    def add_all(self, judgments: Iterable[Judgment]) -> None:
        """Count each of `judgments`."""
        for j in judgments:
            self.add(j)

    def stats(self) -> list[JudgeCallStats]:
        """One JudgeCallStats per judge model, in first-seen order."""
        return [JudgeCallStats(judge_model=m, calls=c.calls, reasks=c.reasks, invalid_answers=c.invalid,
                               failed=c.failed, cached=c.cached, prompt_tokens=c.prompt_tokens,
                               completion_tokens=c.completion_tokens, cost_usd=c.cost_usd,
                               mean_latency_s=float(np.mean(_np(c.latencies, np.float64))) if c.latencies else None)
                for m, c in self._by_model.items()]

    def table(self, title: str = "Judge calls") -> Table:
        """The counters as judge_calls_table shows them, one row per judge model."""
        rows = tuple((s.judge_model, s.calls, s.reasks, s.invalid_answers, s.failed, s.cached, s.prompt_tokens,
                      s.completion_tokens, s.cost_usd, s.mean_latency_s) for s in self.stats())
        return judge_calls_table((), title=title).model_copy(update={"rows": rows})
