"""Parsing and validating judge answers; slot scores for both pairwise result types."""

from __future__ import annotations

import pytest

from evalkit.judging import find_judge, parse_answer, single_score, slot_scores

LQ = find_judge("legal_quality")
PREF = find_judge("preference")
RUBRIC = find_judge("additive_rubric")


@pytest.mark.parametrize("text", [
    '{"justification": "x", "score_answer_1": 2, "score_answer_2": 1}',
    '```json\n{"justification": "x", "score_answer_1": 2, "score_answer_2": 1}\n```',
    'Here is my verdict:\n{"justification": "x", "score_answer_1": 2, "score_answer_2": 1}\nThanks.',
])
def test_valid_answers_parse_whatever_the_wrapping(text: str) -> None:
    parsed = parse_answer(LQ, text)
    assert parsed.ok and parsed.value == {"justification": "x", "score_answer_1": 2, "score_answer_2": 1}
    assert slot_scores(LQ, parsed.value) == (2.0, 1.0)


@pytest.mark.parametrize(("text", "error"), [
    ("I prefer the first answer.", "not valid JSON"),
    ('{"justification": "x", "score_answer_1": 2,', "not valid JSON"),
    ("[1, 2]", "expected one JSON object, got list"),
    ('{"justification": "x", "score_answer_1": 7, "score_answer_2": 1}', "score_answer_1: 7 is not one of [0, 1, 2, 3]"),
    ('{"justification": "x", "score_answer_1": 2}', "'score_answer_2' is a required property"),
    ('{"justification": "x", "score_answer_1": "2", "score_answer_2": 1}', "score_answer_1: '2' is not of type"),
    ('{"justification": "x", "score_answer_1": 2, "score_answer_2": 1, "extra": 1}', "Additional properties"),
])
def test_invalid_answers_say_what_is_wrong(text: str, error: str) -> None:
    parsed = parse_answer(LQ, text)
    assert not parsed.ok and parsed.value is None
    assert error in (parsed.error or "")


def test_choice_answers_map_to_slot_scores() -> None:
    def scores(winner: str) -> tuple[float, float]:
        parsed = parse_answer(PREF, f'{{"justification": "j", "winner": "{winner}"}}')
        assert parsed.ok
        return slot_scores(PREF, parsed.value)

    assert scores("A") == (1.0, 0.0) and scores("B") == (0.0, 1.0) and scores("tie") == (0.5, 0.5)
    assert "winner: 'C' is not one of" in (parse_answer(PREF, '{"justification": "j", "winner": "C"}').error or "")


def test_single_score_and_kind_checks() -> None:
    parsed = parse_answer(RUBRIC, '{"justification": "j", "score": 4}')
    assert parsed.ok and single_score(RUBRIC, parsed.value) == 4.0
    assert not parse_answer(RUBRIC, '{"justification": "j", "score": 6}').ok
    with pytest.raises(ValueError, match="single score needs a single one"):
        single_score(LQ, {"score_answer_1": 1, "score_answer_2": 1})
    with pytest.raises(ValueError, match="slot scores need a pairwise one"):
        slot_scores(RUBRIC, {"score": 1})
