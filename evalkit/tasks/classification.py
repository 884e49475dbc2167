"""The `classification` task: each sample's target is one of a fixed set of labels; outputs are parsed to one.

Suite arguments (`task_args`): `labels` (at least two distinct strings), optional `positive_label` (enables
binary precision, recall and F1) and optional `aliases` (alternative spellings mapped to labels).

Policies: an output naming no label (or several, ambiguously) is the label `invalid` and counts as wrong.
A failed call (no output) is not scored: it is excluded from that model's metrics and counted in the notes.
Comparisons against the reference use the items where both models produced an output.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from evalkit.errors import DataError
from evalkit.metrics.classification import (
    INVALID,
    batch_confusion,
    batch_scores,
    confusion_scores,
    metrics_from_confusion,
    normalize_label,
    parse_label,
)
from evalkit.records import (
    Comparison,
    ConfusionMatrix,
    Generation,
    MetricValue,
    ModelScore,
    Sample,
    SampleResult,
    Table,
    TaskSummary,
)
from evalkit.stats import (
    MIN_ITEMS_FOR_TEST,
    TOO_FEW_ITEMS,
    bootstrap_counts,
    counts_fit,
    has_enough_items,
    mcnemar_exact,
    paired_bootstrap_many,
)
from evalkit.tasks.base import (
    ItemMetric,
    ScoringContext,
    SummaryContext,
    Task,
    scored_items,
)
from evalkit.user_errors import validation_error

__all__ = ["ClassificationArgs", "ClassificationTask", "create"]

# Outputs that fail to parse count as wrong; precision/recall/F1 with a zero denominator count as 0.
_ZERO_DIVISION = 0.0


class ClassificationArgs(BaseModel):
    """The `task_args` of a classification suite."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    labels: list[str] = Field(min_length=2)
    """The classes, as the data's targets spell them."""
    positive_label: str | None = None
    """The class whose precision, recall and F1 are reported (binary view); none: only macro F1."""
    aliases: dict[str, str] = Field(default_factory=dict)
    """Other spellings a model may answer with, mapped to a label (e.g. `news: news_related`)."""

    @field_validator("labels")
    @classmethod
    def _distinct(cls, labels: list[str]) -> list[str]:
        keys = [normalize_label(label) for label in labels]
        if any(not k for k in keys):
            raise ValueError("labels must be non-empty strings with at least one letter or digit")
        if len(set(keys)) != len(keys):
            raise ValueError("labels must be distinct, also after ignoring case, spaces, '_' and punctuation")
        if INVALID in keys:
            raise ValueError(f"'{INVALID}' is reserved for outputs that match no label")
        return labels

    @field_validator("positive_label")
    @classmethod
    def _positive_known(cls, value: str | None, info: ValidationInfo) -> str | None:
        labels = info.data.get("labels")
        if value is not None and labels is not None and value not in labels:
            raise ValueError(f"must be one of {labels}")
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases_known(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        labels = info.data.get("labels")
        if labels is None:
            return value
        wrong = {a: t for a, t in value.items() if t not in labels}
        if wrong:
            raise ValueError(f"every alias must map to one of {labels}; these do not: {wrong}")
        try:
            parse_label("", labels, value)  # the same clash checks the parser applies
        except ValueError as e:
            raise ValueError(str(e)) from None
        return value


def create(args: Mapping[str, Any], suite_path: Path) -> ClassificationTask:
    """Build the task from a suite's `task_args`; ConfigError naming the suite file and field if invalid."""
    try:
        parsed = ClassificationArgs.model_validate(dict(args))
    except ValidationError as e:
        raise validation_error(e, where=str(suite_path), prefix="task_args.", model=ClassificationArgs,
                               allowed="labels (list of >= 2 distinct strings), positive_label (one of labels), "
                                       "aliases (mapping alias -> label)") from None
    return ClassificationTask(parsed)


_FAILED, _MISSING = -1, -2
"""Prediction codes of an item a model has no label for: its call failed, or it has no generation at all."""


@dataclass(frozen=True)
class _Columns:
    """Every item's true label code and each model's predicted code (INVALID = len(labels)), in item order."""

    true: np.ndarray
    pred: dict[str, np.ndarray]


class ClassificationTask(Task):
    """Parses each output into a label and reports accuracy, F1 and paired comparisons."""

    name = "classification"
    item_metrics = (ItemMetric("accuracy", 0.0, 1.0),)
    """ModelScore.value is 1 for a correct label, 0 for a wrong or invalid one."""

    def __init__(self, args: ClassificationArgs) -> None:
        self.args = args
        self.labels: tuple[str, ...] = tuple(args.labels)
        self.positive_label = args.positive_label
        self._by_key = {normalize_label(label): label for label in self.labels}

    def prompt_vars(self, sample: Sample) -> Mapping[str, Any]:
        """The labels, for templates that list the choices."""
        return {"labels": list(self.labels)}

    def check_samples(self, samples: Iterable[Sample], where: str) -> None:
        """DataError naming `where` (the data file) and the sample when a target is not one of the labels.

        Called by the runner before any model call, so a bad target fails in a second, not after the run.
        """
        for i, sample in enumerate(samples, 1):
            if self._by_key.get(normalize_label(sample.target or "")) is None:
                raise DataError(f"{where}: sample {sample.id!r} (record {i}): target {sample.target!r} must be "
                                f"one of {list(self.labels)} (the task's labels)")

    def _target(self, sample: Sample) -> str:
        label = self._by_key.get(normalize_label(sample.target or ""))
        if label is None:
            raise DataError(f"sample {sample.id!r}: target {sample.target!r} must be one of {list(self.labels)}")
        return label

    async def score(self, sample: Sample, generations: Mapping[str, Generation],
                    ctx: ScoringContext) -> SampleResult:
        """Parse every model's output; a failed call gets value None and `details.failed`."""
        target = self._target(sample)
        scores: dict[str, ModelScore] = {}
        for model, gen in generations.items():
            if not gen.ok:
                scores[model] = ModelScore(details={"failed": True, "error": gen.error or "no output"})
                continue
            label = parse_label(gen.output or "", self.labels, self.args.aliases)
            correct = label == target
            scores[model] = ModelScore(value=1.0 if correct else 0.0, label=label, correct=correct)
        return SampleResult(sample_id=sample.id, scores=scores)

    # -----------------------------------------------------------------------------------------------------

    def _columns(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                 ctx: SummaryContext) -> _Columns:
        """One pass over the items into label codes (a million items are a few arrays of int16)."""
        code = {label: i for i, label in enumerate(self.labels)}
        code[INVALID] = len(self.labels)
        true = array("h")
        pred = {m: array("h") for m in ctx.models}
        for sample, result in scored_items(samples, results, ctx):
            true.append(code[self._target(sample)])
            for m in ctx.models:
                s = result.scores.get(m)
                pred[m].append(_MISSING if s is None else _FAILED if s.label is None else code[s.label])
        as_np = lambda a: np.frombuffer(a, dtype=np.int16).astype(np.int64) if len(a) else np.empty(0, np.int64)
        return _Columns(true=as_np(true), pred={m: as_np(p) for m, p in pred.items()})

    def _metric_names(self) -> list[str]:
        binary = ["precision", "recall", "f1"] if self.positive_label is not None else []
        return ["accuracy", *binary, "f1_macro", "invalid_rate"]

    def _from_counts(self, confusion: np.ndarray) -> dict[str, np.ndarray]:
        """This task's metrics for each confusion matrix of counts (rows, labels, labels + 1)."""
        pos = self.labels.index(self.positive_label) if self.positive_label is not None else None
        return confusion_scores(confusion, pos, _ZERO_DIVISION)

    def _scores(self, t: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
        """This task's metrics for each row of code arrays (a bootstrap statistic)."""
        pos = self.labels.index(self.positive_label) if self.positive_label is not None else None
        return batch_scores(t, p, len(self.labels), pos, _ZERO_DIVISION)

    def _model_metrics(self, t: np.ndarray, p: np.ndarray, ctx: SummaryContext) -> tuple[MetricValue, ...]:
        names = self._metric_names()
        n = int(t.size)
        if n == 0:
            return (*(MetricValue(name=k, value=None, higher_is_better=k != "invalid_rate") for k in names),
                    MetricValue(name="n", value=0.0, n=0, unit="items", higher_is_better=None))
        n_labels = len(self.labels)
        cells = n_labels * (n_labels + 1)
        if counts_fit(cells, n, ctx.n_bootstrap):
            # Resampling items of labels x (labels + 1) kinds is drawing a confusion matrix: O(cells), not O(items).
            boot = bootstrap_counts(lambda c: self._from_counts(c.reshape(-1, n_labels, n_labels + 1)),
                                    t * (n_labels + 1) + p, cells, n_resamples=ctx.n_bootstrap,
                                    confidence=ctx.confidence, seed=ctx.seed)
        else:
            boot = paired_bootstrap_many(self._scores, t, p, n_resamples=ctx.n_bootstrap,
                                         confidence=ctx.confidence, seed=ctx.seed, vectorized=True)
        out = [MetricValue(name=k, value=boot[k].estimate, ci_low=boot[k].ci_low, ci_high=boot[k].ci_high, n=n,
                           higher_is_better=k != "invalid_rate") for k in names]
        out.append(MetricValue(name="n", value=float(n), n=n, unit="items", higher_is_better=None))
        return tuple(out)

    def _compare(self, model: str, cols: _Columns, ctx: SummaryContext) -> list[Comparison]:
        own, ref = cols.pred[model], cols.pred[ctx.reference]
        keep = (own >= 0) & (ref >= 0)
        n = int(keep.sum())
        names = ["accuracy", *(["f1"] if self.positive_label is not None else []), "f1_macro"]
        if n == 0:
            return [Comparison(metric=k, model=model, reference=ctx.reference, n=0, delta=None,
                               note="no items where both models produced output") for k in names]
        t, pa, pr = cols.true[keep], own[keep], ref[keep]

        def deltas(t_: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
            sx, sy = self._scores(t_, x), self._scores(t_, y)
            return {k: sx[k] - sy[k] for k in names}

        if not has_enough_items(n):
            point = deltas(t, pa, pr)
            return [Comparison(metric=k, model=model, reference=ctx.reference, n=n, delta=float(point[k][0]),
                               note=TOO_FEW_ITEMS) for k in names]
        n_labels = len(self.labels)
        width = n_labels + 1
        cells = n_labels * width * width
        if counts_fit(cells, n, ctx.n_bootstrap):
            def count_deltas(c: np.ndarray) -> dict[str, np.ndarray]:
                cube = c.reshape(-1, n_labels, width, width)  # true x own prediction x reference prediction
                sx, sy = self._from_counts(cube.sum(axis=3)), self._from_counts(cube.sum(axis=2))
                return {name: sx[name] - sy[name] for name in names}

            boot = bootstrap_counts(count_deltas, (t * width + pa) * width + pr, cells,
                                    n_resamples=ctx.n_bootstrap, confidence=ctx.confidence, seed=ctx.seed,
                                    null_value=0.0)
        else:
            boot = paired_bootstrap_many(deltas, t, pa, pr, n_resamples=ctx.n_bootstrap, confidence=ctx.confidence,
                                         seed=ctx.seed, null_value=0.0, vectorized=True)
        out = []
        for k in names:
            r = boot[k]
            base = dict(metric=k, model=model, reference=ctx.reference, n=n, delta=r.estimate, ci_low=r.ci_low,
                        ci_high=r.ci_high)
            if k == "accuracy":
                # McNemar's exact test is the standard for paired correctness; the CI stays the bootstrap's.
                mc = mcnemar_exact(pa == t, pr == t)
                out.append(Comparison(**base, p_value=mc.p_value, test="mcnemar-exact",
                                      note=f"discordant pairs: {mc.b} only {model} correct, "
                                           f"{mc.c} only {ctx.reference} correct"))
            else:
                out.append(Comparison(**base, p_value=r.p_value, test="paired-bootstrap"))
        return out

    def summarize(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Metrics with bootstrap CIs per model, paired comparisons against the reference, reports, matrices."""
        cols = self._columns(samples, results, ctx)
        metrics, tables, matrices, notes = {}, [], [], []
        for model in ctx.models:
            p = cols.pred[model]
            scored = p >= 0
            failed, missing = int((p == _FAILED).sum()), int((p == _MISSING).sum())
            metrics[model] = self._model_metrics(cols.true[scored], p[scored], ctx)
            if failed:
                notes.append(f"{model}: {failed} failed call(s) excluded from its metrics and comparisons")
            if missing:
                notes.append(f"{model}: no generation for {missing} item(s)")
            if not scored.any():
                notes.append(f"{model}: no scored items; metrics are empty")
                continue
            confusion = batch_confusion(cols.true[scored], p[scored], len(self.labels))[0]
            m = metrics_from_confusion(confusion, self.labels, self.positive_label, zero_division=_ZERO_DIVISION)
            tables.append(Table(title=f"Per-class report: {model}",
                                columns=("label", "precision", "recall", "f1", "support"),
                                rows=tuple((c.label, c.precision, c.recall, c.f1, c.support)
                                           for c in m.per_class)))
            matrices.append(ConfusionMatrix(model=model, labels=self.labels,
                                            predicted_labels=m.confusion_columns, counts=m.confusion))
            if m.undefined:
                notes.append(f"{model}: {', '.join(m.undefined)} had a zero denominator and count as 0")
        comparisons = [c for model in ctx.models if model != ctx.reference
                       for c in self._compare(model, cols, ctx)]
        if any(c.note == TOO_FEW_ITEMS for c in comparisons):
            notes.append(f"comparisons on fewer than {MIN_ITEMS_FOR_TEST} paired items ('{TOO_FEW_ITEMS}') report "
                         f"the delta only, with no interval or p-value")
        notes.append(f"intervals: {ctx.confidence:.0%} percentile bootstrap, {ctx.n_bootstrap} resamples, "
                     f"seed {ctx.seed}; outputs matching no label count as wrong ('{INVALID}')")
        return TaskSummary(task=self.name, metrics=metrics, comparisons=tuple(comparisons), tables=tuple(tables),
                           confusion_matrices=tuple(matrices), notes=tuple(notes))
