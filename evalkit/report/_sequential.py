"""The "Stopped when decided" part of a report: what a sequential run's stop rule saw and decided, as plain data
for the HTML, Markdown and results.json views (from evalkit.sequential.SequentialResult, sequential.json)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from evalkit.report._data import ReportData
from evalkit.report._format import fmt_value

__all__ = ["ComparisonView", "SequentialView", "sequential_view"]


@dataclass(frozen=True)
class ComparisonView:
    """One comparison's sequence and decision, formatted."""

    key: str
    model: str
    reference: str
    metric: str
    decision: str
    """above / below / equivalent / undecided."""
    decided_at: str
    """"look 3 (n = 150, 150 items drawn)", or "not decided"."""
    interval: str
    """The last look's estimate and interval."""
    bounds: str
    """Zero and the gate bounds it was decided against, with where the sequence lies for each."""


@dataclass(frozen=True)
class SequentialView:
    """The section: the method, the items drawn, the calls saved, and each comparison."""

    method: str
    stopped: str
    items_drawn: int
    items_total: int | None
    calls_per_item: float | None
    calls_saved: int | None
    comparisons: tuple[ComparisonView, ...]
    summary: str
    """One sentence: why and when the run stopped, and what it saved."""


def sequential_view(result: Any, data: ReportData) -> SequentialView | None:
    """The section of `result` (an evalkit.sequential.SequentialResult, or None: no section)."""
    if result is None:
        return None
    per_item = data.calls_per_item
    saved = None if result.items_total is None or per_item is None else \
        round((result.items_total - result.items_drawn) * per_item)
    views = []
    for c in result.comparisons:
        d, looks = c.decision, c.sequence.looks
        last = looks[-1] if looks else None
        interval = "no look yet" if last is None or last.estimate is None else \
            f"{_num(last.estimate)} [{_num(last.low)}, {_num(last.high)}] at n = {last.n}"
        decided_at = (f"look {d.look + 1} (n = {d.n}, {d.drawn} items drawn)" if d.decided and d.look is not None
                      else "not decided")
        bounds = "; ".join(f"{_num(b.bound)}: {b.side}" + (f" from n = {b.n}" if b.n is not None else "")
                           for b in d.bounds)
        views.append(ComparisonView(key=c.spec.key, model=c.spec.model, reference=c.spec.reference,
                                    metric=c.spec.metric, decision=d.kind, decided_at=decided_at,
                                    interval=interval, bounds=bounds))
    why = {"decided": "every comparison was decided", "exhausted": "the items ran out before every comparison "
           "was decided", "running": "the run has not finished"}.get(result.stopped, result.stopped)
    total = f" of {result.items_total}" if result.items_total is not None else ""
    summary = f"Stopped after {result.items_drawn}{total} items: {why}."
    if saved is not None and result.items_total is not None:
        summary += (f" {result.items_total - result.items_drawn} items were never drawn: about {saved} calls saved "
                    f"at this run's {fmt_value('number', per_item)} calls per item.")
    return SequentialView(method=result.method, stopped=result.stopped, items_drawn=result.items_drawn,
                          items_total=result.items_total, calls_per_item=per_item, calls_saved=saved,
                          comparisons=tuple(views), summary=summary)


def _num(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:+.3f}" if x else "0"
