"""What the judge calls of a run cost: calls, re-asks, invalid and failed answers, tokens, dollars, time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from evalkit.records import Judgment, Table

__all__ = ["JudgeCallStats", "judge_call_stats", "judge_calls_table"]


@dataclass(frozen=True)
class JudgeCallStats:
    """Counters over the judge calls of one judge model."""

    judge_model: str
    calls: int
    reasks: int
    """Calls that were re-asks after an invalid answer."""
    invalid_answers: int
    """Answers that failed validation (each one was re-asked or, at the end of the budget, given up)."""
    failed: int
    cached: int
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    """None when any call's cost is unknown: a partial sum would read as a (too low) real cost."""
    mean_latency_s: float | None


def judge_call_stats(judgments: Iterable[Judgment]) -> list[JudgeCallStats]:
    """One JudgeCallStats per judge model, in first-seen order."""
    by_model: dict[str, list[Judgment]] = {}
    for j in judgments:
        by_model.setdefault(j.judge_model, []).append(j)
    out = []
    for model, js in by_model.items():
        def total(values: list[int | float | None]) -> int | float | None:
            return None if any(v is None for v in values) else sum(v for v in values if v is not None)

        latencies = [j.latency_s for j in js if j.latency_s is not None]
        out.append(JudgeCallStats(
            judge_model=model, calls=len(js), reasks=sum(int(j.details.get("attempt", 0)) > 0 for j in js),
            invalid_answers=sum(j.details.get("status") == "invalid" for j in js),
            failed=sum(j.details.get("status") == "failed" for j in js),
            cached=sum(bool(j.details.get("cached")) for j in js),
            prompt_tokens=total([j.usage.prompt_tokens for j in js]),  # type: ignore[arg-type]
            completion_tokens=total([j.usage.completion_tokens for j in js]),  # type: ignore[arg-type]
            cost_usd=total([j.cost_usd for j in js]),
            mean_latency_s=float(np.mean(latencies)) if latencies else None,
        ))
    return out


def judge_calls_table(judgments: Iterable[Judgment], title: str = "Judge calls") -> Table:
    """The judge-call counters as a report table, one row per judge model."""
    rows = tuple((s.judge_model, s.calls, s.reasks, s.invalid_answers, s.failed, s.cached, s.prompt_tokens,
                  s.completion_tokens, s.cost_usd, s.mean_latency_s) for s in judge_call_stats(judgments))
    return Table(title=title, columns=("judge model", "calls", "re-asks", "invalid answers", "failed calls",
                                       "cached", "prompt tokens", "completion tokens", "cost (USD)",
                                       "mean latency (s)"), rows=rows)
