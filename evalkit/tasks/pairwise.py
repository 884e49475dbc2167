"""The `pairwise_judge` task: an LLM judge compares each model's answer with the reference model's answer,
in both orders, and the scores are mapped back to the models.

Suite arguments (`task_args`, see evalkit.judging.JudgeTaskArgs): `judge` (a pairwise judge id or file, e.g.
`legal_quality` or `preference`), optional `judge_vars`, `question_field`, `context_field`, `show_reference`,
`max_reasks`; and `ragas` (evalkit.metrics.ragas_metrics.RagasSettings, opt-in: e.g. `ragas: {metrics:
[faithfulness, answer_relevancy]}` adds RAGAS scores of every model's answer, with the judge as RAGAS' LLM and
`context_field` as the context).

Policies (docs/judging.md): an item counts only when both orders gave a valid verdict; a model's score on an
item is its mean over the two orders; a verdict that changes with the order counts as a tie in win/tie/loss.
Items left out (judge answer still invalid after the re-asks, a failed judge call, a model without an answer)
are counted per model and shown in the notes; they never enter a mean.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import ConfigError
from evalkit.judging._answer import slot_scores
from evalkit.judging._calls import judge_calls_table
from evalkit.judging._client import JudgeOutcome, ask_judge
from evalkit.judging._pairs import LengthBias, PairJudgment, PairStats, length_bias, pair_stats
from evalkit.judging._summary import check_results, mean_metric, paired_score_comparison, rate_metric
from evalkit.judging._taskargs import JudgeTaskArgs, LoadedJudge, item_basics, load_task_judge, parse_task_args
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
from evalkit.stats import MIN_ITEMS_FOR_TEST, TOO_FEW_ITEMS, has_enough_items, paired_bootstrap, sign_test
from evalkit.tasks.base import ScoringContext, SummaryContext, Task

__all__ = ["PairwiseTask", "create"]

PAIRS_KEY = "pairs"
"""ModelScore.details key: opponent name -> PairJudgment (as JSON), seen from this model's side."""


class PairwiseTaskArgs(JudgeTaskArgs):
    """The judge task arguments plus the opt-in RAGAS metrics."""

    ragas: RagasSettings = RagasSettings()
    """RAGAS metrics of every model's answer (none by default); see evalkit.metrics.ragas_metrics."""


def create(args: Mapping[str, Any], suite_path: Path) -> PairwiseTask:
    """Build the task from a suite's `task_args`; ConfigError naming the suite file and field if invalid."""
    parsed = parse_task_args(PairwiseTaskArgs, args, suite_path)
    return PairwiseTask(parsed, load_task_judge(parsed, suite_path, "pairwise"))


def _pair_from(score: ModelScore | None, opponent: str) -> PairJudgment | None:
    raw = (score.details.get(PAIRS_KEY) or {}).get(opponent) if score is not None else None
    return None if raw is None else PairJudgment.model_validate(raw)


class PairwiseTask(Task):
    """Judges (reference, model) pairs in both orders and summarises scores, verdicts and judge biases."""

    name = "pairwise_judge"
    needs_judge = True

    def __init__(self, args: JudgeTaskArgs, judge: LoadedJudge) -> None:
        self.args = args
        self.judge = judge
        self.metric = f"{judge.spec.id}_score"
        settings = getattr(args, "ragas", None)
        self.ragas = RagasScorer(settings) if settings is not None and settings.metrics else None

    def prompt_vars(self, sample: Sample) -> Mapping[str, Any]:
        """No variables: the compared models' prompts do not depend on the judge."""
        return {}

    # -----------------------------------------------------------------------------------------------------
    # Scoring

    async def score(self, sample: Sample, generations: Mapping[str, Generation],
                    ctx: ScoringContext) -> SampleResult:
        """Judge every model against the reference in both orders; every judge call is kept."""
        if ctx.judge is None:
            raise ConfigError(f"task '{self.name}' needs a judge model (set `judge:` in the suite or the project "
                              f"config, or pass --judge)")
        models = list(generations)
        # The runner may not say which model is the reference while scoring: then every pair is judged,
        # and summarize() picks the pairs with the reference.
        reference = getattr(ctx, "reference", None)
        pairs = ([(m, reference) for m in models if m != reference] if reference in generations
                 else list(combinations(models, 2)))
        judged = await asyncio.gather(*(self._judge_pair(sample, generations[x], generations[y], ctx)
                                        for x, y in pairs))
        by_model: dict[str, dict[str, PairJudgment]] = {m: {} for m in models}
        judgments: list[Judgment] = []
        for (x, y), (pair, calls) in zip(pairs, judged):
            by_model[x][y] = pair
            by_model[y][x] = pair.mirrored(x)
            judgments.extend(calls)
        scores = {m: self._model_score(generations[m], by_model[m]) for m in models}
        if self.ragas is not None:
            basics = item_basics(self.args, sample)
            ragas = await self.ragas.score(sample.id, basics["question"], basics["context"], generations, ctx.judge)
            scores = {m: s.model_copy(update={"details": {**s.details, RAGAS_KEY: ragas[m]}}) for m, s in scores.items()}
        return SampleResult(sample_id=sample.id, scores=scores, judgments=tuple(judgments))

    async def _judge_pair(self, sample: Sample, own: Generation, opp: Generation,
                          ctx: ScoringContext) -> tuple[PairJudgment, list[Judgment]]:
        lengths = {"own_length": len(own.output) if own.ok else None,
                   "opponent_length": len(opp.output) if opp.ok else None}
        if not (own.ok and opp.ok):
            return PairJudgment(opponent=opp.model, status="no_answer", **lengths), []
        basics = item_basics(self.args, sample)

        def ask(first: Generation, second: Generation) -> Any:
            item = {**basics, "answer_1": first.output, "answer_2": second.output}
            details = {"order": f"{first.model}|{second.model}", "slot_1": first.model, "slot_2": second.model}
            return ask_judge(ctx.judge, self.judge.spec, item, self.judge.variables, max_reasks=self.args.max_reasks,
                             seed=ctx.seed, sample_id=sample.id, details=details)

        own_first, opp_first = await asyncio.gather(ask(own, opp), ask(opp, own))
        status = _status(own_first, opp_first)
        spec = self.judge.spec
        a = slot_scores(spec, own_first.value) if own_first.ok else None
        b = slot_scores(spec, opp_first.value) if opp_first.ok else None
        pair = PairJudgment(opponent=opp.model, status=status, own_first=a,
                            opponent_first=None if b is None else (b[1], b[0]), **lengths)
        return pair, [*own_first.judgments, *opp_first.judgments]

    @staticmethod
    def _model_score(gen: Generation, pairs: Mapping[str, PairJudgment]) -> ModelScore:
        """Mean score over the model's complete pairs; the label (win/tie/loss) when it has one opponent."""
        done = [p for p in pairs.values() if p.complete]
        details: dict[str, Any] = {PAIRS_KEY: {o: p.model_dump(mode="json") for o, p in pairs.items()}}
        if not gen.ok:
            details.update(failed=True, error=gen.error or "no output")
        return ModelScore(value=float(np.mean([p.own_score for p in done])) if done else None,
                          label=done[0].outcome if len(pairs) == 1 and done else None, details=details)

    # -----------------------------------------------------------------------------------------------------
    # Summary

    def summarize(self, samples: Sequence[Sample], results: Sequence[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Per-model mean scores with CIs, paired deltas, verdict counts, flip rate, position and length bias."""
        check_results(samples, results, ctx)
        ref = ctx.reference
        challengers = [m for m in ctx.models if m != ref]
        pairs = {m: [p for r in results if (p := _pair_from(r.scores.get(m), ref)) is not None]
                 for m in challengers}
        metrics: dict[str, tuple[MetricValue, ...]] = {ref: self._reference_metrics(results, challengers, ctx)}
        comparisons: list[Comparison] = []
        verdict_rows, tables, notes = [], [], []
        for m in challengers:
            stats, bias = pair_stats(pairs[m]), length_bias(pairs[m])
            metrics[m] = self._challenger_metrics(pairs[m], stats, bias, ctx)
            comparisons += self._comparisons(m, pairs[m], stats, ctx)
            verdict_rows.append(_verdict_row(m, ref, stats))
            tables.append(_length_table(m, ref, bias))
            notes += _exclusion_notes(m, ref, stats, len(results) - len(pairs[m]), self.args.max_reasks)
            notes.append(_length_note(m, ref, bias))
        spec = self.judge.spec
        tables.insert(0, Table(title=f"Pairwise verdicts: judge {spec.label} (each pair judged in both orders)",
                               columns=("model", "reference", "items", "wins", "ties", "losses", "flips",
                                        "reversals", "flip rate", "position bias", "judge invalid",
                                        "judge failed", "no answer"), rows=tuple(verdict_rows)))
        tables.append(judge_calls_table((j for r in results for j in r.judgments),
                                        title=f"Judge calls: {spec.label}"))
        notes = [
            f"judge {spec.label} ({spec.kind}, template sha256 {spec.template_sha256}); every pair judged twice, "
            f"with each answer shown first once",
            "rule for inconsistent verdicts: an item counts only when both orders gave a valid verdict; a model's "
            "score on an item is its mean over the two orders; a verdict that changes with the order (a flip) "
            "counts as a tie in wins/ties/losses",
            "position_bias: share of decisive single-order verdicts won by the answer shown first (0.5 = none); "
            "flip_rate: share of items whose verdict changed with the order",
            *notes,
        ]
        if len(challengers) > 1:
            notes.append(f"{ref}'s {self.metric} is its mean over all its pairs; each delta is paired on the items "
                         f"of that one pair")
        if self.ragas is not None:
            extra = self.ragas.summarize(results, ctx.models, ref, seed=ctx.seed, n_bootstrap=ctx.n_bootstrap,
                                         confidence=ctx.confidence)
            metrics = {m: metrics.get(m, ()) + extra.metrics.get(m, ()) for m in ctx.models}
            comparisons += extra.comparisons
            tables.append(extra.table)
            notes += extra.notes
        if any(c.note == TOO_FEW_ITEMS for c in comparisons):
            notes.append(f"comparisons on fewer than {MIN_ITEMS_FOR_TEST} items ('{TOO_FEW_ITEMS}') report the "
                         f"delta only, with no interval or p-value")
        notes.append(f"intervals: {ctx.confidence:.0%} percentile bootstrap ({ctx.n_bootstrap} resamples, seed "
                     f"{ctx.seed}) for means and deltas, Wilson for rates")
        return TaskSummary(task=self.name, metrics=metrics, comparisons=tuple(comparisons), tables=tuple(tables),
                           notes=tuple(notes))

    def _reference_metrics(self, results: Sequence[SampleResult], challengers: Sequence[str],
                           ctx: SummaryContext) -> tuple[MetricValue, ...]:
        values = []
        for r in results:
            mine = [p for m in challengers if (p := _pair_from(r.scores.get(ctx.reference), m)) is not None]
            done = [p.own_score for p in mine if p.complete]
            if done:
                values.append(float(np.mean(done)))
        return (mean_metric(self.metric, values, ctx),
                MetricValue(name="n", value=float(len(values)), n=len(values), unit="items"))

    def _challenger_metrics(self, pairs: Sequence[PairJudgment], stats: PairStats, bias: LengthBias,
                            ctx: SummaryContext) -> tuple[MetricValue, ...]:
        done = [p for p in pairs if p.complete]
        net = (stats.wins - stats.losses) / stats.n if stats.n else None
        excluded = stats.judge_invalid + stats.judge_failed
        return (
            mean_metric(self.metric, [p.own_score for p in done], ctx),
            MetricValue(name="net_win_rate", value=net, n=stats.n),
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

    def _comparisons(self, model: str, pairs: Sequence[PairJudgment], stats: PairStats,
                     ctx: SummaryContext) -> list[Comparison]:
        done = [p for p in pairs if p.complete]
        empty = "no item judged validly in both orders"
        score = paired_score_comparison(self.metric, model, [p.own_score for p in done],
                                        [p.opponent_score for p in done], ctx, empty_note=empty)
        return [score, _net_win_comparison(model, done, stats, ctx, empty)]


def _status(a: JudgeOutcome, b: JudgeOutcome) -> Any:
    if a.ok and b.ok:
        return "complete"
    if "invalid" in (a.status, b.status):
        return "judge_invalid"
    return "judge_failed"


def _net_win_comparison(model: str, done: Sequence[PairJudgment], stats: PairStats, ctx: SummaryContext,
                        empty: str) -> Comparison:
    """(wins - losses) / items: bootstrap CI over item outcomes, exact sign-test p-value (ties left out)."""
    base = dict(metric="net_win_rate", model=model, reference=ctx.reference, n=stats.n)
    if stats.n == 0:
        return Comparison(**base, delta=None, note=empty)
    delta = (stats.wins - stats.losses) / stats.n
    if not has_enough_items(stats.n):
        return Comparison(**base, delta=delta, note=TOO_FEW_ITEMS)
    outcomes = np.array([{"win": 1.0, "tie": 0.0, "loss": -1.0}[p.outcome] for p in done])
    boot = paired_bootstrap(lambda x: x.mean(axis=-1), outcomes, n_resamples=ctx.n_bootstrap,
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
