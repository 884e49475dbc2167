"""The stateful side of a sequential run: feed it each batch's per-item values, ask it whether to stop.

    monitor = SequentialMonitor(plan)
    for ids in batches(draw_order(sample_ids, plan.seed), plan.batch_size):
        results = ...generate and score `ids`...
        if monitor.update_results(results):       # True: every comparison decided, or the items ran out
            break
    sequential = monitor.result()                  # a SequentialResult for results.json and the report

The monitor recomputes each comparison's whole sequence after every batch (O(items), vectorised), so its
state is just the values seen in draw order; `SequentialMonitor.replay` rebuilds it from stored results when a
run resumes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from evalkit.records import SampleResult
from evalkit.sequential._confseq import METHOD, paired_difference_cs
from evalkit.sequential._decision import decide
from evalkit.sequential._order import order_key
from evalkit.sequential._records import (
    ComparisonOutcome,
    ComparisonSpec,
    Decision,
    Look,
    SequenceState,
    SequentialPlan,
    SequentialResult,
)

__all__ = ["SequentialMonitor", "score_difference"]


def score_difference(result: SampleResult, spec: ComparisonSpec) -> float | None:
    """`model - reference` of one sample's per-item scores (ModelScore.value); None if either is missing."""
    a, b = result.scores.get(spec.model), result.scores.get(spec.reference)
    if a is None or b is None or a.value is None or b.value is None:
        return None
    return float(a.value) - float(b.value)


class SequentialMonitor:
    """Follows every comparison of a plan through a sequential run, one batch (one look) at a time."""

    def __init__(self, plan: SequentialPlan) -> None:
        self.plan = plan
        self._values: dict[str, list[float]] = {c.key: [] for c in plan.comparisons}
        self._skipped: dict[str, int] = {c.key: 0 for c in plan.comparisons}
        self._looks: dict[str, list[Look]] = {c.key: [] for c in plan.comparisons}
        self._decisions: dict[str, Decision] = {c.key: decide((), c.bounds, plan.margin_of(c))
                                                for c in plan.comparisons}
        self._seen: set[str] = set()

    @classmethod
    def replay(cls, plan: SequentialPlan, results: Iterable[SampleResult]) -> SequentialMonitor:
        """A monitor that has seen `results` (stored by an earlier, interrupted run), in draw order and batches
        of the plan's size, so a resumed run continues the same sequence."""
        monitor = cls(plan)
        ordered = sorted(results, key=lambda r: (order_key(plan.seed, r.sample_id), r.sample_id))
        for start in range(0, len(ordered), plan.batch_size):
            monitor.update_results(ordered[start:start + plan.batch_size])
        return monitor

    # --- feeding -------------------------------------------------------------------------------------

    def update_results(self, results: Sequence[SampleResult]) -> bool:
        """One batch of scored samples; each comparison's value is `score_difference`. Returns `stop`."""
        return self.update({r.sample_id: {c.key: score_difference(r, c) for c in self.plan.comparisons}
                            for r in results})

    def update(self, batch: Mapping[str, Mapping[str, float | None]]) -> bool:
        """One batch: `batch[sample_id][comparison key]` is that item's difference `model - reference` (None:
        no value, e.g. a failed call; the item is then left out of that comparison). Items are put in draw
        order whatever the mapping's order. Returns `stop`."""
        if not batch:
            raise ValueError("a batch must hold at least one item")
        again = sorted(set(batch) & self._seen)
        if again:
            raise ValueError(f"items already seen by this monitor: {again[:5]}")
        total = self.plan.items_total
        if total is not None and len(self._seen) + len(batch) > total:
            raise ValueError(f"more items drawn ({len(self._seen) + len(batch)}) than the plan's items_total "
                             f"({total})")
        ids = sorted(batch, key=lambda i: (order_key(self.plan.seed, i), i))
        for c in self.plan.comparisons:
            for i in ids:
                if c.key not in batch[i]:
                    raise ValueError(f"item {i!r} has no entry for comparison {c.key!r} (use None for no value)")
                value = batch[i][c.key]
                if value is None:
                    self._skipped[c.key] += 1
                    continue
                if not abs(value) <= c.span * (1 + 1e-9):
                    raise ValueError(f"item {i!r}, comparison {c.key!r}: difference {value!r} is outside "
                                     f"+-{c.span:g} (values in [{c.value_low:g}, {c.value_high:g}])")
                self._values[c.key].append(float(value))
        self._seen.update(ids)
        for c in self.plan.comparisons:
            self._looks[c.key].append(self._look(c))
            if not self._decisions[c.key].decided:
                self._decisions[c.key] = decide(self._looks[c.key], c.bounds, self.plan.margin_of(c))
        return self.stop

    def _look(self, spec: ComparisonSpec) -> Look:
        values = np.array(self._values[spec.key])
        previous = self._looks[spec.key][-1] if self._looks[spec.key] else None
        if values.size == 0:
            low, high, estimate = -spec.span, spec.span, None
        else:
            # Items without a value leave the suite's population too (docs/sequential.md: missing values).
            population = (self.plan.items_total - self._skipped[spec.key] if self.plan.target == "suite"
                          else None)
            lows, highs = paired_difference_cs(values, spec.span, self.plan.alpha, population)
            low, high, estimate = float(lows[-1]), float(highs[-1]), float(values.mean())
        if previous is not None:
            low, high = max(low, previous.low), min(high, previous.high)
        return Look(drawn=len(self._seen), n=int(values.size), estimate=estimate, low=low, high=high)

    # --- reading -------------------------------------------------------------------------------------

    @property
    def items_drawn(self) -> int:
        """Items fed so far."""
        return len(self._seen)

    @property
    def decisions(self) -> dict[str, Decision]:
        """Each comparison's decision so far, by key."""
        return dict(self._decisions)

    @property
    def exhausted(self) -> bool:
        """True when every item of the plan's items_total has been drawn."""
        return self.plan.items_total is not None and len(self._seen) >= self.plan.items_total

    @property
    def stop(self) -> bool:
        """True when the run needs no more items: every comparison decided, or the items ran out."""
        return self.exhausted or all(d.decided for d in self._decisions.values())

    def state(self, key: str) -> SequenceState:
        """One comparison's sequence so far."""
        return SequenceState(key=key, looks=tuple(self._looks[key]), skipped=self._skipped[key])

    def result(self) -> SequentialResult:
        """Everything so far, as a record (the runner stores it with the run's results)."""
        all_decided = all(d.decided for d in self._decisions.values())
        stopped = "decided" if all_decided else "exhausted" if self.exhausted else "running"
        mode = ("target: the task's distribution (items as i.i.d. draws)" if self.plan.target == "distribution"
                else f"target: this suite's {self.plan.items_total} items (sampling without replacement)")
        return SequentialResult(
            method=f"{METHOD}, {mode}", plan=self.plan,
            comparisons=tuple(ComparisonOutcome(spec=c, sequence=self.state(c.key), decision=self._decisions[c.key])
                              for c in self.plan.comparisons),
            items_drawn=len(self._seen), items_total=self.plan.items_total, stopped=stopped)
