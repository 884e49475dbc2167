"""Decision rules: above, below, equivalent, gate bounds, undecided, first deciding look."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.sequential import KIND_ABOVE, KIND_BELOW, KIND_EQUIVALENT, KIND_UNDECIDED, Look, decide, first_decision


def looks(*intervals: tuple[float, float], per_look: int = 50) -> list[Look]:
    return [Look(drawn=(i + 1) * per_look, n=(i + 1) * per_look, estimate=(lo + hi) / 2, low=lo, high=hi)
            for i, (lo, hi) in enumerate(intervals)]


def test_above_zero_at_the_first_look_that_excludes_it():
    d = decide(looks((-0.3, 0.4), (-0.05, 0.3), (0.01, 0.25), (0.03, 0.2)))
    assert (d.kind, d.look, d.n, d.drawn) == ("above", 2, 150, 150)
    assert d.decided and d.bounds[0].bound == 0.0 and d.bounds[0].side == "above" and d.bounds[0].n == 150


def test_below_zero():
    d = decide(looks((-0.3, 0.4), (-0.2, -0.01)))
    assert (d.kind, d.look) == ("below", 1)


def test_undecided_while_the_interval_straddles_zero():
    d = decide(looks((-0.3, 0.4), (-0.1, 0.1)))
    assert d.kind == "undecided" and not d.decided and d.look is None and d.bounds[0].side == "undecided"


def test_a_gate_bound_must_be_settled_too():
    # Above zero from look 1, but the gate bound 0.05 is inside the interval until look 3.
    seq = looks((-0.2, 0.3), (0.01, 0.2), (0.03, 0.12), (0.06, 0.11))
    d = decide(seq, bounds=(0.05,))
    assert (d.kind, d.look) == ("above", 3)
    assert [(v.bound, v.side, v.n) for v in d.bounds] == [(0.0, "above", 100), (0.05, "above", 200)]
    failing = decide(looks((-0.2, 0.3), (0.01, 0.04)), bounds=(0.05,))
    assert failing.kind == "above" and failing.bounds[1].side == "below"   # the gate `>= 0.05` fails for sure


def test_equivalence_inside_the_margin():
    seq = looks((-0.3, 0.3), (-0.06, 0.05), (-0.03, 0.04))
    assert decide(seq, margin=0.05).kind == "equivalent" and decide(seq, margin=0.05).look == 2
    assert decide(seq).kind == "undecided"                               # no margin, no equivalence
    assert decide(seq, margin=0.03).kind == "undecided"                  # 0.04 > 0.03


def test_equivalence_wins_over_a_sign_when_both_hold():
    d = decide(looks((0.01, 0.04)), margin=0.05)
    assert d.kind == "equivalent" and d.bounds[0].side == "above"


def test_no_looks_is_undecided_with_every_bound_listed():
    d = decide((), bounds=(0.05, -0.02))
    assert d.kind == "undecided" and [v.bound for v in d.bounds] == [0.0, 0.05, -0.02]


def test_first_decision_is_vectorised_over_runs():
    low = np.array([[-0.1, 0.01, 0.02], [-0.1, -0.1, -0.1], [-0.2, -0.04, -0.03], [-0.3, -0.2, -0.15]])
    high = np.array([[0.2, 0.1, 0.08], [0.1, 0.1, 0.1], [0.1, 0.04, 0.03], [0.1, -0.01, -0.05]])
    look, kind = first_decision(low, high, margin=0.05)
    assert look.tolist() == [1, -1, 1, 1]
    assert kind.tolist() == [KIND_ABOVE, KIND_UNDECIDED, KIND_EQUIVALENT, KIND_BELOW]


def test_first_decision_rejects_mismatched_shapes_and_bad_margins():
    with pytest.raises(ValueError, match="one equal shape"):
        first_decision(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="margin must be positive"):
        first_decision(np.zeros(3), np.ones(3), margin=0.0)
