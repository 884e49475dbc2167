"""What judged tasks share, public for task authors: arguments, judges, the variables a judge sees, summaries.

A judged task names an LLM judge (`judge:`, a judge file with a template, run only when the runner gives a judge
model), a check judge (`checks:`, a judge file of `kind: checks`, always run: no model), or both:

    task_args: {judge: legal_quality, checks: bsard_checks, context_field: context}

    args = parse_task_args(JudgeTaskArgs, task_args, suite_path)     # one-line ConfigError when wrong
    judges = load_task_judges(args, suite_path, "pairwise")           # TaskJudges(llm=..., checks=...)
    judges.judge_need                                                 # "required" / "optional" / "none"

Summary helpers (`mean_metric`, `rate_metric`, `paired_score_comparison`) give every judged task the same
means with bootstrap CIs and the same paired comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evalkit.errors import ConfigError, DataError
from evalkit.judging import (
    DEFAULT_MAX_REASKS,
    CheckJudgeSpec,
    JudgeSpec,
    find_judge,
    judge_variables,
)
from evalkit.records import Comparison, MetricValue, Sample
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
    "JudgeNeed",
    "JudgeTaskArgs",
    "LoadedJudge",
    "TaskJudges",
    "check_details",
    "check_judge_fields",
    "find_task_judge",
    "item_basics",
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


def mean_metric(name: str, values: Sequence[float], ctx: SummaryContext, *, unit: str = "",
                higher_is_better: bool | None = True) -> MetricValue:
    """The mean of `values` with a bootstrap CI; value None (never NaN) without any value."""
    if not values:
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


def paired_score_comparison(metric: str, model: str, own: Sequence[float], opponent: Sequence[float],
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
