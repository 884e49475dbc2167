"""Pairwise bookkeeping on hand-built pairs: outcomes, flips, position counts, length bias."""

from __future__ import annotations

import pytest

from evalkit.judging import PairJudgment, length_bias, pair_stats


def pair(own_first, opponent_first, status="complete", lengths=(100, 100)) -> PairJudgment:
    return PairJudgment(opponent="base", status=status, own_first=own_first, opponent_first=opponent_first,
                        own_length=lengths[0], opponent_length=lengths[1])


def test_consistent_win_and_scores_averaged_over_orders() -> None:
    p = pair((3, 1), (2, 1))
    assert p.own_score == 2.5 and p.opponent_score == 1.0 and p.delta == 1.5
    assert p.verdicts == (1, 1) and p.outcome == "win" and not p.flipped and not p.reversed
    # Own first it won (slot 1 won); opponent first it won too (slot 2 won).
    assert p.slot1_wins == 1 and p.decisive_orders == 2


def test_slot_one_always_wins_is_a_reversal_counted_as_tie() -> None:
    p = pair((3, 0), (0, 3))  # own first: own wins; opponent first: opponent wins
    assert p.flipped and p.reversed and p.outcome == "tie" and p.delta == 0.0
    assert p.slot1_wins == 2 and p.decisive_orders == 2


def test_partial_flip_win_then_tie_counts_as_tie() -> None:
    p = pair((2, 1), (1, 1))
    assert p.flipped and not p.reversed and p.outcome == "tie" and p.delta == 0.5
    assert p.decisive_orders == 1 and p.slot1_wins == 1


def test_mirrored_is_the_same_pair_from_the_other_side() -> None:
    p = pair((3, 1), (2, 1), lengths=(300, 100))
    m = p.mirrored("ft")
    assert m.opponent == "ft" and m.own_first == (1, 2) and m.opponent_first == (1, 3)
    assert m.own_score == p.opponent_score and m.outcome == "loss" and m.own_length == 100
    assert m.slot1_wins == p.slot1_wins


def test_incomplete_pairs_have_no_verdict_and_are_counted_apart() -> None:
    p = pair((3, 1), None, status="judge_invalid")
    assert not p.complete
    with pytest.raises(ValueError, match="judge_invalid"):
        _ = p.own_score
    s = pair_stats([pair((3, 1), (3, 1)), pair((3, 0), (0, 3)), pair((1, 1), (1, 1)), pair((0, 2), (0, 2)),
                    p, pair(None, None, status="judge_failed"), pair(None, None, status="no_answer")])
    assert (s.n, s.wins, s.ties, s.losses) == (4, 1, 2, 1)
    assert (s.flips, s.reversals) == (1, 1) and s.flip_rate == 0.25
    # Decisive single-order verdicts: 2 + 2 + 0 + 2 = 6, won by slot 1 in 1 + 2 + 0 + 1 = 4.
    assert (s.slot1_wins, s.decisive_orders) == (4, 6) and s.position_bias == pytest.approx(4 / 6)
    assert (s.judge_invalid, s.judge_failed, s.no_answer) == (1, 1, 1)
    assert pair_stats([]).flip_rate is None and pair_stats([]).position_bias is None


def test_length_bias_bins_correlation_and_longer_win_share() -> None:
    pairs = [
        pair((3, 0), (3, 0), lengths=(400, 100)),   # 4x longer, wins
        pair((2, 1), (2, 1), lengths=(150, 100)),   # 1.5x, wins
        pair((1, 1), (1, 1), lengths=(100, 100)),   # same length, tie
        pair((0, 2), (0, 2), lengths=(60, 100)),    # 0.6x, loses
        pair((0, 3), (0, 3), lengths=(20, 100)),    # 0.2x, loses
    ]
    bias = length_bias(pairs)
    assert [(b.label, b.n, b.wins, b.ties, b.losses) for b in bias.bins] == [
        ("under 0.5x", 1, 0, 0, 1), ("0.5x to 0.84x", 1, 0, 0, 1), ("0.84x to 1.19x", 1, 0, 1, 0),
        ("1.19x to 2x", 1, 1, 0, 0), ("over 2x", 1, 1, 0, 0)]
    assert bias.spearman_rho == pytest.approx(1.0)  # longer always scores better: perfectly monotone
    assert bias.longer_won == 4 and bias.decided_with_length_difference == 4 and bias.longer_win_share == 1.0
    assert bias.bins[0].mean_delta == -3.0
    flat = length_bias([pair((1, 1), (1, 1), lengths=(n, 100)) for n in (50, 100, 200)])
    assert flat.spearman_rho is None and flat.longer_win_share is None  # constant deltas: undefined, not NaN
