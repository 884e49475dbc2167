"""The `translation` task: each sample's input is a source text and its target a reference translation.

Suite arguments (`task_args`): `source_lang` and `target_lang` (`fr`, `de`: they choose the inflection rules of
the terminology check), optional `glossary` (a CSV file `source,target`, relative to the suite file), optional
`judge` (a pairwise judge id, e.g. `preference`) with `judge_vars`, `judge_show_reference` and `max_reasks`.

What it reports, per model:
- corpus BLEU, chrF and TER (sacrebleu defaults; evalkit.metrics.translation), each with a percentile
  bootstrap CI, and against the reference model the delta with a paired bootstrap CI and sacrebleu's paired
  bootstrap p-value;
- with a glossary, `glossary_hit_rate`: the share of (segment, glossary term) checks, over segments whose
  source contains the term, where the translation uses the required target term (evalkit.metrics.terminology
  explains the case-insensitive, inflection-tolerant matching), with a Wilson CI and, against the reference
  model, a paired bootstrap CI and McNemar's exact test; a per-term table; the references' own hit rate;
- with `judge`, the pairwise judge run by evalkit.tasks.pairwise (both orders) as a *proxy* for a human
  preference: its metrics are renamed `judge_proxy_*` and its tables and notes say so.

Policies: the hypothesis is the output with surrounding whitespace removed (the suite's stop sequences end a
translation). A failed call is not scored; corpus metrics of all models are computed on the segments where
every model produced an output, so they are comparable and paired. Per sample, ModelScore.value is the
sentence chrF, and `details` holds the hypothesis (what a human rater is shown), sentence BLEU and chrF and
the glossary checks.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import DataError
from evalkit.metrics.terminology import GlossaryEntry, check_terms, load_glossary
from evalkit.metrics.translation import MT_METRICS, paired_mt_bootstrap
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
    paired_bootstrap,
    wilson_interval,
)
from evalkit.tasks.base import ScoringContext, SummaryContext, Task, scored_items
from evalkit.user_errors import validation_error

__all__ = ["HYPOTHESIS_KEY", "JUDGE_PREFIX", "TranslationArgs", "TranslationTask", "create"]

HYPOTHESIS_KEY = "hypothesis"
"""ModelScore.details key of the text that was scored (and that a human rater is shown)."""
JUDGE_PREFIX = "judge_proxy_"
"""Prefix of the LLM judge's metrics: a proxy for a human verdict, never mistaken for one."""
GLOSSARY_METRIC = "glossary_hit_rate"


class TranslationArgs(BaseModel):
    """The `task_args` of a translation suite."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_lang: Literal["fr", "de"]
    """Language of the inputs (chooses how glossary source terms may inflect)."""
    target_lang: Literal["fr", "de"]
    """Language of the translations and references."""
    glossary: str | None = None
    """CSV glossary (`source,target`; `a|b` for alternatives), relative to the suite file."""
    judge: str | None = None
    """A pairwise judge (e.g. `preference`) run in both orders as a cheap proxy for a human preference."""
    judge_vars: dict[str, Any] = Field(default_factory=dict)
    """Variables of the judge file (e.g. `criterion`); the default criterion asks for the more accurate
    legal translation."""
    judge_show_reference: bool = False
    """Show the reference translation to the judge (a human rater in the case study saw none)."""
    max_reasks: int = Field(default=2, ge=0, le=5)
    """Re-asks after an invalid judge answer, before that judgment counts as invalid."""


DEFAULT_CRITERION = ("Which translation renders the source text more accurately and more completely, using the "
                     "correct legal terminology of the target language?")


def create(args: Mapping[str, Any], suite_path: Path) -> TranslationTask:
    """Build the task from a suite's `task_args`; ConfigError naming the suite file and field if invalid."""
    try:
        parsed = TranslationArgs.model_validate(dict(args))
    except ValidationError as e:
        raise validation_error(e, where=str(suite_path), prefix="task_args.", model=TranslationArgs) from None
    glossary: tuple[GlossaryEntry, ...] = ()
    if parsed.glossary is not None:
        path = Path(parsed.glossary)
        path = path if path.is_absolute() else suite_path.parent / path
        glossary = load_glossary(path)
    pairwise = None
    if parsed.judge is not None:
        # The judging engineer's pairwise task, reused as is: both orders, mapped-back scores, flip rate.
        from evalkit.tasks.judged import JudgeTaskArgs, load_task_judge
        from evalkit.tasks.pairwise import PairwiseTask

        judge_args = JudgeTaskArgs(judge=parsed.judge,
                                   judge_vars={"criterion": DEFAULT_CRITERION, **parsed.judge_vars},
                                   show_reference=parsed.judge_show_reference, max_reasks=parsed.max_reasks)
        pairwise = PairwiseTask(judge_args, load_task_judge(judge_args, suite_path, "pairwise"))
    return TranslationTask(parsed, glossary, pairwise)


class TranslationTask(Task):
    """Scores translations against references (sacrebleu), checks terminology, optionally asks a judge."""

    name = "translation"

    def __init__(self, args: TranslationArgs, glossary: Sequence[GlossaryEntry] = (),
                 pairwise: Any | None = None) -> None:
        self.args = args
        self.glossary = tuple(glossary)
        self.pairwise = pairwise
        # The runner gives a judge model only to tasks that ask for one.
        self.needs_judge = pairwise is not None
        self.judge_need = pairwise.judge_need if pairwise is not None else None

    def prompt_vars(self, sample: Sample) -> Mapping[str, Any]:
        """The language codes, for templates shared between language pairs."""
        return {"source_lang": self.args.source_lang, "target_lang": self.args.target_lang}

    def _reference(self, sample: Sample) -> str:
        if not sample.target or not sample.target.strip():
            raise DataError(f"sample {sample.id!r}: a translation sample needs a reference translation (target)")
        return sample.target.strip()

    def _checks(self, source: str, text: str) -> list[dict[str, Any]]:
        return [{"source_term": c.entry.source, "target_term": " | ".join(c.entry.targets), "hit": c.hit}
                for c in check_terms(source, text, self.glossary, source_lang=self.args.source_lang,
                                     target_lang=self.args.target_lang)]

    async def score(self, sample: Sample, generations: Mapping[str, Generation],
                    ctx: ScoringContext) -> SampleResult:
        """Sentence-level chrF/BLEU and glossary checks per model; the judge's pairs when one is configured."""
        from sacrebleu.metrics import BLEU, CHRF

        reference = self._reference(sample)
        bleu, chrf = BLEU(effective_order=True), CHRF()
        scores: dict[str, ModelScore] = {}
        for model, gen in generations.items():
            if not gen.ok:
                scores[model] = ModelScore(details={"failed": True, "error": gen.error or "no output"})
                continue
            hyp = (gen.output or "").strip()
            details: dict[str, Any] = {
                HYPOTHESIS_KEY: hyp,
                "sentence_bleu": float(bleu.sentence_score(hyp, [reference]).score),
                "sentence_chrf": float(chrf.sentence_score(hyp, [reference]).score),
            }
            if self.glossary:
                details["glossary"] = self._checks(sample.input, hyp)
            scores[model] = ModelScore(value=details["sentence_chrf"], details=details)
        judgments: tuple = ()
        if self.pairwise is not None:
            judged = await self.pairwise.score(sample, generations, ctx)
            judgments = judged.judgments
            for model, s in judged.scores.items():
                if model in scores:
                    scores[model] = scores[model].model_copy(
                        update={"details": {**scores[model].details, **s.details,
                                            f"{JUDGE_PREFIX}score": s.value, f"{JUDGE_PREFIX}outcome": s.label}})
        return SampleResult(sample_id=sample.id, scores=scores, judgments=judgments)

    # -----------------------------------------------------------------------------------------------------
    # Summary

    def summarize(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Corpus metrics with CIs, paired comparisons, glossary hit rates, and the judge proxy if any.

        One pass over the items keeps what corpus metrics need: the reference and every model's hypothesis
        of the segments all models translated (corpus BLEU, chrF and TER are not means of per-item values, so
        the texts stay in memory: a few hundred bytes per segment), and the glossary checks as booleans.
        """
        data = _Corpus(ctx.models, ctx.reference)
        n_results = 0
        for sample, r in scored_items(samples, results, ctx):
            n_results += 1
            data.add(self, sample, r)
        notes: list[str] = []
        n_common = len(data.refs)
        if n_common < n_results:
            notes.append(f"{n_results - n_common} of {n_results} segments left out of every model's "
                         f"metrics because at least one model produced no output there (failed calls: "
                         + ", ".join(f"{m} {n}" for m, n in data.failed.items()) + ")")
        metrics: dict[str, list[MetricValue]] = {m: [] for m in ctx.models}
        comparisons: list[Comparison] = []
        tables: list[Table] = []
        self._mt(data, ctx, metrics, comparisons, notes)
        if self.glossary:
            self._terminology(data, ctx, metrics, comparisons, tables, notes)
        for m in ctx.models:
            metrics[m].append(MetricValue(name="n", value=float(n_common), n=n_common, unit="items"))
        if self.pairwise is not None:
            self._judge_proxy(samples, results, ctx, metrics, comparisons, tables, notes)
        return TaskSummary(task=self.name, metrics={m: tuple(v) for m, v in metrics.items()},
                           comparisons=tuple(comparisons), tables=tuple(tables), notes=tuple(notes))

    def _mt(self, data: _Corpus, ctx: SummaryContext, metrics: dict[str, list[MetricValue]],
            comparisons: list[Comparison], notes: list[str]) -> None:
        hib = dict(MT_METRICS)
        if not data.refs:
            for m in ctx.models:
                metrics[m] += [MetricValue(name=k, value=None, higher_is_better=hib[k]) for k in hib]
            return
        scores, comps, sigs = paired_mt_bootstrap(data.hyps, data.refs, ctx.reference, n_resamples=ctx.n_bootstrap,
                                                  confidence=ctx.confidence, seed=ctx.seed)
        n = len(data.refs)
        for m in ctx.models:
            for k, s in scores[m].items():
                metrics[m].append(MetricValue(name=k, value=s.score, ci_low=s.ci_low, ci_high=s.ci_high, n=n,
                                              higher_is_better=hib[k], unit="points"))
        for m, per_metric in comps.items():
            for k, c in per_metric.items():
                base = dict(metric=k, model=m, reference=ctx.reference, delta=c.delta, n=n)
                if not has_enough_items(n):
                    comparisons.append(Comparison(**base, note=TOO_FEW_ITEMS))
                else:
                    comparisons.append(Comparison(**base, ci_low=c.ci_low, ci_high=c.ci_high, p_value=c.p_value,
                                                  test="sacrebleu-paired-bs",
                                                  note="CI: percentile over sacrebleu's paired resamples"))
        notes.append(f"bleu, chrf, ter: sacrebleu corpus scores (0-100; TER lower is better) on {n} segments; "
                     f"{ctx.confidence:.0%} percentile CIs and p-values from sacrebleu's paired bootstrap "
                     f"({ctx.n_bootstrap} resamples); signatures: "
                     + "; ".join(f"{k} {v}" for k, v in sigs.items()))

    def _terminology(self, data: _Corpus, ctx: SummaryContext, metrics: dict[str, list[MetricValue]],
                     comparisons: list[Comparison], tables: list[Table], notes: list[str]) -> None:
        # One check per (segment, glossary entry found in its source), in the same order for every model.
        hits = {m: np.frombuffer(data.hits[m], dtype=np.int8).astype(bool) if len(data.hits[m])
                else np.zeros(0, dtype=bool) for m in ctx.models}
        terms = data.terms
        n = len(terms)
        for m in ctx.models:
            k = int(hits[m].sum())
            low, high = wilson_interval(k, n, ctx.confidence) if n else (None, None)
            metrics[m].append(MetricValue(name=GLOSSARY_METRIC, value=k / n if n else None, ci_low=low,
                                          ci_high=high, n=n))
        for m in ctx.models:
            if m == ctx.reference:
                continue
            base = dict(metric=GLOSSARY_METRIC, model=m, reference=ctx.reference, n=n)
            if n == 0:
                comparisons.append(Comparison(**base, delta=None, note="no glossary term in the sources"))
                continue
            a, b = hits[m].astype(float), hits[ctx.reference].astype(float)
            delta = float(a.mean() - b.mean())
            if not has_enough_items(n):
                comparisons.append(Comparison(**base, delta=delta, note=TOO_FEW_ITEMS))
                continue
            boot = paired_bootstrap(lambda x, y: (x - y).mean(axis=-1), a, b, n_resamples=ctx.n_bootstrap,
                                    confidence=ctx.confidence, seed=ctx.seed, vectorized=True)
            mc = mcnemar_exact(hits[m], hits[ctx.reference])
            comparisons.append(Comparison(**base, delta=delta, ci_low=boot.ci_low, ci_high=boot.ci_high,
                                          p_value=mc.p_value, test="mcnemar-exact",
                                          note=f"term checks: {mc.b} only {m} right, {mc.c} only {ctx.reference} "
                                               f"right"))
        rows = []
        for entry in self.glossary:
            idx = [i for i, t in enumerate(terms) if t == entry.source]
            if idx:
                rows.append((entry.label, len(idx), *(int(hits[m][idx].sum()) for m in ctx.models)))
        tables.append(Table(title="Glossary terms: checks (segments whose source has the term) and hits per model",
                             columns=("term", "checks", *ctx.models), rows=tuple(rows)))
        ref_hits = data.reference_hits
        notes.append(f"{GLOSSARY_METRIC}: share of {n} (segment, glossary term) checks where the translation uses "
                     f"the required term; case-insensitive, accents/umlauts folded, inflectional endings allowed "
                     f"(evalkit.metrics.terminology); the reference translations score {ref_hits}/{n}"
                     + (f" ({ref_hits / n:.0%})" if n else ""))

    def _judge_proxy(self, samples: Iterable[Sample], results: Iterable[SampleResult], ctx: SummaryContext,
                     metrics: dict[str, list[MetricValue]], comparisons: list[Comparison], tables: list[Table],
                     notes: list[str]) -> None:
        summary = self.pairwise.summarize(samples, results, ctx)
        for m, values in summary.metrics.items():
            metrics.setdefault(m, []).extend(v.model_copy(update={"name": JUDGE_PREFIX + v.name})
                                             for v in values if v.name != "n")
        comparisons += [c.model_copy(update={"metric": JUDGE_PREFIX + c.metric}) for c in summary.comparisons]
        label = "LLM judge (a cheap proxy for the human verdict, not a human preference)"
        tables += [t.model_copy(update={"title": f"{label}: {t.title}"}) for t in summary.tables]
        notes.append(f"{JUDGE_PREFIX}*: {label}; metrics of evalkit's pairwise_judge task, renamed")
        notes += [f"{JUDGE_PREFIX}: {n}" for n in summary.notes]



class _Corpus:
    """What the summary keeps of the segments, from one pass: texts of the segments every model translated,
    glossary checks as booleans, failures per model."""

    def __init__(self, models: Sequence[str], reference: str) -> None:
        self.models = tuple(models)
        self.reference = reference
        self.refs: list[str] = []
        self.hyps: dict[str, list[str]] = {m: [] for m in self.models}
        self.hits: dict[str, array] = {m: array("b") for m in self.models}
        self.terms: list[str] = []
        self.reference_hits = 0
        self.failed = dict.fromkeys(self.models, 0)

    def add(self, task: TranslationTask, sample: Sample, r: SampleResult) -> None:
        for m in self.models:
            s = r.scores.get(m)
            if s is None or s.details.get("failed"):
                self.failed[m] += 1
        if not all(HYPOTHESIS_KEY in (r.scores.get(m) or ModelScore()).details for m in self.models):
            return
        reference = task._reference(sample)
        self.refs.append(reference)
        for m in self.models:
            details = r.scores[m].details
            self.hyps[m].append(details[HYPOTHESIS_KEY])
            if task.glossary:
                self.hits[m].extend(int(bool(c["hit"])) for c in details["glossary"])
        if task.glossary:
            self.terms.extend(c["source_term"] for c in r.scores[self.reference].details["glossary"])
            self.reference_hits += sum(c.hit for c in check_terms(
                sample.input, reference, task.glossary, source_lang=task.args.source_lang,
                target_lang=task.args.target_lang))
