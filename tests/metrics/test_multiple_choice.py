"""Letter parsing on real-looking model outputs, and repeated-attempt aggregation on hand-computed values."""

from __future__ import annotations

import doctest

import pytest

import evalkit.metrics.multiple_choice as mc
from evalkit.metrics.multiple_choice import (
    INVALID,
    attempt_accuracy,
    option_letters,
    parse_choice,
    summarize_attempts,
)

ABCD = option_letters(4)
DISEASES = ("vascular disease", "breast neoplasms", "hypertension", "gastrointestinal neoplasms")
YNM = ("yes", "no", "maybe")
YNM_OUTPUTS = ("Yes. The randomised", "The answer is maybe", "Based on the results, the intervention", "Yes or no")
DISEASE_OUTPUTS = ("vascular disease", "Letter: D: hypertension", "It is most likely hypertension")

# (output, expected letter, rule); the options are the four diseases (DISEASES) when the output names one,
# yes/no/maybe (YNM, three letters) for PubMedQA-style answers, else just the letters A-D.
CASES = [
    # The AmiRA case study's outputs, verbatim openings.
    ("Letter: D: gastrointestinal neoplasms -- This is based on the information provided in the context that "
     "hsa-miR-106a-5p is identified as one of the key miRNAs", "D", "leading_letter"),
    ("Letter: D: hypertension (This is an educated guess as the context does not explicitly mention hsa-mir-146b)",
     "D", "leading_letter"),
    ("vascular disease -- Letter: A, B, C, or D not mentioned in the context, so I can't definitively answer.",
     "A", "leading_option_text"),
    ("I'm sorry for any confusion, but the provided context does not contain any specific information linking "
     "hsa-mir-23b to a particular disease.", INVALID, "none"),
    # Bare and decorated letters.
    ("D", "D", "leading_letter"),
    ("b", "B", "leading_letter"),
    ("**C**", "C", "leading_letter"),
    ("C.", "C", "leading_letter"),
    ("(B)", "B", "leading_letter"),
    ("  `A`\n", "A", "leading_letter"),
    ("Answer: C) Trisomy 21 is the most common cause.", "C", "leading_letter"),
    ("The answer is (b)", "B", "leading_letter"),
    ("The correct answer is A because the condition is autosomal dominant.", "A", "leading_letter"),
    ("Answer: Option B", "B", "leading_letter"),
    ("B because hemophilia A is X-linked recessive.", "B", "leading_letter"),
    ("C\n\nExplanation: the centromeres fuse.", "C", "leading_letter"),
    ("## Answer\nD", "D", "leading_letter"),
    # Answer statements later in the text.
    ("Robertsonian translocations join two acrocentric chromosomes. Therefore, the answer is B.", "B",
     "answer_statement"),
    ('{"answer": "C", "explanation": "codominance"}', "C", "answer_statement"),
    ("Looking at each option, B is the correct answer here.", "B", "answer_statement"),
    ("The answer is A. Wait, reconsidering the pedigree, the final answer is: D", "D", "final_answer"),
    ("Based on the abstract, my answer would be (c).", "C", "answer_statement"),
    # Option texts instead of letters.
    ("Yes. The randomised trial shows a significant reduction.", "A", "leading_option_text"),
    ("The answer is maybe", "C", "leading_option_text"),
    ("Based on the results, the intervention did not help, so no.", "B", "option_text"),
    ("It is most likely hypertension, given the literature.", "C", "option_text"),
    ("I would pick (C) here, since the others are unrelated.", "C", "bracketed_letter"),
    # Unparsable: articles, enumerations, refusals, hedges, empty.
    ("A mutation in the promoter region could explain it.", INVALID, "none"),
    ("A or B", INVALID, "none"),
    ("Either A/B could be right.", INVALID, "none"),
    ("The answer is a matter of debate.", INVALID, "none"),
    ("", INVALID, "none"),
    ("   **  **", INVALID, "none"),
    ("Down syndrome", INVALID, "none"),
    ("B-cell lymphoma is unrelated.", INVALID, "none"),
    ("Yes or no, it depends: maybe.", INVALID, "none"),
]


@pytest.mark.parametrize(("output", "letter", "rule"), CASES)
def test_parse_choice_table(output: str, letter: str, rule: str) -> None:
    if output.startswith(YNM_OUTPUTS):
        got = parse_choice(output, option_letters(3), YNM)
    else:
        got = parse_choice(output, ABCD, DISEASES if output.startswith(DISEASE_OUTPUTS) else None)
    assert (got.letter, got.rule) == (letter, rule), output


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 20


def test_letters_outside_the_options_do_not_count() -> None:
    assert parse_choice("E", ABCD).letter == INVALID
    assert parse_choice("The answer is E.", ABCD).letter == INVALID
    assert parse_choice("E", option_letters(5)).letter == "E"


@pytest.mark.parametrize(("args", "message"), [
    (("x", ("A",)), "letters must be >= 2 distinct capital letters"),
    (("x", ("A", "A")), "letters must be >= 2 distinct capital letters"),
    (("x", ("a", "b")), "letters must be >= 2 distinct capital letters"),
    (("x", ABCD, ("one", "two")), "options must have one text per letter (4). Got 2 instead."),
    ((None, ABCD), "output must be a str. Got NoneType None instead."),
])
def test_parse_choice_validates_inputs(args, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_choice(*args)


def test_option_letters() -> None:
    assert option_letters(3) == ("A", "B", "C")
    for bad in (1, 27, 2.0, True):
        with pytest.raises(ValueError, match="n must be an int in"):
            option_letters(bad)


def test_summarize_attempts_hand_computed() -> None:
    a = summarize_attempts(["B", "C", "B"], "B")
    assert (a.n_scored, a.n_correct, a.mean_correct, a.majority, a.majority_correct) == (3, 2, 2 / 3, "B", True)
    assert a.agreement == pytest.approx(2 / 3)
    # A three-way split has no majority: the majority vote counts as wrong even though one attempt was right.
    t = summarize_attempts(["A", "B", INVALID], "A")
    assert (t.majority, t.majority_correct, t.n_invalid, t.mean_correct) == (None, False, 1, 1 / 3)
    assert t.agreement == pytest.approx(1 / 3)
    # A failed call is left out; the two scored attempts agree.
    f = summarize_attempts(["D", None, "D"], "C")
    assert (f.n_attempts, f.n_scored, f.mean_correct, f.majority, f.majority_correct, f.agreement) == \
        (3, 2, 0.0, "D", False, 1.0)
    # Invalid can be the majority answer.
    assert summarize_attempts([INVALID, INVALID, "A"], "A").majority == INVALID
    none = summarize_attempts([None, None], "A")
    assert (none.n_scored, none.mean_correct, none.majority, none.majority_correct, none.agreement) == \
        (0, None, None, None, None)
    with pytest.raises(ValueError, match="Got the str"):
        summarize_attempts("ABC", "A")


def test_attempt_accuracy_hand_computed() -> None:
    # Attempt accuracies 3/4, 2/4, 2/4: mean 7/12, sd = sqrt(((1/6)^2 + 2 (1/12)^2) / 2) = 0.144338.
    r = attempt_accuracy([[True, True, False], [True, False, False], [False, False, True], [True, True, True]])
    assert r.per_attempt == (0.75, 0.5, 0.5) and r.n_per_attempt == (4, 4, 4)
    assert r.mean == pytest.approx(7 / 12) and r.sd == pytest.approx(0.1443375673)
    assert (r.low, r.high) == (0.5, 0.75)
    # A failed call (None) leaves that item out of that attempt only.
    g = attempt_accuracy([[True, None], [False, True]])
    assert g.per_attempt == (0.5, 1.0) and g.n_per_attempt == (2, 1) and g.mean == 0.75
    one = attempt_accuracy([[True], [False]])
    assert one.per_attempt == (0.5,) and one.sd is None
    assert attempt_accuracy([[None, None]]).mean is None
    with pytest.raises(ValueError, match="same number of attempts"):
        attempt_accuracy([[True], [True, False]])
    with pytest.raises(ValueError, match="at least one item"):
        attempt_accuracy([])


def test_doctests() -> None:
    assert doctest.testmod(mc).failed == 0
