"""Pairwise bookkeeping: both orders of a pair mapped back to the two answers, and the statistics over many
pairs (win/tie/loss, flip rate, position bias, length bias). Pure functions, no I/O.

The rule for inconsistent verdicts (docs/judging.md): an item counts only when both orders gave a valid
verdict; each answer's score is its mean over the two orders; the item's verdict is the one both orders
agree on, and a verdict that changes with the order (a flip) counts as a tie.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from evalkit.records import Record

__all__ = ["LENGTH_BINS", "LengthBias", "LengthBin", "Outcome", "PairJudgment", "PairStats", "length_bias",
           "pair_stats"]

Outcome = Literal["win", "tie", "loss"]
PairStatus = Literal["complete", "judge_invalid", "judge_failed", "no_answer"]


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


class PairJudgment(Record):
    """One answer ("own") against an opponent's answer to the same item, judged in both orders."""

    opponent: str
    status: PairStatus
    """`complete` when both orders gave a valid verdict; otherwise why not (`no_answer`: a model failed)."""
    own_first: tuple[float, float] | None = None
    """(own score, opponent score) when the own answer was shown first; None when that order is invalid."""
    opponent_first: tuple[float, float] | None = None
    """(own score, opponent score) when the opponent's answer was shown first."""
    own_length: int | None = None
    """Characters of the own answer."""
    opponent_length: int | None = None
    criteria: dict[str, PairJudgment] = Field(default_factory=dict)
    """Per criterion of a judge that scores criteria separately, the same pair on that criterion alone (its
    points in both orders), so per-criterion wins, ties and losses follow the same rule as the totals."""

    def mirrored(self, own: str) -> PairJudgment:
        """The same pair seen from the opponent's side; `own` is this side's model name."""
        def flip(t: tuple[float, float] | None) -> tuple[float, float] | None:
            return None if t is None else (t[1], t[0])

        return PairJudgment(opponent=own, status=self.status, own_first=flip(self.opponent_first),
                            opponent_first=flip(self.own_first), own_length=self.opponent_length,
                            opponent_length=self.own_length,
                            criteria={c: p.mirrored(own) for c, p in self.criteria.items()})

    @property
    def complete(self) -> bool:
        """True when both orders gave a valid verdict (only then does the item count)."""
        return self.status == "complete" and self.own_first is not None and self.opponent_first is not None

    def _orders(self) -> tuple[tuple[float, float], tuple[float, float]]:
        if not self.complete:
            raise ValueError(f"pair against {self.opponent!r} is {self.status}: it has no verdict")
        return self.own_first, self.opponent_first  # type: ignore[return-value]

    @property
    def own_score(self) -> float:
        """The own answer's score, averaged over the two orders."""
        a, b = self._orders()
        return (a[0] + b[0]) / 2

    @property
    def opponent_score(self) -> float:
        """The opponent's score, averaged over the two orders."""
        a, b = self._orders()
        return (a[1] + b[1]) / 2

    @property
    def delta(self) -> float:
        """Own minus opponent score, averaged over the two orders."""
        return self.own_score - self.opponent_score

    @property
    def verdicts(self) -> tuple[int, int]:
        """Per order (own first, opponent first): +1 own better, 0 tie, -1 opponent better."""
        a, b = self._orders()
        return _sign(a[0] - a[1]), _sign(b[0] - b[1])

    @property
    def flipped(self) -> bool:
        """True when the verdict changed with the order."""
        v1, v2 = self.verdicts
        return v1 != v2

    @property
    def reversed(self) -> bool:
        """True when each order declared a different winner (the strongest kind of flip)."""
        v1, v2 = self.verdicts
        return v1 * v2 < 0

    @property
    def outcome(self) -> Outcome:
        """The item's verdict for the own answer; a flip counts as a tie."""
        v1, v2 = self.verdicts
        if v1 != v2 or v1 == 0:
            return "tie"
        return "win" if v1 > 0 else "loss"

    @property
    def slot1_wins(self) -> int:
        """Orders (of 2) in which the answer shown first won."""
        v1, v2 = self.verdicts
        return int(v1 > 0) + int(v2 < 0)

    @property
    def decisive_orders(self) -> int:
        """Orders (of 2) that declared a winner."""
        v1, v2 = self.verdicts
        return int(v1 != 0) + int(v2 != 0)


@dataclass(frozen=True)
class PairStats:
    """Counts over the pairs of one model against its reference."""

    n: int
    """Complete items (both orders valid): the ones every other count is about."""
    wins: int
    ties: int
    losses: int
    flips: int
    reversals: int
    slot1_wins: int
    decisive_orders: int
    judge_invalid: int
    """Items left out because an order stayed invalid after the re-asks."""
    judge_failed: int
    """Items left out because a judge call failed."""
    no_answer: int
    """Items left out because a compared model produced no answer."""

    @property
    def flip_rate(self) -> float | None:
        """Share of complete items whose verdict changed with the order; None without items."""
        return self.flips / self.n if self.n else None

    @property
    def position_bias(self) -> float | None:
        """Share of decisive single-order verdicts won by the answer shown first (0.5: no bias)."""
        return self.slot1_wins / self.decisive_orders if self.decisive_orders else None

    @property
    def win_rate(self) -> float | None:
        """Share of complete items won."""
        return self.wins / self.n if self.n else None


def pair_stats(pairs: Sequence[PairJudgment]) -> PairStats:
    """Win/tie/loss, flips, position counts and exclusions over `pairs`."""
    done = [p for p in pairs if p.complete]
    outcomes = [p.outcome for p in done]
    return PairStats(
        n=len(done), wins=outcomes.count("win"), ties=outcomes.count("tie"), losses=outcomes.count("loss"),
        flips=sum(p.flipped for p in done), reversals=sum(p.reversed for p in done),
        slot1_wins=sum(p.slot1_wins for p in done), decisive_orders=sum(p.decisive_orders for p in done),
        judge_invalid=sum(p.status == "judge_invalid" for p in pairs),
        judge_failed=sum(p.status == "judge_failed" for p in pairs),
        no_answer=sum(p.status == "no_answer" for p in pairs),
    )


# ---------------------------------------------------------------------------------------------------------
# Length bias

LENGTH_BINS: tuple[tuple[str, float, float], ...] = (
    ("under 0.5x", -math.inf, -1.0),
    ("0.5x to 0.84x", -1.0, -0.25),
    ("0.84x to 1.19x", -0.25, 0.25),
    ("1.19x to 2x", 0.25, 1.0),
    ("over 2x", 1.0, math.inf),
)
"""Bins of log2(own length / opponent length): [low, high), except the middle bin, closed on both sides."""


@dataclass(frozen=True)
class LengthBin:
    """Verdicts of the items whose length ratio falls in one bin."""

    label: str
    n: int
    wins: int
    ties: int
    losses: int
    mean_delta: float | None


@dataclass(frozen=True)
class LengthBias:
    """Does the judge favour longer answers? Verdicts by length ratio, and a rank correlation."""

    bins: tuple[LengthBin, ...]
    spearman_rho: float | None
    """Rank correlation of log length ratio and score delta; None when undefined (constant input, < 3 items)."""
    longer_won: int
    """Items with a winner and answers of different lengths where the longer answer won."""
    decided_with_length_difference: int

    @property
    def longer_win_share(self) -> float | None:
        """Share of decided items (answers of different lengths) won by the longer answer (0.5: no bias)."""
        d = self.decided_with_length_difference
        return self.longer_won / d if d else None


def _bin_index(x: float) -> int:
    similar = LENGTH_BINS[2]
    if similar[1] <= x <= similar[2]:  # the middle bin is closed on both sides: equal lengths sit in its centre
        return 2
    return next(i for i, (_, low, high) in enumerate(LENGTH_BINS) if low <= x < high)


def length_bias(pairs: Sequence[PairJudgment]) -> LengthBias:
    """Win/tie/loss by the own answer's length relative to the opponent's, over complete pairs."""
    from scipy.stats import spearmanr

    done = [p for p in pairs if p.complete and p.own_length is not None and p.opponent_length is not None]
    ratios = [math.log2((p.own_length + 1) / (p.opponent_length + 1)) for p in done]  # type: ignore[operator]
    deltas = [p.delta for p in done]
    grouped: list[list[PairJudgment]] = [[] for _ in LENGTH_BINS]
    for p, r in zip(done, ratios):
        grouped[_bin_index(r)].append(p)
    bins = []
    for (label, _, _), ps in zip(LENGTH_BINS, grouped):
        outs = [p.outcome for p in ps]
        bins.append(LengthBin(label=label, n=len(ps), wins=outs.count("win"), ties=outs.count("tie"),
                              losses=outs.count("loss"),
                              mean_delta=float(np.mean([p.delta for p in ps])) if ps else None))
    rho = None
    if len(done) >= 3 and len(set(ratios)) > 1 and len(set(deltas)) > 1:
        value = float(spearmanr(ratios, deltas).statistic)
        rho = value if math.isfinite(value) else None
    decided = [p for p in done if p.outcome != "tie" and p.own_length != p.opponent_length]
    longer_won = sum((p.outcome == "win") == (p.own_length > p.opponent_length) for p in decided)  # type: ignore[operator]
    return LengthBias(bins=tuple(bins), spearman_rho=rho, longer_won=longer_won,
                      decided_with_length_difference=len(decided))
