"""The `pairwise_judge` task: each model's answer is compared with the reference model's answer by an LLM judge
(in both orders), by a check judge (deterministic checks, no model), or by both, and the points are mapped
back to the models.

Suite arguments (`task_args`, evalkit.tasks.judged.JudgeTaskArgs): `judge` (a pairwise LLM judge, e.g.
`legal_quality` or `preference`), `checks` (a check judge, e.g. `bsard_checks`), at least one of them;
optional `judge_vars`, `question_field`, `context_field`, `show_reference`, `max_reasks`; and `ragas`
(evalkit.metrics.ragas_metrics.RagasSettings, opt-in, needs the LLM judge's model).

Which judges run: the check judge always; the LLM judge when the runner gives a judge model (`judge_need` is
`optional` with a check judge, `required` without one). The notes say which ran and why.

Policies (docs/judging.md): an item counts only when both orders gave a valid verdict; a model's score on an
item is its mean over the two orders; a verdict that changes with the order counts as a tie in win/tie/loss.
Items left out (judge answer still invalid after the re-asks, a failed judge call, a model without an answer)
are counted per model and shown in the notes; they never enter a mean. A check judge's two orders are the same
verdict by construction (checks see one answer at a time).

Per-sample records: `ModelScore.details["pairs"]` holds the PairJudgment per opponent of the primary judge (the
LLM judge when it ran, else the check judge; `details["pairs_judge"]` says which), so human-agreement and gate
code read either the same way; `details["checks"]` holds the answer's check results per criterion, from which
the check judge's pairs against any model are recomputed.
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.checks import CheckResult
from evalkit.errors import ConfigError
from evalkit.judging import (
    AGREEMENT_WARN_BELOW,
    CHECKS_MODEL,
    KAPPA_WARN_BELOW,
    VERDICTS,
    CheckJudgeSpec,
    JudgeOutcome,
    LengthBias,
    PairJudgment,
    PairStats,
    ask_judge,
    check_answer,
    check_pair,
    criterion_points,
    criterion_scores,
    judge_agreement,
    slot_scores,
)
from evalkit.metrics.ragas_metrics import RAGAS_KEY, RagasScorer, RagasSettings
from evalkit.records import (
    Comparison,
    Generation,
    Judgment,
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
    has_enough_items,
    paired_bootstrap,
    sign_test,
)
from evalkit.tasks.base import ScoringContext, SummaryContext, Task, scored_items
from evalkit.tasks.judged import (
    CheckColumns,
    CheckRows,
    JudgeCallTally,
    JudgeTaskArgs,
    LoadedJudge,
    PairColumns,
    PairRows,
    TaskJudges,
    check_details,
    check_judge_fields,
    item_basics,
    item_mean,
    judged_item_metrics,
    judges_note,
    load_task_judges,
    mean_metric,
    paired_score_comparison,
    parse_task_args,
    rate_metric,
)

__all__ = ["CHECKS_KEY", "PAIRS_JUDGE_KEY", "PAIRS_KEY", "PairwiseTask", "create"]

PAIRS_KEY = "pairs"
"""ModelScore.details key: opponent name -> PairJudgment (as JSON) of the primary judge, from this model's side."""
PAIRS_JUDGE_KEY = "pairs_judge"
"""ModelScore.details key: which judge's pairs PAIRS_KEY holds, `llm` or `checks`."""
CHECKS_KEY = "checks"
"""ModelScore.details key: criterion -> {"met", "score"} of this model's answer under the check judge."""


class PairwiseTaskArgs(JudgeTaskArgs):
    """The judge task arguments plus the opt-in RAGAS metrics."""

    ragas: RagasSettings = RagasSettings()
    """RAGAS metrics of every model's answer (none by default); see evalkit.metrics.ragas_metrics."""


def create(args: Mapping[str, Any], suite_path: Path) -> PairwiseTask:
    """Build the task from a suite's `task_args`; ConfigError naming the suite file and field if invalid."""
    parsed = parse_task_args(PairwiseTaskArgs, args, suite_path)
    judges = load_task_judges(parsed, suite_path, "pairwise")
    if parsed.ragas.metrics and judges.llm is None:
        raise ConfigError(f"{suite_path}: task_args.ragas: RAGAS asks an LLM and needs an LLM judge under "
                          f"task_args.judge (received only the check judge {parsed.checks or parsed.judge!r})")
    return PairwiseTask(parsed, judges.llm, checks=judges.checks)


def _pair_from(score: ModelScore | None, opponent: str) -> PairJudgment | None:
    raw = (score.details.get(PAIRS_KEY) or {}).get(opponent) if score is not None else None
    return None if raw is None else PairJudgment.model_validate(raw)


def _llm_pair(score: ModelScore | None, opponent: str) -> PairJudgment | None:
    """The LLM judge's pair, when PAIRS_KEY holds the LLM judge's pairs."""
    if score is None or score.details.get(PAIRS_JUDGE_KEY) != "llm":
        return None
    return _pair_from(score, opponent)


def _raw_checks(score: ModelScore | None) -> Any:
    """The answer's stored check results (criterion -> {"met", "score"}), None when it was not checked."""
    return score.details.get(CHECKS_KEY) if score is not None else None


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


_OUTCOME_VALUES = np.array([{"win": 1.0, "tie": 0.0, "loss": -1.0}[v] for v in VERDICTS])
"""An item's value in the net win rate, indexed by its outcome code (PairColumns.outcomes)."""


class PairwiseTask(Task):
    """Judges (reference, model) pairs with an LLM judge and/or a check judge; summarises scores, verdicts,
    judge biases and, with both judges, how far the LLM judge agrees with the objective checks."""

    name = "pairwise_judge"

    def __init__(self, args: JudgeTaskArgs, judge: LoadedJudge | None, checks: CheckJudgeSpec | None = None) -> None:
        self.args = args
        self.judges = TaskJudges(llm=judge, checks=checks)
        if judge is None and checks is None:
            raise ValueError("a pairwise task needs an LLM judge, a check judge, or both")
        self.judge = judge
        self.checks = checks
        self.judge_need = self.judges.judge_need
        self.needs_judge = judge is not None
        self.item_metrics = judged_item_metrics(self.judges)
        self.metric = f"{judge.spec.id}_score" if judge is not None else None
        settings = args.ragas if isinstance(args, PairwiseTaskArgs) else None
        self.ragas = RagasScorer(settings) if settings is not None and settings.metrics else None

    def check_samples(self, samples: Sequence[Sample], where: str) -> None:
        """Every sample has the fields the check judge's checks read (DataError before any call)."""
        if self.checks is not None:
            check_judge_fields(self.checks, samples, where)

    # -----------------------------------------------------------------------------------------------------
    # Scoring

    async def score(self, sample: Sample, generations: Mapping[str, Generation],
                    ctx: ScoringContext) -> SampleResult:
        """Check every answer, judge every model against the reference; every judgment is kept."""
        if self.checks is None and ctx.judge is None:
            raise ConfigError(f"task '{self.name}' needs a judge model (set `judge:` in the suite or the project "
                              f"config, or pass --judge)")
        models = list(generations)
        # The runner may not say which model is the reference while scoring: then every pair is judged,
        # and summarize() picks the pairs with the reference.
        reference = ctx.reference
        pairs = ([(m, reference) for m in models if m != reference] if reference in generations
                 else list(combinations(models, 2)))
        judgments: list[Judgment] = []
        checked: dict[str, dict[str, CheckResult]] = {}
        if self.checks is not None:
            for m in models:
                if generations[m].ok:
                    verdict = check_answer(self.checks, generations[m].output or "", sample, details={"model": m})
                    checked[m] = dict(verdict.results)
                    judgments.append(verdict.judgment)
        llm_ran = self.judge is not None and ctx.judge is not None
        by_model: dict[str, dict[str, PairJudgment]] = {m: {} for m in models}
        if llm_ran:
            judged = await asyncio.gather(*(self._judge_pair(sample, generations[x], generations[y], ctx)
                                            for x, y in pairs))
            for (x, y), (pair, calls) in zip(pairs, judged):
                by_model[x][y] = pair
                by_model[y][x] = pair.mirrored(x)
                judgments.extend(calls)
        else:
            for x, y in pairs:
                pair = _checked_pair(generations[x], generations[y], checked)
                by_model[x][y] = pair
                by_model[y][x] = pair.mirrored(x)
        primary = "llm" if llm_ran else "checks"
        scores = {m: self._model_score(generations[m], by_model[m], primary, checked.get(m)) for m in models}
        if self.ragas is not None and ctx.judge is not None:
            basics = item_basics(self.args, sample)
            ragas = await self.ragas.score(sample.id, basics["question"], basics["context"], generations, ctx.judge)
            scores = {m: s.model_copy(update={"details": {**s.details, RAGAS_KEY: ragas[m]}}) for m, s in scores.items()}
        return SampleResult(sample_id=sample.id, scores=scores, judgments=tuple(judgments))

    async def _judge_pair(self, sample: Sample, own: Generation, opp: Generation,
                          ctx: ScoringContext) -> tuple[PairJudgment, list[Judgment]]:
        assert self.judge is not None
        lengths = {"own_length": len(own.output) if own.ok and own.output else None,
                   "opponent_length": len(opp.output) if opp.ok and opp.output else None}
        if not (own.ok and opp.ok):
            return PairJudgment(opponent=opp.model, status="no_answer", **lengths), []
        basics = item_basics(self.args, sample)
        judge = self.judge

        def ask(first: Generation, second: Generation) -> Any:
            item = {**basics, "answer_1": first.output, "answer_2": second.output}
            details = {"order": f"{first.model}|{second.model}", "slot_1": first.model, "slot_2": second.model}
            return ask_judge(ctx.judge, judge.spec, item, judge.variables, max_reasks=self.args.max_reasks,
                             seed=ctx.seed, sample_id=sample.id, details=details)

        own_first, opp_first = await asyncio.gather(ask(own, opp), ask(opp, own))
        status = _status(own_first, opp_first)
        spec = judge.spec
        a = slot_scores(spec, own_first.value) if own_first.ok and own_first.value else None
        b = slot_scores(spec, opp_first.value) if opp_first.ok and opp_first.value else None
        criteria: dict[str, PairJudgment] = {}
        if status == "complete" and spec.criteria:
            ca = criterion_scores(spec, own_first.value or {})
            cb = criterion_scores(spec, opp_first.value or {})
            criteria = {c: PairJudgment(opponent=opp.model, status="complete", own_first=ca[c],
                                        opponent_first=(cb[c][1], cb[c][0])) for c in spec.criteria}
        pair = PairJudgment(opponent=opp.model, status=status, own_first=a,
                            opponent_first=None if b is None else (b[1], b[0]), criteria=criteria, **lengths)
        return pair, [*own_first.judgments, *opp_first.judgments]

    @staticmethod
    def _model_score(gen: Generation, pairs: Mapping[str, PairJudgment], primary: str,
                     checked: Mapping[str, CheckResult] | None) -> ModelScore:
        """Mean primary score over the model's complete pairs; the label (win/tie/loss) with one opponent."""
        done = [p for p in pairs.values() if p.complete]
        details: dict[str, Any] = {PAIRS_KEY: {o: p.model_dump(mode="json") for o, p in pairs.items()},
                                   PAIRS_JUDGE_KEY: primary}
        if checked is not None:
            details[CHECKS_KEY] = {c: {"met": r.met, "score": r.score} for c, r in checked.items()}
            details.update(check_details(checked))
        if not gen.ok:
            details.update(failed=True, error=gen.error or "no output")
        return ModelScore(value=float(np.mean([p.own_score for p in done])) if done else None,
                          label=done[0].outcome if len(pairs) == 1 and done else None, details=details)

    # -----------------------------------------------------------------------------------------------------
    # Summary

    def summarize(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """LLM judge: mean scores with CIs, paired deltas, verdicts, flip rate, position and length bias, per
        criterion verdicts. Check judge: each criterion's mean check score with paired CIs, the point-rule
        verdicts. Both: their agreement per criterion, with a warning when it is low.

        One pass over the results (scored_items) into columns (see _columns); every statistic is computed on
        those."""
        cols = self._columns(samples, results, ctx)
        llm_ran = cols.llm_ran
        parts: list[_Part] = []
        if self.judge is not None and llm_ran:
            parts.append(self._llm_part(cols, ctx))
        if self.checks is not None:
            parts.append(self._checks_part(self.checks, cols, ctx))
        if self.judge is not None and llm_ran and self.checks is not None:
            parts.append(self._agreement_part(self.judge, self.checks, cols, ctx))
        metrics: dict[str, tuple[MetricValue, ...]] = {m: () for m in ctx.models}
        comparisons: list[Comparison] = []
        tables: list[Table] = []
        notes = [judges_note(self.judges, llm_ran)]
        for part in parts:
            for m, ms in part.metrics.items():
                metrics[m] = metrics.get(m, ()) + tuple(ms)
            comparisons += part.comparisons
            tables += part.tables
            notes += part.notes
        if self.ragas is not None and llm_ran:
            extra = self.ragas.summarize(cols.ragas, ctx.models, ctx.reference, seed=ctx.seed,
                                         n_bootstrap=ctx.n_bootstrap, confidence=ctx.confidence)
            metrics = {m: metrics.get(m, ()) + extra.metrics.get(m, ()) for m in ctx.models}
            comparisons += extra.comparisons
            tables.append(extra.table)
            notes += extra.notes
        if any(c.note == TOO_FEW_ITEMS for c in comparisons):
            notes.append(f"comparisons on fewer than {MIN_ITEMS_FOR_TEST} items ('{TOO_FEW_ITEMS}') report the "
                         f"delta only, with no interval or p-value")
        notes.append(f"intervals: {ctx.confidence:.0%} percentile bootstrap ({ctx.n_bootstrap} resamples, seed "
                     f"{ctx.seed}) for means, deltas and kappa, Wilson for rates")
        return TaskSummary(task=self.name, metrics=metrics, comparisons=tuple(comparisons), tables=tuple(tables),
                           notes=tuple(notes))

    def _columns(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                 ctx: SummaryContext) -> _Columns:
        """One pass over the items into the columns every part of the summary reads (a few dozen bytes per item
        and model, never the records)."""
        ref = ctx.reference
        challengers = [m for m in ctx.models if m != ref]
        llm_criteria = tuple(self.judge.spec.criteria) if self.judge is not None else ()
        check_names = [c.name for c in self.checks.criteria] if self.checks is not None else []
        llm = {m: PairRows(lengths=True) for m in challengers}
        llm_crit = {m: {c: PairRows(scores=False) for c in llm_criteria} for m in challengers}
        ref_scores = array("d")
        checks = {m: CheckRows(check_names) for m in ctx.models}
        check_pairs = {m: PairRows() for m in challengers}
        check_crit = {m: {c: PairRows(scores=False) for c in check_names} for m in challengers}
        ref_points, ref_first = array("d"), array("q")
        calls = JudgeCallTally()
        ragas: list[SampleResult] = []
        llm_ran = False
        n = 0
        for _, r in scored_items(samples, results, ctx):
            n += 1
            scores = r.scores
            if not llm_ran:
                llm_ran = any(s.details.get(PAIRS_JUDGE_KEY) == "llm" for s in scores.values())
            if self.judge is not None:
                calls.add_all(j for j in r.judgments if j.judge_model != CHECKS_MODEL)
                ref_score, mine = scores.get(ref), []
                for m in challengers:
                    pair = _llm_pair(scores.get(m), ref)
                    llm[m].add(pair)
                    done = pair is not None and pair.complete
                    for c, rows in llm_crit[m].items():
                        rows.add(pair.criteria.get(c) if done else None)  # type: ignore[union-attr]
                    back = _llm_pair(ref_score, m)
                    if back is not None and back.complete:
                        mine.append(back.own_score)
                if mine:
                    ref_scores.append(item_mean(mine))
            if self.checks is not None:
                parsed = {m: checks[m].add(_raw_checks(scores.get(m))) for m in ctx.models}
                opp, points_of_ref = parsed[ref], []
                for k, m in enumerate(challengers):
                    own = parsed[m]
                    if own is None or opp is None:
                        check_pairs[m].add_absent()
                        for rows in check_crit[m].values():
                            rows.add_absent()
                        continue
                    if list(own) != list(opp):
                        check_pair(own, opp, opponent_name=ref)  # raises its error naming both criteria lists
                    points = {c: criterion_points(own[c], opp[c]) for c in own}
                    a, b = float(sum(p[0] for p in points.values())), float(sum(p[1] for p in points.values()))
                    check_pairs[m].add_verdict(_sign(a - b), a, b)
                    for c, rows in check_crit[m].items():
                        pa, pb = points[c]
                        rows.add_verdict(_sign(pa - pb))
                    if not points_of_ref:
                        ref_first.append(k)
                    points_of_ref.append(b)
                if points_of_ref:
                    ref_points.append(item_mean(points_of_ref))
            if self.ragas is not None:
                ragas.append(SampleResult(sample_id=r.sample_id, scores={
                    m: ModelScore(details={RAGAS_KEY: s.details[RAGAS_KEY]}) for m, s in scores.items()
                    if RAGAS_KEY in s.details}))
        # The reference's points per item are listed challenger by challenger (the items shared with the first
        # challenger, then those shared only with the next, ...), the order their bootstrap resamples.
        order = np.argsort(np.frombuffer(ref_first, dtype=np.int64), kind="stable") if ref_first else []
        return _Columns(
            n=n, llm_ran=llm_ran, llm={m: rows.columns() for m, rows in llm.items()},
            llm_criteria={m: {c: rows.columns() for c, rows in per.items()} for m, per in llm_crit.items()},
            reference_scores=np.frombuffer(ref_scores, dtype=np.float64) if ref_scores else np.empty(0),
            checks={m: rows.columns() for m, rows in checks.items()},
            check_pairs={m: rows.columns() for m, rows in check_pairs.items()},
            check_criteria={m: {c: rows.columns() for c, rows in per.items()} for m, per in check_crit.items()},
            reference_points=(np.frombuffer(ref_points, dtype=np.float64)[order] if ref_points else np.empty(0)),
            calls=calls, ragas=ragas)

    # LLM judge ---------------------------------------------------------------------------------------------

    def _llm_part(self, cols: _Columns, ctx: SummaryContext) -> _Part:
        assert self.judge is not None and self.metric is not None
        spec = self.judge.spec
        ref = ctx.reference
        challengers = [m for m in ctx.models if m != ref]
        part = _Part(metrics={ref: [mean_metric(self.metric, cols.reference_scores, ctx),
                                    MetricValue(name="n", value=float(len(cols.reference_scores)),
                                                n=len(cols.reference_scores), unit="items")]})
        verdict_rows = []
        criterion_rows: list[tuple[Any, ...]] = []
        for m in challengers:
            pairs = cols.llm[m].take(cols.llm[m].present)
            stats, bias = pairs.stats(), pairs.length_bias()
            part.metrics[m] = list(self._challenger_metrics(pairs, stats, bias, ctx))
            part.comparisons += self._comparisons(m, pairs, stats, ctx)
            verdict_rows.append(_verdict_row(m, ref, stats))
            part.tables.append(_length_table(m, ref, bias))
            part.notes += _exclusion_notes(m, ref, stats, cols.n - len(pairs), self.args.max_reasks)
            part.notes.append(_length_note(m, ref, bias))
            for c in spec.criteria:
                cs = cols.llm_criteria[m][c].stats()
                part.metrics[m].append(MetricValue(name=f"{spec.id}_{c}_net_win_rate", value=_net(cs), n=cs.n))
                criterion_rows.append((spec.label, c, m, ref, cs.n, cs.wins, cs.ties, cs.losses, cs.flips,
                                       cs.flip_rate, cs.position_bias))
        part.tables.insert(0, Table(title=f"Pairwise verdicts: judge {spec.label} (each pair judged in both orders)",
                                    columns=("model", "reference", "items", "wins", "ties", "losses", "flips",
                                             "reversals", "flip rate", "position bias", "judge invalid",
                                             "judge failed", "no answer"), rows=tuple(verdict_rows)))
        if criterion_rows:
            part.tables.insert(1, Table(title=f"Per-criterion verdicts: judge {spec.label} (points per criterion, "
                                              f"both orders; a flip is a tie)",
                                        columns=("judge", "criterion", "model", "reference", "items", "wins", "ties",
                                                 "losses", "flips", "flip rate", "position bias"),
                                        rows=tuple(criterion_rows)))
        part.tables.append(cols.calls.table(title=f"Judge calls: {spec.label}"))
        part.notes[:0] = [
            (f"LLM judge {spec.label} ({spec.kind}, template sha256 {spec.template_sha256}); every pair judged "
            f"twice, with each answer shown first once"),
            ("rule for inconsistent verdicts: an item counts only when both orders gave a valid verdict; a model's "
            "score on an item is its mean over the two orders; a verdict that changes with the order (a flip) "
            "counts as a tie in wins/ties/losses"),
            ("position_bias: share of decisive single-order verdicts won by the answer shown first (0.5 = none); "
            "flip_rate: share of items whose verdict changed with the order"),
        ]
        if len(challengers) > 1:
            part.notes.append(f"{ref}'s {self.metric} is its mean over all its pairs; each delta is paired on the "
                              f"items of that one pair")
        return part

    def _challenger_metrics(self, pairs: PairColumns, stats: PairStats, bias: LengthBias,
                            ctx: SummaryContext) -> tuple[MetricValue, ...]:
        assert self.metric is not None
        excluded = stats.judge_invalid + stats.judge_failed
        return (
            mean_metric(self.metric, pairs.own_scores(), ctx),
            MetricValue(name="net_win_rate", value=_net(stats), n=stats.n),
            MetricValue(name="wins", value=float(stats.wins), n=stats.n, unit="items"),
            MetricValue(name="ties", value=float(stats.ties), n=stats.n, unit="items"),
            MetricValue(name="losses", value=float(stats.losses), n=stats.n, unit="items", higher_is_better=False),
            rate_metric("flip_rate", stats.flips, stats.n, ctx, higher_is_better=False),
            rate_metric("position_bias", stats.slot1_wins, stats.decisive_orders, ctx, higher_is_better=None),
            MetricValue(name="length_bias_rho", value=bias.spearman_rho, n=stats.n, unit="rho",
                        higher_is_better=None),
            MetricValue(name="judge_invalid", value=float(excluded), n=len(pairs), unit="items",
                        higher_is_better=False),
            MetricValue(name="n", value=float(stats.n), n=stats.n, unit="items", higher_is_better=None),
        )

    def _comparisons(self, model: str, pairs: PairColumns, stats: PairStats,
                     ctx: SummaryContext) -> list[Comparison]:
        assert self.metric is not None
        empty = "no item judged validly in both orders"
        score = paired_score_comparison(self.metric, model, pairs.own_scores(), pairs.opponent_scores(), ctx,
                                        empty_note=empty)
        return [score, _net_win_comparison("net_win_rate", model, pairs.outcomes(), stats, ctx, empty)]

    # Check judge -------------------------------------------------------------------------------------------

    def _checks_part(self, spec: CheckJudgeSpec, cols: _Columns, ctx: SummaryContext) -> _Part:
        ref = ctx.reference
        names = [c.name for c in spec.criteria]
        part = _Part(metrics={m: [] for m in ctx.models})
        score_rows = []
        for m in ctx.models:
            checked = cols.checks[m]
            for i, c in enumerate(spec.criteria):
                values = checked.criterion(i)
                part.metrics[m].append(mean_metric(c.name, values, ctx))
                met = int(checked.met[checked.present, i].sum())
                score_rows.append((c.name, c.check, m, len(values), float(np.mean(values)) if len(values) else None,
                                   met, met / len(values) if len(values) else None))
        verdict_rows, criterion_rows = [], []
        points_metric = f"{spec.id}_score"
        empty = "no item where both models have an answer to check"
        for m in (x for x in ctx.models if x != ref):
            shared = cols.check_pairs[m].present
            pairs = cols.check_pairs[m].take(shared)
            stats = pairs.stats()
            for i, c in enumerate(spec.criteria):
                own, opp = cols.checks[m].score[shared, i], cols.checks[ref].score[shared, i]
                part.comparisons.append(paired_score_comparison(c.name, m, own, opp, ctx, empty_note=empty))
                cs = cols.check_criteria[m][c.name].stats()
                criterion_rows.append((spec.label, c.name, m, ref, cs.n, cs.wins, cs.ties, cs.losses, _net(cs)))
            part.metrics[m] += [mean_metric(points_metric, pairs.own_scores(), ctx),
                                MetricValue(name=f"{spec.id}_net_win_rate", value=_net(stats), n=stats.n)]
            part.comparisons += [
                paired_score_comparison(points_metric, m, pairs.own_scores(), pairs.opponent_scores(), ctx,
                                        empty_note=empty),
                _net_win_comparison(f"{spec.id}_net_win_rate", m, pairs.outcomes(), stats, ctx, empty)]
            verdict_rows.append((m, ref, stats.n, stats.wins, stats.ties, stats.losses, cols.n - len(pairs)))
        part.metrics[ref].append(mean_metric(points_metric, cols.reference_points, ctx))
        part.tables += [
            Table(title=f"Checks: {spec.label} (each answer on its own; score 0-1, met = meets the criterion)",
                  columns=("criterion", "check", "model", "answers", "mean score", "met", "met rate"),
                  rows=tuple(score_rows)),
            Table(title=f"Pairwise verdicts: check judge {spec.label} (one point per criterion to the better "
                        f"answer, one each when equal, none when neither meets it)",
                  columns=("model", "reference", "items", "wins", "ties", "losses", "no answer"),
                  rows=tuple(verdict_rows)),
            Table(title=f"Per-criterion verdicts: check judge {spec.label}",
                  columns=("judge", "criterion", "model", "reference", "items", "wins", "ties", "losses",
                           "net win rate"), rows=tuple(criterion_rows)),
        ]
        part.notes.append(
            f"check judge {spec.label} (definition sha256 {spec.definition_sha256}): criteria "
            + "; ".join(f"{c.name} = {c.check}" + (f" ({c.description})" if c.description else "")
                        for c in spec.criteria)
            + f". Each criterion's metric is the mean check score (0-1) of a model's answers; "
              f"{points_metric} is the mean of the points (0-{len(names)}) of the pairwise rule; checks see one "
              f"answer at a time, so they have no flips and no position bias")
        return part

    # Agreement ---------------------------------------------------------------------------------------------

    def _agreement_part(self, llm: LoadedJudge, checks: CheckJudgeSpec, cols: _Columns,
                        ctx: SummaryContext) -> _Part:
        ref = ctx.reference
        matched = [(c.compares_with, c.name) for c in checks.criteria
                   if c.compares_with is not None and c.compares_with in llm.spec.criteria]
        rows = [*matched, ("(total)", "(total)")]
        part = _Part(metrics={m: [] for m in ctx.models})
        table_rows = []
        for m in (x for x in ctx.models if x != ref):
            # The items both judges gave a verdict on: the LLM judge's pair complete, both answers checked.
            items = cols.llm[m].complete & cols.check_pairs[m].present
            for llm_c, check_c in rows:
                if llm_c == "(total)":
                    a, b = cols.llm[m].take(items), cols.check_pairs[m].take(items)
                else:
                    on = items & cols.llm_criteria[m][llm_c].present
                    a, b = cols.llm_criteria[m][llm_c].take(on), cols.check_criteria[m][check_c].take(on)
                ag = judge_agreement(a.verdict_labels(), b.verdict_labels(), seed=ctx.seed,
                                     n_bootstrap=ctx.n_bootstrap, confidence=ctx.confidence)
                llm_stats = a.stats()
                suffix = "total" if llm_c == "(total)" else check_c
                ci = ag.agreement_ci or (None, None)
                kci = ag.kappa_ci or (None, None)
                part.metrics[m] += [
                    MetricValue(name=f"judge_agreement_{suffix}", value=ag.agreement, ci_low=ci[0], ci_high=ci[1],
                                n=ag.n),
                    MetricValue(name=f"judge_kappa_{suffix}", value=ag.kappa, ci_low=kci[0], ci_high=kci[1], n=ag.n,
                                unit="kappa")]
                table_rows.append((m, ref, llm_c, check_c, ag.n, ag.agreement, _ci_text(ag.agreement_ci, pct=True),
                                   ag.kappa, _ci_text(ag.kappa_ci), llm_stats.flip_rate, llm_stats.position_bias,
                                   "LOW" if ag.low else "ok"))
                if ag.low:
                    kappa = "undefined" if ag.kappa is None else f"{ag.kappa:.2f}"
                    part.notes.append(
                        f"WARNING: LLM judge {llm.spec.label} disagrees with check judge {checks.label} on "
                        f"{'the total verdict' if llm_c == '(total)' else f'{llm_c} vs {check_c}'} ({m} vs {ref}): "
                        f"agreement {ag.agreement:.0%} {_ci_text(ag.agreement_ci, pct=True)}, Cohen's kappa {kappa} "
                        f"on {ag.n} items, below the documented thresholds (agreement {AGREEMENT_WARN_BELOW:.0%}, "
                        f"kappa {KAPPA_WARN_BELOW:.2f}; docs/judging.md). Where a check measures the criterion, "
                        f"trust the check; read the LLM judge's verdicts on it with caution")
        part.tables.append(Table(
            title=f"Judge validity: LLM judge {llm.spec.label} vs check judge {checks.label} (item verdicts win/tie/"
                  f"loss per criterion; LLM flip rate and position bias on the same items)",
            columns=("model", "reference", "LLM criterion", "check criterion", "items", "agreement", "95% CI",
                     "Cohen's kappa", "kappa 95% CI", "LLM flip rate", "LLM position bias", "status"),
            rows=tuple(table_rows)))
        part.notes.append(f"judge validity: agreement is the share of items where both judges give the same "
                          f"verdict (win, tie or loss for the model against {ref}); a warning is shown below "
                          f"{AGREEMENT_WARN_BELOW:.0%} agreement or a kappa below {KAPPA_WARN_BELOW:.2f}")
        return part


@dataclass(frozen=True)
class _Columns:
    """What the summary reads from the results, in one pass (PairwiseTask._columns); rows are items, in order."""

    n: int
    llm_ran: bool
    llm: dict[str, PairColumns]
    """Challenger -> its LLM judge pair against the reference, per item (scores and lengths kept)."""
    llm_criteria: dict[str, dict[str, PairColumns]]
    """Challenger -> LLM judge criterion -> that criterion's pair, per item where the whole pair is complete."""
    reference_scores: np.ndarray
    """The reference's LLM judge score per item with a complete pair: its mean over its pairs."""
    checks: dict[str, CheckColumns]
    check_pairs: dict[str, PairColumns]
    """Challenger -> the check judge's pair (total points) against the reference, per item both were checked."""
    check_criteria: dict[str, dict[str, PairColumns]]
    reference_points: np.ndarray
    """The reference's check-judge points per item shared with any challenger (mean over them)."""
    calls: JudgeCallTally
    ragas: list[SampleResult]
    """Only the RAGAS scores of each item (when RAGAS runs; it is opt-in and needs a judge model per item)."""


class _Part:
    """Metrics, comparisons, tables and notes of one section of the summary (one judge, or the agreement)."""

    def __init__(self, metrics: dict[str, list[MetricValue]] | None = None) -> None:
        self.metrics: dict[str, list[MetricValue]] = metrics or {}
        self.comparisons: list[Comparison] = []
        self.tables: list[Table] = []
        self.notes: list[str] = []


def _checked_pair(own: Generation, opp: Generation, checked: Mapping[str, Mapping[str, CheckResult]]) -> PairJudgment:
    lengths = {"own_length": len(own.output) if own.ok and own.output else None,
               "opponent_length": len(opp.output) if opp.ok and opp.output else None}
    if own.model not in checked or opp.model not in checked:
        return PairJudgment(opponent=opp.model, status="no_answer", **lengths)
    return check_pair(checked[own.model], checked[opp.model], opponent_name=opp.model, **lengths)


def _net(stats: PairStats) -> float | None:
    return (stats.wins - stats.losses) / stats.n if stats.n else None


def _ci_text(ci: tuple[float, float] | None, *, pct: bool = False) -> str:
    if ci is None:
        return "—"
    return f"[{ci[0]:.0%}, {ci[1]:.0%}]" if pct else f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def _status(a: JudgeOutcome, b: JudgeOutcome) -> Any:
    if a.ok and b.ok:
        return "complete"
    if "invalid" in (a.status, b.status):
        return "judge_invalid"
    return "judge_failed"


def _net_win_comparison(metric: str, model: str, outcomes: np.ndarray, stats: PairStats,
                        ctx: SummaryContext, empty: str) -> Comparison:
    """(wins - losses) / items: bootstrap CI over the complete items' outcomes (PairColumns.outcomes), exact
    sign-test p-value (ties left out)."""
    base = {"metric": metric, "model": model, "reference": ctx.reference, "n": stats.n}
    if stats.n == 0:
        return Comparison(**base, delta=None, note=empty)
    delta = (stats.wins - stats.losses) / stats.n
    if not has_enough_items(stats.n):
        return Comparison(**base, delta=delta, note=TOO_FEW_ITEMS)
    boot = paired_bootstrap(lambda x: x.mean(axis=-1), _OUTCOME_VALUES[outcomes], n_resamples=ctx.n_bootstrap,
                            confidence=ctx.confidence, seed=ctx.seed, vectorized=True)
    return Comparison(**base, delta=delta, ci_low=boot.ci_low, ci_high=boot.ci_high,
                      p_value=sign_test(stats.wins, stats.losses), test="sign-test",
                      note=f"{stats.wins} wins, {stats.ties} ties, {stats.losses} losses; ties left out of the test")


def _verdict_row(model: str, ref: str, s: PairStats) -> tuple[Any, ...]:
    return (model, ref, s.n, s.wins, s.ties, s.losses, s.flips, s.reversals, s.flip_rate, s.position_bias,
            s.judge_invalid, s.judge_failed, s.no_answer)


def _length_table(model: str, ref: str, bias: LengthBias) -> Table:
    rows = tuple((b.label, b.n, b.wins, b.ties, b.losses, (b.wins / b.n) if b.n else None, b.mean_delta)
                 for b in bias.bins)
    return Table(title=f"Length bias: {model} vs {ref}, by the length of {model}'s answer relative to {ref}'s",
                 columns=("length ratio", "items", "wins", "ties", "losses", "win rate", "mean score delta"),
                 rows=rows)


def _length_note(model: str, ref: str, bias: LengthBias) -> str:
    rho = "undefined" if bias.spearman_rho is None else f"{bias.spearman_rho:+.3f}"
    share = bias.longer_win_share
    longer = ("no decided item with answers of different lengths" if share is None else
              f"the longer answer won {bias.longer_won} of {bias.decided_with_length_difference} decided items "
              f"({share:.0%}; 50% = no length bias)")
    return f"{model} vs {ref}: length_bias_rho (Spearman, log length ratio vs score delta) = {rho}; {longer}"


def _exclusion_notes(model: str, ref: str, s: PairStats, missing: int, max_reasks: int) -> list[str]:
    out = []
    if s.judge_invalid:
        out.append(f"{model} vs {ref}: {s.judge_invalid} item(s) left out because the judge's answer in at least "
                   f"one order was still invalid after {max_reasks} re-ask(s) (see the samples' judge calls)")
    if s.judge_failed:
        out.append(f"{model} vs {ref}: {s.judge_failed} item(s) left out because a judge call failed")
    if s.no_answer:
        out.append(f"{model} vs {ref}: {s.no_answer} item(s) left out because a model produced no answer")
    if missing:
        out.append(f"{model} vs {ref}: no judgment for {missing} item(s)")
    return out
