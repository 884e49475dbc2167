"""`shouting`: the share of answers written in capitals (`shout_rate`), with a paired comparison."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit import (Comparison, ConfigError, Generation, MetricValue, ModelScore, Sample, SampleResult,
                     ScoringContext, SummaryContext, Task, TaskSummary, check_results)


def _shouted(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


class ShoutingTask(Task):
    """Scores 1 for an answer in capitals, 0 otherwise."""

    name = "shouting"

    async def score(self, sample: Sample, generations: Mapping[str, Generation],
                    ctx: ScoringContext) -> SampleResult:
        """1.0 when the model shouted its answer."""
        return SampleResult(sample_id=sample.id, scores={
            m: ModelScore(value=float(_shouted(g.output or "")), correct=_shouted(g.output or ""))
            for m, g in generations.items()})

    def summarize(self, samples: Sequence[Sample], results: Sequence[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """`shout_rate` per model; the paired difference against the reference (no interval: a toy)."""
        check_results(samples, results, ctx)
        rate = {m: [r.scores[m].value for r in results if m in r.scores] for m in ctx.models}
        metrics = {m: (MetricValue(name="shout_rate", value=sum(v) / len(v) if v else None, n=len(v)),)
                   for m, v in rate.items()}
        comparisons = tuple(
            Comparison(metric="shout_rate", model=m, reference=ctx.reference, n=len(rate[m]),
                       delta=sum(rate[m]) / len(rate[m]) - sum(rate[ctx.reference]) / len(rate[ctx.reference]))
            for m in ctx.models if m != ctx.reference and rate[m] and rate[ctx.reference])
        return TaskSummary(task=self.name, metrics=metrics, comparisons=comparisons)


def create(args: Mapping[str, Any], suite_path: Path) -> ShoutingTask:
    """The task; it takes no arguments."""
    if args:
        raise ConfigError(f"{suite_path}: task_args: the shouting task takes none, got {sorted(args)}")
    return ShoutingTask()
