"""The `multiple_choice` task: a question with lettered options (and optional context passages); the model's
free-text answer is parsed to a letter (evalkit.metrics.multiple_choice) and scored against the target.

Suite arguments (`task_args`):
- `options_field` (default `options`): a sample field holding the option texts, as a list (letters A, B, ... in
  order) or a mapping letter -> text; or
- `option_columns`: several sample fields, one option each (e.g. `[A, B, C, D]` for MMLU's CSV columns).
- `context_field`: a sample field with context passages (a string or a list of passages), shown to prompts as
  `context`.

The target may be a letter or an option's text. Prompt templates get `choices` (a list of `{letter, text}`),
`options_block` ("A. ...\\nB. ..." one per line), `letters` ("A, B, C or D") and `context`.

Repeated attempts (`--attempts K` or the suite's `attempts:`): the task declares `uses_attempts = True`, so the
runner passes every attempt's generation (a tuple per model, in attempt order). Per model the task reports
`accuracy` (the mean over items of the share of correct attempts: the mean over attempts), with a bootstrap CI
over items, `accuracy_sd` (spread: the standard deviation of the K per-attempt accuracies), `majority_accuracy`
(majority vote per item, ties wrong), `agreement` (share of an item's attempts giving its modal answer) and
`unanimous_rate`; `invalid_rate` counts unparsable answers over all scored attempts.

Paired comparisons against the reference, on the items both models have a scored attempt for: the `accuracy`
delta with a paired bootstrap CI (and bootstrap p), and McNemar's exact test on majority-vote correctness (on
`majority_accuracy` when K > 1, else on `accuracy`). Failed calls (no output) are left out and counted.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evalkit.errors import DataError
from evalkit.metrics.classification import normalize_label
from evalkit.metrics.multiple_choice import (
    INVALID,
    attempt_accuracy,
    option_letters,
    parse_choice,
    summarize_attempts,
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
from evalkit.stats import (
    TOO_FEW_ITEMS,
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

__all__ = ["MultipleChoiceArgs", "MultipleChoiceTask", "create"]


class MultipleChoiceArgs(BaseModel):
    """The `task_args` of a multiple-choice suite."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    options_field: str = "options"
    """Sample field with the options: a list of texts, or a mapping letter -> text."""
    option_columns: list[str] | None = Field(default=None, min_length=2, max_length=26)
    """Sample fields holding one option each, in letter order (instead of `options_field`)."""
    context_field: str | None = None
    """Sample field with context passages (a string or a list of strings), shown to templates as `context`."""

    @model_validator(mode="after")
    def _one_source(self) -> MultipleChoiceArgs:
        if self.option_columns is not None and len(set(self.option_columns)) != len(self.option_columns):
            raise ValueError("option_columns must name distinct fields")
        return self


def create(args: Mapping[str, Any], suite_path: Path) -> MultipleChoiceTask:
    """Build the task from a suite's `task_args`; ConfigError naming the suite file and field if invalid."""
    try:
        parsed = MultipleChoiceArgs.model_validate(dict(args))
    except ValidationError as err:
        raise validation_error(err, where=str(suite_path), prefix="task_args.", model=MultipleChoiceArgs) from None
    return MultipleChoiceTask(parsed)


@dataclass(frozen=True)
class _Item:
    """One sample as a question: its letters, option texts and target letter."""

    letters: tuple[str, ...]
    options: tuple[str, ...]
    target: str


class MultipleChoiceTask(Task):
    """Parses each attempt's answer to a letter; accuracy over attempts, agreement and paired comparisons."""

    name = "multiple_choice"
    uses_attempts = True
    """The runner passes all attempts: `score` receives a tuple of generations per model."""
    item_metrics = (ItemMetric("accuracy", 0.0, 1.0),)
    """ModelScore.value is the item's share of correct attempts: accuracy is its mean."""

    def __init__(self, args: MultipleChoiceArgs) -> None:
        self.args = args

    # -- samples ---------------------------------------------------------------------------------------------

    def _options(self, sample: Sample) -> tuple[tuple[str, ...], tuple[str, ...]]:
        fields = sample.fields
        if self.args.option_columns is not None:
            missing = [c for c in self.args.option_columns if c not in fields]
            if missing:
                raise DataError(f"sample {sample.id!r}: task_args.option_columns names field(s) {missing} that it "
                                f"does not have (fields: {sorted(fields)})")
            texts = tuple(str(fields[c]) for c in self.args.option_columns)
            return option_letters(len(texts)), texts
        raw = fields.get(self.args.options_field)
        if isinstance(raw, Mapping):
            letters = tuple(str(k).strip().upper() for k in raw)
            if not 2 <= len(letters) <= 26 or letters != option_letters(len(letters)):
                raise DataError(f"sample {sample.id!r}: field {self.args.options_field!r} must map the letters "
                                f"A, B, ... in order to option texts (received keys {list(raw)})")
            return letters, tuple(str(v) for v in raw.values())
        if isinstance(raw, (list, tuple)) and 2 <= len(raw) <= 26:
            return option_letters(len(raw)), tuple(str(v) for v in raw)
        raise DataError(f"sample {sample.id!r}: field {self.args.options_field!r} must hold 2 to 26 options (a list of "
                        f"texts or a mapping letter -> text); received {raw!r}. Set task_args.options_field or "
                        f"task_args.option_columns to where the options are.")

    def _item(self, sample: Sample) -> _Item:
        letters, options = self._options(sample)
        target = (sample.target or "").strip()
        letter = target.strip("().").upper()
        if letter not in letters:
            by_text = {normalize_label(o): lt for lt, o in zip(letters, options)}
            letter = by_text.get(normalize_label(target), "")
        if letter not in letters:
            raise DataError(f"sample {sample.id!r}: target {sample.target!r} must be one of the letters "
                            f"{', '.join(letters)} or one option's text")
        return _Item(letters, options, letter)

    def prompt_vars(self, sample: Sample) -> Mapping[str, Any]:
        """`choices`, `options_block`, `letters` and `context` for templates."""
        letters, options = self._options(sample)
        context: Any = ""
        if self.args.context_field is not None:
            if self.args.context_field not in sample.fields:
                raise DataError(f"sample {sample.id!r}: task_args.context_field names {self.args.context_field!r}, "
                                f"which it does not have (fields: {sorted(sample.fields)})")
            context = sample.fields[self.args.context_field]
            context = "\n\n".join(str(p) for p in context) if isinstance(context, (list, tuple)) else str(context)
        return {
            "choices": [{"letter": lt, "text": o} for lt, o in zip(letters, options)],
            "options_block": "\n".join(f"{lt}. {o}" for lt, o in zip(letters, options)),
            "letters": ", ".join(letters[:-1]) + f" or {letters[-1]}",
            "context": context,
        }

    # -- scoring ---------------------------------------------------------------------------------------------

    async def score(self, sample: Sample, generations: Mapping[str, Sequence[Generation] | Generation],
                    ctx: ScoringContext) -> SampleResult:
        """Parse every attempt of every model; the item's score is the share of correct scored attempts."""
        item = self._item(sample)
        scores: dict[str, ModelScore] = {}
        for model, gens in generations.items():
            attempts = sorted((gens,) if isinstance(gens, Generation) else tuple(gens), key=lambda g: g.attempt)
            answers: list[str | None] = []
            rules: list[str | None] = []
            for g in attempts:
                if not g.ok:
                    answers.append(None)
                    rules.append(None)
                    continue
                choice = parse_choice(g.output or "", item.letters, item.options)
                answers.append(choice.letter)
                rules.append(choice.rule)
            agg = summarize_attempts(answers, item.target)
            details: dict[str, Any] = {"answers": answers, "parse_rules": rules, "target": item.target,
                                       "failed_attempts": len(answers) - agg.n_scored}
            if agg.n_scored == 0:
                errors = [g.error or "no output" for g in attempts]
                scores[model] = ModelScore(details={**details, "failed": True, "error": errors[0] if errors else
                                                    "no generation"})
                continue
            details.update(agreement=agg.agreement, majority=agg.majority, n_invalid=agg.n_invalid)
            label = agg.majority if agg.majority is not None else "tie"
            scores[model] = ModelScore(value=agg.mean_correct, label=label, correct=agg.majority_correct,
                                       details=details)
        return SampleResult(sample_id=sample.id, scores=scores)

    # -- summary ---------------------------------------------------------------------------------------------

    def summarize(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Per-model accuracy over attempts with spread and agreement; paired comparisons with the reference."""
        cols = _MCColumns.read(samples, results, ctx)
        k = cols.k
        metrics: dict[str, tuple[MetricValue, ...]] = {}
        per_attempt_rows, outcome_rows, notes = [], [], []
        for model in ctx.models:
            c = cols.models[model]
            metrics[model] = self._model_metrics(c, k, ctx)
            outcome_rows.append((model, c.n_correct, c.n_ok - c.n_correct - c.n_invalid, c.n_invalid, c.n_failed))
            matrix = c.matrix(k)
            if k > 1 and matrix.size:
                acc = attempt_accuracy(matrix)
                per_attempt_rows.append((model, *acc.per_attempt, acc.mean, acc.sd))
            if c.failed_items:
                notes.append(f"{model}: {c.failed_items} item(s) without any output (failed calls) left out of its "
                             f"metrics and comparisons")
            if c.n_invalid:
                notes.append(f"{model}: {c.n_invalid} of {c.n_ok} answers named no option (unparsable); they count "
                             f"as wrong")
        comparisons = [cmp for m in ctx.models if m != ctx.reference
                       for cmp in self._compare(m, cols, k, ctx)]
        tables = [Table(title="Answer outcomes (all attempts)", columns=("model", "correct", "wrong", "unparsable",
                                                                        "failed calls"), rows=tuple(outcome_rows))]
        if per_attempt_rows:
            tables.append(Table(title=f"Accuracy per attempt ({k} attempts, sampled)",
                                columns=("model", *(f"attempt {i + 1}" for i in range(k)), "mean", "sd"),
                                rows=tuple(per_attempt_rows)))
        notes.append(f"{k} attempt(s) per item" + (": accuracy is the mean over attempts; majority_accuracy uses "
                                                  "each item's majority answer (ties count as wrong)" if k > 1 else ""))
        notes.append(f"intervals: {ctx.confidence:.0%} percentile bootstrap over items, {ctx.n_bootstrap} resamples, "
                     f"seed {ctx.seed}; McNemar's exact test on majority-vote correctness")
        return TaskSummary(task=self.name, metrics=metrics, comparisons=tuple(comparisons), tables=tuple(tables),
                           notes=tuple(notes))

    def _model_metrics(self, c: _ModelColumns, k: int, ctx: SummaryContext) -> tuple[MetricValue, ...]:
        has = c.has
        n = int(has.sum())
        names = ["accuracy", "invalid_rate"] + (["accuracy_sd", "majority_accuracy", "agreement",
                                                 "unanimous_rate"] if k > 1 else [])
        if n == 0:
            return (*(MetricValue(name=m, value=None, higher_is_better=m not in ("invalid_rate", "accuracy_sd"))
                      for m in names), MetricValue(name="n", value=0.0, n=0, unit="items", higher_is_better=None))
        stats = {"accuracy": c.value[has], "invalid_rate": c.invalid[has]}
        if k > 1:
            stats["majority_accuracy"] = c.majority[has]
            stats["agreement"] = c.agreement[has]
            stats["unanimous_rate"] = (stats["agreement"] == 1.0).astype(float)
        keys = list(stats)
        boot = paired_bootstrap_many(lambda *cols: {name: col.mean(axis=-1) for name, col in zip(keys, cols)},
                                     *stats.values(), n_resamples=ctx.n_bootstrap, confidence=ctx.confidence,
                                     seed=ctx.seed, vectorized=True)
        out = [MetricValue(name=name, value=boot[name].estimate, ci_low=boot[name].ci_low, ci_high=boot[name].ci_high,
                           n=n, higher_is_better=name != "invalid_rate") for name in keys]
        if k > 1:
            matrix = c.matrix(k)
            acc = attempt_accuracy(matrix) if matrix.size else None
            out.insert(1, MetricValue(name="accuracy_sd", value=acc.sd if acc else None, n=k,
                                      higher_is_better=False, unit="attempts"))
        out.append(MetricValue(name="n", value=float(n), n=n, unit="items", higher_is_better=None))
        return tuple(out)

    def _compare(self, model: str, cols: _MCColumns, k: int, ctx: SummaryContext) -> list[Comparison]:
        a, b = cols.models[model], cols.models[ctx.reference]
        both = a.has & b.has
        n = int(both.sum())
        names = ["accuracy"] + (["majority_accuracy"] if k > 1 else [])
        base = {"model": model, "reference": ctx.reference, "n": n}
        if n == 0:
            return [Comparison(metric=m, delta=None, note="no item where both models produced output", **base)
                    for m in names]
        x, y = a.value[both], b.value[both]
        xm, ym = a.majority[both], b.majority[both]
        point = {"accuracy": float((x - y).mean()), "majority_accuracy": float((xm - ym).mean())}
        if not has_enough_items(n):
            return [Comparison(metric=m, delta=point[m], note=TOO_FEW_ITEMS, **base) for m in names]
        boot = paired_bootstrap_many(
            lambda a, b, am, bm: {"accuracy": (a - b).mean(axis=-1), "majority_accuracy": (am - bm).mean(axis=-1)},
            x, y, xm, ym, n_resamples=ctx.n_bootstrap, confidence=ctx.confidence, seed=ctx.seed, null_value=0.0,
            vectorized=True)
        mc = mcnemar_exact(xm.astype(bool), ym.astype(bool))
        mc_note = f"discordant items (majority vote): {mc.b} only {model} correct, {mc.c} only {ctx.reference} correct"
        out = []
        for m in names:
            r = boot[m]
            common = dict(metric=m, delta=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, **base)
            if m == names[-1]:
                # McNemar on majority-vote correctness: with one attempt that is plain paired correctness.
                out.append(Comparison(**common, p_value=mc.p_value, test="mcnemar-exact", note=mc_note))
            else:
                out.append(Comparison(**common, p_value=r.p_value, test="paired-bootstrap",
                                      note=f"mean over {k} attempts per item; CI and p: paired bootstrap over items"))
        return out


@dataclass(frozen=True)
class _ModelColumns:
    """One model's scored items as columns (item order), and its answer counts over all attempts."""

    has: np.ndarray
    """The item has a value: at least one attempt produced an output."""
    value: np.ndarray
    invalid: np.ndarray
    majority: np.ndarray
    agreement: np.ndarray
    answers: np.ndarray
    """Every attempt's correctness of the items that have a value, flattened: 1, 0, or -1 (failed call)."""
    lengths: np.ndarray
    """Attempts per item that has a value (how `answers` splits)."""
    n_ok: int
    n_correct: int
    n_invalid: int
    n_failed: int
    failed_items: int

    def matrix(self, k: int) -> np.ndarray:
        """items x k correctness of the items with exactly k attempts (1, 0, -1 as in `answers`)."""
        if not self.lengths.size:
            return np.empty((0, k), dtype=np.int8)
        starts = np.concatenate(([0], np.cumsum(self.lengths)[:-1]))
        full = starts[self.lengths == k]
        return self.answers[full[:, np.newaxis] + np.arange(k)] if full.size else np.empty((0, k), dtype=np.int8)


class _Builder:
    def __init__(self) -> None:
        self.has, self.value, self.invalid = array("b"), array("d"), array("d")
        self.majority, self.agreement, self.answers, self.lengths = array("d"), array("d"), array("b"), array("i")
        self.n_ok = self.n_correct = self.n_invalid = self.n_failed = self.failed_items = 0

    def add(self, s: ModelScore | None) -> None:
        if s is None or s.value is None:
            self.has.append(0)
            for col in (self.value, self.invalid, self.majority, self.agreement):
                col.append(0.0)
            if s is not None:
                self.failed_items += 1
                self.n_failed += len(s.details.get("answers", ()))
            return
        answers, target = s.details["answers"], s.details["target"]
        ok = sum(a is not None for a in answers)
        self.has.append(1)
        self.value.append(float(s.value))
        self.invalid.append(s.details["n_invalid"] / max(1, ok))
        self.majority.append(float(bool(s.correct)))
        self.agreement.append(float(s.details.get("agreement") or 0.0))
        self.answers.extend(-1 if a is None else int(a == target) for a in answers)
        self.lengths.append(len(answers))
        self.n_ok += ok
        self.n_correct += sum(a == target for a in answers)
        self.n_invalid += sum(a == INVALID for a in answers)
        self.n_failed += len(answers) - ok

    def build(self) -> _ModelColumns:
        def arr(a: array, dtype: Any) -> np.ndarray:
            return np.frombuffer(a, dtype=dtype).copy() if len(a) else np.empty(0, dtype)

        return _ModelColumns(has=arr(self.has, np.int8) == 1, value=arr(self.value, np.float64),
                             invalid=arr(self.invalid, np.float64), majority=arr(self.majority, np.float64),
                             agreement=arr(self.agreement, np.float64), answers=arr(self.answers, np.int8),
                             lengths=arr(self.lengths, np.int32), n_ok=self.n_ok, n_correct=self.n_correct,
                             n_invalid=self.n_invalid, n_failed=self.n_failed, failed_items=self.failed_items)


@dataclass(frozen=True)
class _MCColumns:
    """Every model's columns, from one pass over the items, and the most attempts any item has."""

    models: dict[str, _ModelColumns]
    k: int

    @classmethod
    def read(cls, samples: Iterable[Sample], results: Iterable[SampleResult], ctx: SummaryContext) -> _MCColumns:
        builders = {m: _Builder() for m in ctx.models}
        k = 0
        for _, r in scored_items(samples, results, ctx):
            for s in r.scores.values():
                k = max(k, len(s.details.get("answers", ())))
            for m, b in builders.items():
                b.add(r.scores.get(m))
        return cls(models={m: b.build() for m, b in builders.items()}, k=k or 1)
