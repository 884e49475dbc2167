"""`evalkit run --until-decided`: the run's item schedule and stop rule, built from the task and the gates.

Every paired comparison the task supports (its `item_metrics`: per-item means with known bounds) of each
model against the reference becomes one confidence sequence; gate rules naming such a comparison add their
bounds; the run draws items in a seeded random order (`draw_order`) in batches and stops once every
comparison is decided (evalkit.sequential._decision), or when the items run out.

    schedule = until_decided_schedule(task, sample_ids, models, reference, seed=0, look_every=50)
    RunOptions(..., schedule=schedule)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from evalkit.errors import ConfigError
from evalkit.records import SampleResult
from evalkit.schedule import ItemSchedule, StopRule
from evalkit.sequential._monitor import SequentialMonitor
from evalkit.sequential._order import draw_order
from evalkit.sequential._records import ComparisonSpec, SequentialPlan, SequentialResult

if TYPE_CHECKING:
    from evalkit.gating import SourcedRule
    from evalkit.tasks import Task

__all__ = ["DEFAULT_LOOK_EVERY", "SequentialStop", "comparison_specs", "until_decided_schedule"]

DEFAULT_LOOK_EVERY = 50
"""Items per look: small enough to stop early, big enough that each look's wait for its slowest item is paid
rarely."""


class SequentialStop(StopRule):
    """The stop rule of a sequential run: a SequentialMonitor fed each stored batch's per-item differences."""

    def __init__(self, plan: SequentialPlan) -> None:
        self.plan = plan
        self.monitor = SequentialMonitor(plan)
        self._detail = {c.key: _detail_of(c) for c in plan.comparisons}

    def after_batch(self, results: Sequence[SampleResult]) -> bool:
        """Update every comparison's sequence with the batch; True once all are decided or items ran out."""
        batch = {r.sample_id: {c.key: _difference(r, c, self._detail[c.key]) for c in self.plan.comparisons}
                 for r in results}
        return self.monitor.update(batch) if batch else self.monitor.stop

    def result(self) -> SequentialResult:
        """Every comparison's sequence, decision, and the items drawn against the total."""
        return self.monitor.result()


_DETAIL_SEP = "#"


def _key(model: str, reference: str, metric: str, detail: str | None) -> str:
    return f"{model}-vs-{reference}/{metric}" + (f"{_DETAIL_SEP}{detail}" if detail else "")


def _detail_of(spec: ComparisonSpec) -> str | None:
    """The ModelScore.details key holding the per-item value (None: ModelScore.value), kept in the spec's key."""
    _, _, detail = spec.key.partition(_DETAIL_SEP)
    return detail or None


def _value(result: SampleResult, model: str, detail: str | None) -> float | None:
    score = result.scores.get(model)
    if score is None:
        return None
    raw = score.value if detail is None else score.details.get(detail)
    return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None


def _difference(result: SampleResult, spec: ComparisonSpec, detail: str | None) -> float | None:
    a, b = _value(result, spec.model, detail), _value(result, spec.reference, detail)
    return None if a is None or b is None else a - b


def comparison_specs(task: Task, models: Sequence[str], reference: str,
                     rules: Sequence[SourcedRule] = (), margin: float | None = None) -> tuple[ComparisonSpec, ...]:
    """One ComparisonSpec per (model other than the reference, per-item metric of the task), with the bounds of
    every gate rule `model.metric - reference.metric <op> bound` (either way round)."""
    specs = []
    for item in task.item_metrics:
        for model in models:
            if model == reference:
                continue
            bounds = []
            for sr in rules:
                rule = sr.rule
                if rule.right is None or rule.left.metric != item.name or rule.left.baseline or rule.right.baseline:
                    continue
                if (rule.left.model, rule.right.model) == (model, reference):
                    bounds.append(rule.bound)
                elif (rule.left.model, rule.right.model) == (reference, model):
                    bounds.append(-rule.bound)
            specs.append(ComparisonSpec(key=_key(model, reference, item.name, item.detail), model=model,
                                        reference=reference, metric=item.name, value_low=item.low,
                                        value_high=item.high, bounds=tuple(sorted(set(b for b in bounds if b))),
                                        margin=margin))
    return tuple(specs)


def until_decided_schedule(task: Task, sample_ids: Sequence[str], models: Sequence[str], reference: str, *,
                           seed: int = 0, look_every: int = DEFAULT_LOOK_EVERY, margin: float | None = None,
                           alpha: float = 0.05, rules: Sequence[SourcedRule] = ()) -> ItemSchedule:
    """The schedule of a `--until-decided` run: `sample_ids` in seeded random order, looks every `look_every`
    items, stopping when every comparison is decided. ConfigError when nothing can decide it."""
    if len(models) < 2:
        raise ConfigError("--until-decided compares models: give at least two in --models")
    specs = comparison_specs(task, models, reference, rules, margin)
    if not specs:
        raise ConfigError(f"--until-decided: task '{task.name}' has no per-item metric with known bounds to decide "
                          f"on (Task.item_metrics is empty); run it without --until-decided")
    plan = SequentialPlan(comparisons=specs, batch_size=look_every, seed=seed, alpha=alpha, margin=margin,
                          items_total=len(sample_ids))
    return ItemSchedule(order=tuple(draw_order(list(sample_ids), seed)), batch_size=look_every,
                        stop=SequentialStop(plan))
