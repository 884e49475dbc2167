"""The `reference_match` task: each sample has a reference answer (e.g. the held-out last assistant message of a
fine-tuning eval file, see evalkit.sources.chat_jsonl); outputs are compared with it exactly, after
normalisation, and optionally graded by a single-answer judge that sees the reference.

Suite arguments (`task_args`):
- `match`: which comparisons to report, among `exact` (identical after trimming whitespace) and `normalized`
  (Unicode NFKC, case, whitespace runs, surrounding quotes and final punctuation ignored; two JSON texts - e.g.
  tool calls, with any `[TOOL_CALLS]` marker dropped - compare as parsed JSON). Default: both.
- `judge` (optional): a single-answer judge id or file (e.g. `additive_rubric`), with `judge_vars` and
  `max_reasks`; it is run through the `rubric_judge` task with the reference shown (reference-guided grading),
  so its metrics, tables and comparisons are the rubric task's own.

Policies: a failed call is not scored (counted in the notes); comparisons pair the items both models answered.
The sample score is the normalised match (or the exact one when only `exact` is asked for).
"""

from __future__ import annotations

import json
import re
import unicodedata
from array import array
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.records import (
    Comparison,
    Generation,
    MappedRecords,
    MetricValue,
    ModelScore,
    Sample,
    SampleResult,
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

__all__ = ["ReferenceMatchArgs", "ReferenceMatchTask", "create", "normalize_answer"]

_MARKER = re.compile(r"^\s*\[TOOL_CALLS\]\s*")


class ReferenceMatchArgs(BaseModel):
    """The `task_args` of a reference-match suite."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match: list[Literal["exact", "normalized"]] = Field(default_factory=lambda: ["exact", "normalized"],
                                                        min_length=1)
    judge: str | None = None
    """A single-answer judge (id or file) grading each answer with the reference shown; none: matching only."""
    judge_vars: dict[str, Any] = Field(default_factory=dict)
    max_reasks: int = Field(default=2, ge=0, le=5)


def create(args: Mapping[str, Any], suite_path: Path) -> ReferenceMatchTask:
    """Build the task from a suite's `task_args`; ConfigError naming the suite file and field if invalid."""
    try:
        parsed = ReferenceMatchArgs.model_validate(dict(args))
    except ValidationError as err:
        raise validation_error(err, where=str(suite_path), prefix="task_args.", model=ReferenceMatchArgs) from None
    rubric = None
    if parsed.judge is not None:
        from evalkit.tasks.rubric import create as create_rubric

        rubric = create_rubric({"judge": parsed.judge, "judge_vars": parsed.judge_vars, "show_reference": True,
                                "max_reasks": parsed.max_reasks}, suite_path)
    return ReferenceMatchTask(parsed, rubric)


def normalize_answer(text: str) -> str:
    """The normalised form `normalized` matching compares (JSON texts become canonical JSON).

    >>> normalize_answer('  "The Anagram is  SILENT." ')
    'the anagram is silent'
    >>> normalize_answer('[TOOL_CALLS] [{"arguments": {"word": "race"}, "name": "anagram"}]')
    '[{"arguments":{"word":"race"},"name":"anagram"}]'
    """
    stripped = _MARKER.sub("", text).strip()
    if stripped[:1] in "[{":
        try:
            return json.dumps(json.loads(stripped), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        except json.JSONDecodeError:
            pass
    t = unicodedata.normalize("NFKC", stripped).casefold()
    t = " ".join(t.split()).strip("\"'“”‘’`")
    return t.rstrip(".!?;:,").strip()


class ReferenceMatchTask(Task):
    """Exact and normalised match with the reference; optionally a reference-guided judge score."""

    name = "reference_match"

    def __init__(self, args: ReferenceMatchArgs, rubric: Any | None = None) -> None:
        self.args = args
        self.rubric = rubric
        self.needs_judge = rubric is not None
        self.judge_need = rubric.judge_need if rubric is not None else None
        self.primary = "normalized_match" if "normalized" in args.match else "exact_match"
        # ModelScore.value is the primary match (1 or 0): its rate is the mean of that per-item value.
        self.item_metrics = (ItemMetric(self.primary, 0.0, 1.0),)

    def prompt_vars(self, sample: Sample) -> Mapping[str, Any]:
        """No variables of its own (chat-format data is sent by the `messages` prompt style)."""
        return {}

    async def score(self, sample: Sample, generations: Mapping[str, Generation],
                    ctx: ScoringContext) -> SampleResult:
        """Match every answer with the reference; the judge (if any) grades it with the reference shown."""
        reference = sample.target or ""
        judged = await self.rubric.score(sample, generations, ctx) if self.rubric is not None else None
        scores: dict[str, ModelScore] = {}
        for model, gen in generations.items():
            judge_part = {}
            if judged is not None and model in judged.scores:
                js = judged.scores[model]
                judge_part = {"judge": {"value": js.value, "details": js.details}}
            if not gen.ok:
                scores[model] = ModelScore(details={"failed": True, "error": gen.error or "no output", **judge_part})
                continue
            out = gen.output or ""
            exact = out.strip() == reference.strip()
            normalized = normalize_answer(out) == normalize_answer(reference)
            hit = normalized if self.primary == "normalized_match" else exact
            scores[model] = ModelScore(value=float(hit), correct=hit,
                                       details={"exact_match": exact, "normalized_match": normalized, **judge_part})
        return SampleResult(sample_id=sample.id, scores=scores, judgments=judged.judgments if judged else ())

    def summarize(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Match rates with CIs, paired deltas (McNemar), plus the judge's summary when there is a judge."""
        names = [f"{m}_match" for m in ("exact", "normalized") if m in self.args.match]
        # One pass: per model, whether each item was scored and its match flags (int8 columns).
        scored = {m: array("b") for m in ctx.models}
        flags = {m: {n: array("b") for n in names} for m in ctx.models}
        failed = dict.fromkeys(ctx.models, 0)
        for _, r in scored_items(samples, results, ctx):
            for m in ctx.models:
                s = r.scores.get(m)
                ok = s is not None and s.value is not None
                scored[m].append(ok)
                failed[m] += s is not None and s.value is None
                for n in names:
                    flags[m][n].append(bool(s.details[n]) if ok else 0)  # type: ignore[union-attr]
        has = {m: _bools(scored[m]) for m in ctx.models}
        cols = {m: {n: _bools(flags[m][n]).astype(float) for n in names} for m in ctx.models}
        metrics: dict[str, list[MetricValue]] = {}
        notes: list[str] = []
        for model in ctx.models:
            if failed[model]:
                notes.append(f"{model}: {failed[model]} failed call(s) not scored")
            n_scored = int(has[model].sum())
            if not n_scored:
                metrics[model] = [MetricValue(name=n, value=None) for n in names]
                continue
            own = [cols[model][n][has[model]] for n in names]
            boot = paired_bootstrap_many(lambda *c: {n: x.mean(axis=-1) for n, x in zip(names, c)}, *own,
                                         n_resamples=ctx.n_bootstrap, confidence=ctx.confidence, seed=ctx.seed,
                                         vectorized=True)
            metrics[model] = [MetricValue(name=n, value=boot[n].estimate, ci_low=boot[n].ci_low,
                                          ci_high=boot[n].ci_high, n=n_scored) for n in names]
        comparisons = [c for m in ctx.models if m != ctx.reference
                       for c in self._compare(m, names, has, cols, ctx)]
        tables: tuple = ()
        if self.rubric is not None:
            judged = self.rubric.summarize(samples, MappedRecords(results, self._judge_result), ctx)
            for m in ctx.models:
                metrics[m] += list(judged.metrics.get(m, ()))
            comparisons += list(judged.comparisons)
            tables = judged.tables
            notes += list(judged.notes)
        notes.append("normalized match ignores case, whitespace runs, surrounding quotes and final punctuation, and "
                     "compares JSON (e.g. tool calls) as parsed JSON")
        return TaskSummary(task=self.name, metrics={m: tuple(v) for m, v in metrics.items()},
                           comparisons=tuple(comparisons), tables=tables, notes=tuple(notes))

    @staticmethod
    def _judge_result(r: SampleResult) -> SampleResult:
        scores = {}
        for m, s in r.scores.items():
            j = s.details.get("judge")
            scores[m] = (ModelScore(value=j["value"], details=j["details"]) if j is not None
                         else ModelScore(details={"failed": True}))
        return SampleResult(sample_id=r.sample_id, scores=scores, judgments=r.judgments)

    def _compare(self, model: str, names: Sequence[str], has: dict[str, np.ndarray],
                 cols: dict[str, dict[str, np.ndarray]], ctx: SummaryContext) -> list[Comparison]:
        both = has[model] & has[ctx.reference]
        n = int(both.sum())
        base = {"model": model, "reference": ctx.reference, "n": n}
        if n == 0:
            return [Comparison(metric=m, delta=None, note="no item both models answered", **base) for m in names]
        own = [cols[model][m][both] for m in names]
        ref = [cols[ctx.reference][m][both] for m in names]
        if not has_enough_items(n):
            return [Comparison(metric=m, delta=float((o - r).mean()), note=TOO_FEW_ITEMS, **base)
                    for m, o, r in zip(names, own, ref)]
        boot = paired_bootstrap_many(lambda *c: {m: (c[i] - c[i + len(names)]).mean(axis=-1)
                                                 for i, m in enumerate(names)}, *own, *ref,
                                     n_resamples=ctx.n_bootstrap, confidence=ctx.confidence, seed=ctx.seed,
                                     null_value=0.0, vectorized=True)
        out = []
        for m, o, r in zip(names, own, ref):
            mc = mcnemar_exact(o.astype(bool), r.astype(bool))
            out.append(Comparison(metric=m, delta=boot[m].estimate, ci_low=boot[m].ci_low, ci_high=boot[m].ci_high,
                                  p_value=mc.p_value, test="mcnemar-exact",
                                  note=f"discordant items: {mc.b} only {model} matched, {mc.c} only {ctx.reference}",
                                  **base))
        return out


def _bools(a: array) -> np.ndarray:
    return np.frombuffer(a, dtype=np.int8).astype(bool) if len(a) else np.zeros(0, dtype=bool)
