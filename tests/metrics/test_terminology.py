"""Terminology matching: case, accents, inflection and word boundaries; glossary files."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.metrics.terminology import check_terms, contains_term, fold, load_glossary

GLOSSARY = Path(__file__).resolve().parents[2] / "benchmarks" / "eurlex" / "glossary.csv"


@pytest.mark.parametrize("text, term, found", [
    ("Der Verfahrensmangel führte zur Aufhebung.", "Verfahrensmangel", True),
    ("mehrere Verfahrensmängel", "Verfahrensmangel", True),            # umlaut plural
    ("VERFAHRENSMANGEL", "Verfahrensmangel", True),                    # case
    ("im Fall höherer Gewalt", "höhere Gewalt", True),                 # adjective ending
    ("nach dem Gerichtsgesetzbuches", "Gerichtsgesetzbuch", True),     # genitive
    ("des öffentlichen Auftraggebers", "öffentlicher Auftraggeber", True),
    ("der öffentliche Auftraggeber", "öffentlicher Auftrag", False),   # a longer compound is another term
    ("Die Prozessirregularität führte", "Verfahrensmangel", False),
    ("Herkunftsmitgliedstaat", "Mitgliedstaat", False),                # inside a compound: no
    ("höhere und bessere Gewalt", "höhere Gewalt", False),             # split by other words
])
def test_german_matching(text: str, term: str, found: bool) -> None:
    assert contains_term(text, term, "de") is found


@pytest.mark.parametrize("text, term, found", [
    ("Les États membres veillent", "État membre", True),
    ("chaque etat membre", "État membre", True),
    ("la clause de non-concurrence", "clause de non-concurrence", True),
    ("l’aide d’État accordée", "aide d'État", True),                   # typographic apostrophes
    ("la procédure d'insolvabilité", "procédure d'insolvabilité", True),
    ("le préjudice", "renvoi préjudiciel", False),
])
def test_french_matching(text: str, term: str, found: bool) -> None:
    assert contains_term(text, term, "fr") is found


def test_fold_and_unknown_language() -> None:
    assert fold("Straße Ärger É’") == "strasse arger e'"
    with pytest.raises(ValueError, match="lang must be a str among"):
        contains_term("x", "x", "it")


def test_bundled_glossary_and_references_agree() -> None:
    """Every glossary term found in a bundled test source appears, as required, in its German reference."""
    import json

    glossary = load_glossary(GLOSSARY)
    assert len(glossary) >= 30
    rows = [json.loads(line) for line in (GLOSSARY.parent / "test.jsonl").read_text("utf-8").splitlines()]
    checks = [c for r in rows for c in check_terms(r["fr"], r["de"], glossary, source_lang="fr", target_lang="de")]
    assert len(checks) >= 80 and all(c.hit for c in checks)
    assert all(check_terms(r["fr"], r["de"], glossary, source_lang="fr", target_lang="de") for r in rows)
    used = {c.entry.source for c in checks}
    assert used == {e.source for e in glossary}  # every term is tested at least once


def test_glossary_file_errors(tmp_path: Path) -> None:
    p = tmp_path / "g.csv"
    p.write_text("fr,de\na,b\n", "utf-8")
    with pytest.raises(DataError, match=r"g.csv:1: glossary header must name"):
        load_glossary(p)
    p.write_text("source,target\nvice,Mangel\nVice,Fehler\n", "utf-8")
    with pytest.raises(DataError, match=r"g.csv:3: source term 'Vice' repeats line 2"):
        load_glossary(p)
    p.write_text("source,target\nvice,\n", "utf-8")
    with pytest.raises(DataError, match=r"g.csv:2: column 'target' is empty"):
        load_glossary(p)
    p.write_text("source,target\nforce majeure,höhere Gewalt|Force majeure\n", "utf-8")
    (entry,) = load_glossary(p)
    assert entry.targets == ("höhere Gewalt", "Force majeure")
