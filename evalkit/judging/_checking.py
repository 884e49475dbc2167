"""Check judges at work: every criterion's check on one answer, and the pairwise point rule. Pure, no model call.

The point rule is `legal_quality`'s, per criterion: when neither answer meets the criterion, 0 points each;
when one does, 1 point to it; when both do, 1 point to the one with the higher check score, and 1 point each
when their scores are equal. An answer's total is its points summed over the criteria. Checks look at one
answer at a time, so the order a pair is shown in cannot change anything: both orders of a pair are the same
verdict (no flips, no position bias), recorded in the same PairJudgment shape as an LLM judge's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalkit.checks import CheckResult
from evalkit.judging._pairs import PairJudgment
from evalkit.judging._spec import CheckJudgeSpec
from evalkit.records import Judgment, Sample

__all__ = ["CHECKS_MODEL", "CheckVerdict", "check_answer", "check_pair", "criterion_points"]

CHECKS_MODEL = "evalkit-checks"
"""The `judge_model` of every Judgment a check judge makes (no model is called)."""

_SCORE_DIGITS = 9
"""Check scores are compared after rounding: two F1s equal up to float noise are equal."""


@dataclass(frozen=True)
class CheckVerdict:
    """A check judge's verdict on one answer: each criterion's result, and the Judgment recording them."""

    results: Mapping[str, CheckResult]
    """Keyed by criterion name, in the judge file's order."""
    judgment: Judgment

    @property
    def points(self) -> int:
        """Criteria met: the answer's single-answer score (0 to the number of criteria)."""
        return sum(r.met for r in self.results.values())


def check_answer(spec: CheckJudgeSpec, answer: str, sample: Sample, *,
                 details: Mapping[str, Any] | None = None) -> CheckVerdict:
    """Run every criterion's check on `answer`; `details` are stored on the Judgment (e.g. which model)."""
    results = {c.name: check.run(answer, sample) for c, check in zip(spec.criteria, spec.checks)}
    judgment = Judgment(
        judge_id=spec.id, judge_version=spec.version, template_sha256=spec.definition_sha256,
        judge_model=CHECKS_MODEL,
        prompt=f"{spec.label} on one answer: " + ", ".join(f"{c.name} ({c.check})" for c in spec.criteria),
        raw_response=None, parsed={name: r.model_dump(mode="json") for name, r in results.items()},
        latency_s=None, cost_usd=0.0,
        details={**(details or {}), "kind": "checks", "attempt": 0, "status": "ok", "cached": False})
    return CheckVerdict(results=results, judgment=judgment)


def criterion_points(a: CheckResult, b: CheckResult) -> tuple[int, int]:
    """The points of two answers on one criterion, by the rule of the module docstring."""
    if not (a.met or b.met):
        return 0, 0
    if a.met != b.met:
        return (1, 0) if a.met else (0, 1)
    sa, sb = round(a.score, _SCORE_DIGITS), round(b.score, _SCORE_DIGITS)
    return (1, 1) if sa == sb else ((1, 0) if sa > sb else (0, 1))


def check_pair(own: Mapping[str, CheckResult], opponent: Mapping[str, CheckResult], *, opponent_name: str,
               own_length: int | None = None, opponent_length: int | None = None) -> PairJudgment:
    """The pair (own answer, opponent's answer) under the point rule, per criterion and in total."""
    if list(own) != list(opponent):
        raise ValueError(f"both answers need the same criteria. Got {list(own)} and {list(opponent)} instead.")
    criteria: dict[str, PairJudgment] = {}
    total = [0, 0]
    for name in own:
        a, b = criterion_points(own[name], opponent[name])
        total[0] += a
        total[1] += b
        criteria[name] = PairJudgment(opponent=opponent_name, status="complete", own_first=(a, b),
                                      opponent_first=(a, b))
    points = (float(total[0]), float(total[1]))
    return PairJudgment(opponent=opponent_name, status="complete", own_first=points, opponent_first=points,
                        own_length=own_length, opponent_length=opponent_length, criteria=criteria)
