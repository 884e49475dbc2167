"""Parsing and validating judge answers; slot scores for both pairwise result types."""

from __future__ import annotations

import pytest

from evalkit.judging import criterion_scores, parse_answer, single_score, slot_scores
from evalkit.tasks.judged import find_task_judge

LQ = find_task_judge("legal_quality")
PREF = find_task_judge("preference")
RUBRIC = find_task_judge("additive_rubric")


V2 = ('"citation_answer_1": 1, "citation_answer_2": 1, "argumentation_answer_1": 1, "argumentation_answer_2": 0, '
      '"form_answer_1": 0, "form_answer_2": 0')
VALID = f'{{"justification": "x", {V2}, "score_answer_1": 2, "score_answer_2": 1}}'


@pytest.mark.parametrize("text", [
    VALID,
    f"```json\n{VALID}\n```",
    f"Here is my verdict:\n{VALID}\nThanks.",
])
def test_valid_answers_parse_whatever_the_wrapping(text: str) -> None:
    parsed = parse_answer(LQ, text)
    assert parsed.ok and parsed.value is not None and parsed.value["score_answer_1"] == 2
    assert slot_scores(LQ, parsed.value) == (2.0, 1.0)
    assert criterion_scores(LQ, parsed.value) == {"citation": (1.0, 1.0), "argumentation": (1.0, 0.0),
                                                  "form": (0.0, 0.0)}


@pytest.mark.parametrize(("text", "error"), [
    ("I prefer the first answer.", "not valid JSON"),
    ('{"justification": "x", "score_answer_1": 2,', "not valid JSON"),
    ("[1, 2]", "expected one JSON object, got list"),
    (VALID.replace('"score_answer_1": 2', '"score_answer_1": 7'), "score_answer_1: 7 is not one of [0, 1, 2, 3]"),
    (VALID.replace(', "score_answer_2": 1', ""), "'score_answer_2' is a required property"),
    (VALID.replace('"score_answer_1": 2', '"score_answer_1": "2"'), "score_answer_1: '2' is not of type"),
    (VALID.replace("}", ', "extra": 1}'), "Additional properties"),
    (VALID.replace('"form_answer_1": 0', '"form_answer_1": 2'), "form_answer_1: 2 is not one of [0, 1]"),
    # Totals that are not the sums of the criterion points: invalid, so the judge is re-asked.
    (VALID.replace('"score_answer_1": 2', '"score_answer_1": 3'),
     "score_answer_1 is 3 but the criterion points add up to citation 1 + argumentation 1 + form 0 = 2"),
    (VALID.replace('"score_answer_2": 1', '"score_answer_2": 0'),
     "score_answer_2 is 0 but the criterion points add up to citation 1 + argumentation 0 + form 0 = 1"),
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
