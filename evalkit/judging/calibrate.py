"""`evalkit judge calibrate`: how well candidate judge models agree with human labels on answer pairs.

Each candidate judges every labelled pair in both orders with a pairwise judge file, under the same rule as
the `pairwise_judge` task (docs/judging.md): a verdict that changes with the order is a tie, a pair with an
invalid order has no verdict (counted, left out of the agreement). The report gives, per candidate, percent
agreement with and without ties and Cohen's kappa, plus the judge's flip rate and position bias, so a user can
pick the judge that best matches their experts (as the legal-copilot case study did).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit.judging._agreement import Agreement, Label, agreement
from evalkit.judging._answer import slot_scores
from evalkit.judging._calls import JudgeCallStats, judge_call_stats
from evalkit.judging._client import DEFAULT_MAX_REASKS, ask_judge
from evalkit.judging._labels import LabeledPair
from evalkit.judging._pairs import PairJudgment, PairStats, pair_stats
from evalkit.judging._spec import JudgeSpec
from evalkit.records import Judgment

__all__ = ["CalibrationResult", "CandidateResult", "calibrate", "calibration_document", "judgments_lines",
           "rank_candidates"]

_OUTCOME_LABEL: Mapping[str, Label] = {"win": "1", "loss": "2", "tie": "tie"}


@dataclass(frozen=True)
class CandidateResult:
    """One candidate judge model's verdicts on the labelled pairs and its agreement with the humans."""

    model: str
    model_id: str
    verdicts: tuple[Label | None, ...]
    """Per pair, in label-file order: the judge's consolidated label, None when it had no valid verdict."""
    agreement: Agreement
    stats: PairStats
    """Bookkeeping of the two orders, from answer 1's side (position bias, flips, invalid pairs)."""
    judgments: tuple[tuple[Judgment, ...], ...]
    """Per pair: every judge call made for it (both orders, re-asks included)."""
    calls: JudgeCallStats | None
    order_correct: int = 0
    """Single-order verdicts (two per pair) that equal the human label; an invalid order counts as wrong."""
    order_agreements: int = 0
    """Pairs whose verdict is the same in both orders (the same answer preferred, or a tie both times)."""

    @property
    def accuracy(self) -> float | None:
        """LLMBar's accuracy: share of single-order verdicts (both orders of every pair) equal to the human's."""
        n = len(self.verdicts)
        return self.order_correct / (2 * n) if n else None

    @property
    def positional_agreement(self) -> float | None:
        """LLMBar's positional agreement: share of pairs judged the same way in both orders (invalid: not)."""
        n = len(self.verdicts)
        return self.order_agreements / n if n else None


@dataclass(frozen=True)
class CalibrationResult:
    """A whole calibration: the judge file, the labels and every candidate's result."""

    judge: JudgeSpec
    labels_path: Path
    pairs: tuple[LabeledPair, ...]
    candidates: tuple[CandidateResult, ...]
    max_reasks: int


async def _judge_pair(judge: Any, spec: JudgeSpec, variables: Mapping[str, Any], pair: LabeledPair,
                      max_reasks: int, seed: int) -> tuple[PairJudgment, tuple[Judgment, ...]]:
    def ask(first: str, second: str, order: str) -> Any:
        item = {"question": pair.question, "answer_1": first, "answer_2": second}
        return ask_judge(judge, spec, item, variables, max_reasks=max_reasks, seed=seed, sample_id=pair.id,
                         details={"pair": pair.id, "order": order})

    a, b = await asyncio.gather(ask(pair.answer_1, pair.answer_2, "answer_1|answer_2"),
                                ask(pair.answer_2, pair.answer_1, "answer_2|answer_1"))
    status = ("complete" if a.ok and b.ok else
              "judge_invalid" if "invalid" in (a.status, b.status) else "judge_failed")
    s1 = slot_scores(spec, a.value) if a.ok else None
    s2 = slot_scores(spec, b.value) if b.ok else None
    judged = PairJudgment(opponent="answer_2", status=status, own_first=s1,
                          opponent_first=None if s2 is None else (s2[1], s2[0]),
                          own_length=len(pair.answer_1), opponent_length=len(pair.answer_2))
    return judged, (*a.judgments, *b.judgments)


async def _candidate(judge: Any, spec: JudgeSpec, variables: Mapping[str, Any], pairs: Sequence[LabeledPair],
                     max_reasks: int, seed: int, on_done: Any) -> CandidateResult:
    # At most the judge's own concurrency in flight (the wrapper bounds calls too; this bounds pending pairs).
    gate = asyncio.Semaphore(max(1, judge.spec.concurrency))

    async def one(pair: LabeledPair) -> tuple[PairJudgment, tuple[Judgment, ...]]:
        async with gate:
            out = await _judge_pair(judge, spec, variables, pair, max_reasks, seed)
        if on_done is not None:
            on_done(judge.name)
        return out

    judged = await asyncio.gather(*(one(p) for p in pairs))
    verdicts = tuple(_OUTCOME_LABEL[p.outcome] if p.complete else None for p, _ in judged)
    calls = judge_call_stats(j for _, js in judged for j in js)
    correct, agreements = _order_counts([p.human for p in pairs], [p for p, _ in judged])
    return CandidateResult(model=judge.name, model_id=judge.spec.model, verdicts=verdicts,
                           agreement=agreement([p.human for p in pairs], verdicts),
                           stats=pair_stats([p for p, _ in judged]), judgments=tuple(js for _, js in judged),
                           calls=calls[0] if calls else None, order_correct=correct, order_agreements=agreements)


def _order_counts(humans: Sequence[Label], judged: Sequence[PairJudgment]) -> tuple[int, int]:
    """(single-order verdicts equal to the human label, pairs judged alike in both orders), LLMBar's way.

    Each order is read from answer 1's side (+1: answer 1 better, 0: tie, -1: answer 2 better); an order
    without a valid answer is wrong and breaks the pair's positional agreement.
    """
    want = {"1": 1, "2": -1, "tie": 0}
    correct = agreements = 0
    for human, pair in zip(humans, judged, strict=True):
        sides = [None if t is None else (t[0] > t[1]) - (t[0] < t[1]) for t in (pair.own_first, pair.opponent_first)]
        correct += sum(v == want[human] for v in sides if v is not None)
        agreements += sides[0] is not None and sides[0] == sides[1]
    return correct, agreements


async def calibrate(spec: JudgeSpec, variables: Mapping[str, Any], pairs: Sequence[LabeledPair],
                    judges: Sequence[Any], *, labels_path: Path, max_reasks: int = DEFAULT_MAX_REASKS,
                    seed: int = 0, on_done: Any = None) -> CalibrationResult:
    """Run every candidate judge (evalkit.model.Model) on every pair in both orders; candidates run at once.

    `on_done(model_name)` is called after each pair (for progress bars).
    """
    if spec.kind != "pairwise":
        raise ValueError(f"calibration needs a pairwise judge; '{spec.id}' is {spec.kind}")
    results = await asyncio.gather(*(_candidate(j, spec, variables, pairs, max_reasks, seed, on_done)
                                     for j in judges))
    return CalibrationResult(judge=spec, labels_path=labels_path, pairs=tuple(pairs), candidates=tuple(results),
                             max_reasks=max_reasks)


def rank_candidates(result: CalibrationResult) -> list[CandidateResult]:
    """Candidates from best to worst: by kappa, then agreement with ties (an undefined kappa ranks last)."""
    def key(c: CandidateResult) -> tuple[float, float]:
        a = c.agreement
        return (a.kappa if a.kappa is not None else -2.0, a.with_ties if a.with_ties is not None else -1.0)

    return sorted(result.candidates, key=key, reverse=True)


def calibration_document(result: CalibrationResult) -> dict[str, Any]:
    """The calibration as plain JSON data (written next to the console table)."""
    humans = [p.human for p in result.pairs]
    ranked = rank_candidates(result)
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "judge": {"id": result.judge.id, "version": result.judge.version,
                  "template_sha256": result.judge.template_sha256, "path": str(result.judge.path)},
        "labels": {"path": str(result.labels_path), "n_pairs": len(result.pairs),
                   "human": {k: humans.count(k) for k in ("1", "2", "tie")}},
        "max_reasks": result.max_reasks,
        "definitions": {
            "accuracy": "LLMBar's accuracy: share of single-order verdicts (each pair judged in both orders) equal "
                        "to the human label; an order without a valid answer counts as wrong",
            "positional_agreement": "LLMBar's positional agreement: share of pairs whose verdict is the same in "
                                    "both orders",
            "agreement_with_ties": "share of pairs with a valid judge verdict where the judge's label (1, 2 or "
                                   "tie) equals the human's",
            "agreement_without_ties": "the same over pairs where neither the human nor the judge said tie",
            "kappa": "Cohen's kappa over the pairs of agreement_with_ties, labels 1, 2, tie",
            "judge verdict": "each pair judged in both orders; a verdict that changes with the order is a tie; "
                             "a pair with an invalid order has no verdict (n_invalid)",
        },
        "best": ranked[0].model if ranked and ranked[0].agreement.kappa is not None else None,
        "candidates": [_candidate_doc(c) for c in ranked],
    }


def _candidate_doc(c: CandidateResult) -> dict[str, Any]:
    a, s = c.agreement, c.stats
    calls = None if c.calls is None else {
        "calls": c.calls.calls, "reasks": c.calls.reasks, "invalid_answers": c.calls.invalid_answers,
        "failed": c.calls.failed, "cached": c.calls.cached, "prompt_tokens": c.calls.prompt_tokens,
        "completion_tokens": c.calls.completion_tokens, "cost_usd": c.calls.cost_usd,
        "mean_latency_s": c.calls.mean_latency_s}
    return {
        "model": c.model, "model_id": c.model_id, "n": a.n, "n_invalid": a.n_invalid,
        "accuracy": c.accuracy, "positional_agreement": c.positional_agreement,
        "agreement_with_ties": a.with_ties, "n_without_ties": a.n_without_ties,
        "agreement_without_ties": a.without_ties, "kappa": a.kappa,
        "flip_rate": s.flip_rate, "position_bias": s.position_bias,
        "judge_labels": {k: c.verdicts.count(k) for k in ("1", "2", "tie")}, "judge_calls": calls,
    }


def judgments_lines(result: CalibrationResult) -> list[str]:
    """One JSON line per candidate and pair: the human label, the judge's and every judge call."""
    lines = []
    for c in result.candidates:
        for pair, verdict, calls in zip(result.pairs, c.verdicts, c.judgments):
            lines.append(json.dumps({"candidate": c.model, "pair": pair.id, "human": pair.human, "judge": verdict,
                                     "judgments": [j.model_dump(mode="json") for j in calls]},
                                    ensure_ascii=False, allow_nan=False))
    return lines
