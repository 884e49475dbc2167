"""The citation parser and the `citations` check, against answers written and labelled by hand (in French)."""

from __future__ import annotations

import pytest

from evalkit.checks import (
    create_check,
    find_citations,
    parse_number,
    parse_reference,
    score_citations,
)
from evalkit.errors import DataError
from evalkit.records import Sample


@pytest.mark.parametrize(("text", "labels"), [
    ("Selon l'article 1382 de l'ancien Code civil, tout fait quelconque de l'homme oblige à réparer.",
     ["art. 1382 (ancien code civil)"]),
    ("En vertu de l'art. VII.105 du Code de droit économique, le prêteur doit vérifier la solvabilité.",
     ["art. VII.105 (code de droit economique)"]),
    ("Les articles 1337bis à 1337octies du Code judiciaire organisent la procédure.",
     ["art. 1337bis-1337octies (code judiciaire)"]),
    ("Voir les articles 8 et 11 du Code du bail d'habitation, ainsi que l'article 14 du même code.",
     ["art. 8 (code du bail d'habitation)", "art. 11 (code du bail d'habitation)",
      "art. 14 (code du bail d'habitation)"]),
    ("L'article 3, § 2, alinéa 1er, de la loi du 10 avril 1971 sur les accidents du travail s'applique.",
     ["art. 3 (loi du 10 avril 1971)"]),
    ("Les articles 11, 14 et 17 du Code du bail d'habitation règlent la question.",
     ["art. 11 (code du bail d'habitation)", "art. 14 (code du bail d'habitation)",
      "art. 17 (code du bail d'habitation)"]),
    ("Les articles 544 et suivants de l'ancien Code civil traitent de la propriété.",
     ["art. 544+ (ancien code civil)"]),
    ("Conformément à l’article 10 de la Constitution, les Belges sont égaux devant la loi.",
     ["art. 10 (constitution)"]),
    ("- **Art. 37bis du Code du travail salarié** : l'employeur motive le licenciement.",
     ["art. 37bis (code du travail salarie)"]),
    ("L'art. 1er du Code des biens définit les biens ; l'article 3.40 du même code règle le passage.",
     ["art. 1 (code des biens)", "art. 3.40 (code des biens)"]),
    # Not citations: no number after the trigger, or a number that is not an article's.
    ("Les articles fournis ne répondent pas. Le loyer est de 800 euros depuis 2021.", []),
])
def test_citation_forms(text: str, labels: list[str]) -> None:
    assert [c.label for c in find_citations(text)] == labels


def test_bare_numbers_take_the_previous_code() -> None:
    cited = find_citations("L'article 11 du Code du bail d'habitation prévoit la garantie ; l'article 8 règle "
                           "l'état des lieux.")
    assert [(c.first.text, c.code, c.code_source) for c in cited] == [
        ("11", "code du bail d'habitation", "named"), ("8", "code du bail d'habitation", "previous")]


def test_number_order_puts_suffixes_between_articles() -> None:
    order = ["1337", "1337bis", "1337ter", "1337 quater", "1337octies", "1338"]
    keys = [parse_number(n).key for n in order]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert parse_number("VII.105").key > parse_number("VI.200").key  # book VII comes after book VI
    assert parse_number("premier") == parse_number("1er")


def test_reference_forms() -> None:
    r = parse_reference("Art. 11 du Code du bail d'habitation")
    assert (r.number.text, r.code) == ("11", "code du bail d'habitation")
    r = parse_reference("Art. 1er, Code test du bail")  # BSARD's fallback form: number, comma, code
    assert (r.number.text, r.code) == ("1", "code test du bail")
    assert parse_reference("Article 4").code is None
    assert parse_reference("Préambule").number is None


# ---------------------------------------------------------------------------------------------------------
# Hand-labelled answers to one question: gold = art. 11 and 8 of the Code du bail d'habitation; the context
# also gave art. 14 of that code and art. 591 of the Code de procédure civile (distractors).

GOLD = ["Art. 11 du Code du bail d'habitation", "Art. 8 du Code du bail d'habitation"]
CONTEXT = ["Art. 14 du Code du bail d'habitation", "Art. 11 du Code du bail d'habitation",
           "Art. 591 du Code de procédure civile", "Art. 8 du Code du bail d'habitation"]

# (answer, precision, recall, distractors cited, absent citations), each counted by hand.
LABELLED = [
    (("## Réponse\n\nVotre bailleur ne peut pas garder la garantie sans preuve.\n\n## Fondement légal\n\n"
     "- **Art. 11 du Code du bail d'habitation** : la garantie ne peut être libérée qu'avec votre accord.\n"
     "- **Art. 8 du Code du bail d'habitation** : l'état des lieux d'entrée fait foi.\n\n## Application\n\n"
     "Selon l'article 11 du Code du bail d'habitation et l'article 8 du même code, exigez l'état des lieux."),
     1.0, 1.0, [], []),
    ("Selon l'article 11 du Code du bail d'habitation, la garantie est bloquée.", 1.0, 0.5, [], []),
    ("D'après l'article 14 du Code du bail d'habitation et l'article 11 du même code, vous pouvez agir.",
     0.5, 0.5, ["Art. 14 du Code du bail d'habitation"], []),
    (("Saisissez le juge de paix (art. 591 du Code de procédure civile) sur la base de l'article 8 du Code du "
     "bail d'habitation."), 0.5, 0.5, ["Art. 591 du Code de procédure civile"], []),
    ("L'article 1728 de l'ancien Code civil impose au preneur d'user de la chose en bon père de famille.",
     0.0, 0.0, [], ["art. 1728 (ancien code civil)"]),
    ("Les articles 8 à 11 du Code du bail d'habitation vous protègent.", 1.0, 1.0, [], []),  # a range covers both
    ("Le Code du bail d'habitation vous protège : demandez conseil.", None, 0.0, [], []),  # no article named
    (("L'article 11 oblige le bailleur à rendre la garantie. L'article 8 concerne l'état des lieux. L'article 11 "
     "encore : le bailleur ne peut disposer de la garantie."), 1.0, 1.0, [], []),  # bare numbers, one code each
    ("Selon l'article 11 du Code du travail salarié, vous êtes protégé.", 0.0, 0.0, [],
     ["art. 11 (code du travail salarie)"]),  # right number, wrong code: not the given article
]


@pytest.mark.parametrize(("answer", "precision", "recall", "distractors", "absent"), LABELLED)
def test_hand_labelled_answers(answer: str, precision: float | None, recall: float, distractors: list[str],
                               absent: list[str]) -> None:
    s = score_citations(answer, GOLD, CONTEXT)
    assert s.precision == precision and s.recall == recall
    assert list(s.distractors) == distractors and list(s.absent) == absent
    expected_f1 = 0.0 if not precision or not recall else 2 * precision * recall / (precision + recall)
    assert s.f1 == pytest.approx(expected_f1)
    assert s.grounded == (bool(s.cited_gold) and not distractors and not absent)


def test_a_bare_number_shared_by_two_given_codes_is_ambiguous() -> None:
    s = score_citations("L'article 11 s'applique.", ["Art. 11 du Code du bail d'habitation"],
                        ["Art. 11 du Code du bail d'habitation", "Art. 11 du Code de la famille"])
    assert s.ambiguous == ("art. 11",) and s.precision == 0.0 and s.recall == 0.0


def _sample(**fields: object) -> Sample:
    return Sample(id="q1", input="Puis-je récupérer ma garantie ?", fields=fields)


@pytest.mark.parametrize(("measure", "answer_index", "score", "met"), [
    ("f1", 0, 1.0, True), ("f1", 2, 0.5, False), ("precision", 1, 1.0, True), ("recall", 1, 0.5, False),
    ("grounded", 1, 1.0, True), ("grounded", 2, 0.0, False), ("grounded", 6, 0.0, False),
])
def test_citations_check_measures(measure: str, answer_index: int, score: float, met: bool) -> None:
    check = create_check("citations", {"measure": measure}, where="t")
    result = check.run(LABELLED[answer_index][0], _sample(references=GOLD, context_references=CONTEXT))
    assert (result.score, result.met) == (pytest.approx(score), met)
    assert result.details["gold_total"] == 2


def test_citations_check_threshold_and_details() -> None:
    check = create_check("citations", {"min_score": 0.5}, where="t")
    result = check.run(LABELLED[2][0], _sample(references=GOLD, context_references=CONTEXT))
    assert result.met and result.score == pytest.approx(0.5)
    statuses = [(c["label"], c["status"]) for c in result.details["citations"]]
    assert statuses == [("art. 14 (code du bail d'habitation)", "distractor"),
                        ("art. 11 (code du bail d'habitation)", "gold")]


def test_citations_check_names_a_missing_field() -> None:
    check = create_check("citations", {"gold_field": "gold"}, where="t")
    assert check.required_fields() == ("gold", "context_references")
    with pytest.raises(DataError, match=r"^sample 'q1': a check needs the field 'gold'"):
        check.run("art. 1", _sample(references=GOLD))
    with pytest.raises(DataError, match=r"field 'gold' must be a list of reference strings"):
        check.run("art. 1", _sample(gold=[1, 2], context_references=[]))


def test_a_citation_cut_off_before_its_code_takes_the_previous_code() -> None:
    """An answer stopped by max_tokens right after `du Code`: the bare word names no instrument."""
    s = score_citations("Selon l'article 11 du Code du bail d'habitation, oui. Voir aussi l'article 8 du Code",
                        GOLD, CONTEXT)
    assert s.absent == () and s.recall == 1.0
