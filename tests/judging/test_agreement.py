"""Agreement with human labels and Cohen's kappa against hand-computed values."""

from __future__ import annotations

import pytest

from evalkit.judging import agreement


def test_three_labels_hand_computed() -> None:
    # human: 1 1 1 2 2 2 tie tie tie 1 ; judge: 1 1 2 2 2 tie tie 1 tie 1
    human = ["1", "1", "1", "2", "2", "2", "tie", "tie", "tie", "1"]
    judge = ["1", "1", "2", "2", "2", "tie", "tie", "1", "tie", "1"]
    a = agreement(human, judge)
    # Agreement: positions 0,1,3,4,6,8,9 -> 7 of 10.
    assert a.n == 10 and a.agree == 7 and a.with_ties == 0.7
    # Without ties (neither said tie): positions 0,1,2,3,4,9 -> agree on 0,1,3,4,9 = 5 of 6.
    assert a.n_without_ties == 6 and a.agree_without_ties == 5 and a.without_ties == pytest.approx(5 / 6)
    # Marginals: human 1:4, 2:3, tie:3; judge 1:4, 2:3, tie:3. pe = (16 + 9 + 9) / 100 = 0.34.
    # kappa = (0.7 - 0.34) / (1 - 0.34) = 0.36 / 0.66.
    assert a.kappa == pytest.approx(0.36 / 0.66)


def test_perfect_contrary_and_invalid() -> None:
    human = ["1", "2", "2", "1", "2"]
    assert agreement(human, human).kappa == pytest.approx(1.0)
    contrary = agreement(human, ["2", "1", "1", "2", "1"])
    # po = 0; human 1:2, 2:3; judge 1:3, 2:2 -> pe = (6 + 6) / 25 = 0.48; kappa = -0.48 / 0.52.
    assert contrary.with_ties == 0.0 and contrary.kappa == pytest.approx(-0.48 / 0.52)
    partial = agreement(human, ["1", None, "2", None, "tie"])
    assert partial.n == 3 and partial.n_invalid == 2 and partial.with_ties == pytest.approx(2 / 3)
    assert partial.n_without_ties == 2 and partial.without_ties == 1.0


def test_undefined_kappa_is_none_and_inputs_are_checked() -> None:
    a = agreement(["1", "1"], ["1", "1"])
    assert a.with_ties == 1.0 and a.kappa is None
    none = agreement(["1"], [None])
    assert none.n == 0 and none.with_ties is None and none.without_ties is None and none.kappa is None
    with pytest.raises(ValueError, match="same pairs. Got 2 and 1"):
        agreement(["1", "2"], ["1"])
    with pytest.raises(ValueError, match=r"human must hold labels among \['1', '2', 'tie'\]. Got 'A'"):
        agreement(["A"], ["1"])
