"""The other built-in checks against hand-labelled answers, their argument validation, and the registry."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evalkit.checks import Check, CheckResult, checks, create_check
from evalkit.errors import ConfigError
from evalkit.records import Sample

SAMPLE = Sample(id="s1", input="Le vice de procédure entraîne-t-il la nullité ?", fields={"note": "x"})

GOOD = """## Réponse

Oui, sous conditions.

## Fondement légal

- **Art. 12 du Code judiciaire** : la nullité suppose un grief.

## Application

Il faut prouver un grief."""


@pytest.mark.parametrize(("answer", "score", "met", "missing", "empty"), [
    (GOOD, 1.0, True, [], []),
    (GOOD.replace("## Application", "### Application"), 2 / 3, False, ["Application"], []),  # wrong level
    (GOOD.replace("## Réponse\n\nOui, sous conditions.\n\n", "## Réponse\n\n"), 2 / 3, False, [], ["Réponse"]),
    ("**Réponse** : oui. Fondement légal : art. 12.", 0.0, False, ["Réponse", "Fondement légal", "Application"], []),
    ("## réponse :\n\nOui.\n\n## FONDEMENT LEGAL\n\n- art.\n\n## Application\n\nDonc.", 1.0, True, [], []),
    ("```\n## Réponse\n```\n## Fondement légal\n\nx\n\n## Application\n\ny", 2 / 3, False, ["Réponse"], []),
])
def test_markdown_sections(answer: str, score: float, met: bool, missing: list[str], empty: list[str]) -> None:
    check = create_check("markdown_sections", {"sections": ["Réponse", "Fondement légal", "Application"],
                                               "level": 2}, where="t")
    r = check.run(answer, SAMPLE)
    assert (r.score, r.met) == (pytest.approx(score), met)
    assert r.details["missing"] == missing and r.details["empty"] == empty


def test_markdown_sections_order() -> None:
    swapped = "## Application\n\ny\n\n## Réponse\n\nx\n\n## Fondement légal\n\nz"
    ordered = create_check("markdown_sections", {"sections": ["Réponse", "Fondement légal", "Application"]},
                           where="t")
    r = ordered.run(swapped, SAMPLE)
    assert (r.met, r.score, r.details["in_order"]) == (False, pytest.approx(2 / 3), False)
    unordered = create_check("markdown_sections", {"sections": ["Réponse", "Fondement légal", "Application"],
                                                   "in_order": False}, where="t")
    assert unordered.run(swapped, SAMPLE).met


@pytest.mark.parametrize(("args", "answer", "met", "count"), [
    ({"pattern": r"\bart\.\s*\d+"}, "Voir art. 12 et art. 13.", True, 2),
    ({"pattern": r"\bart\.\s*\d+", "min_count": 3}, "Voir art. 12 et art. 13.", False, 2),
    ({"pattern": r"(?i)je ne suis pas avocat", "min_count": 0, "max_count": 0}, "Je ne suis pas avocat, mais…",
     False, 1),
    ({"pattern": r"^## ", "flags": ["MULTILINE"], "min_count": 3}, GOOD, True, 3),
])
def test_regex(args: dict, answer: str, met: bool, count: int) -> None:
    r = create_check("regex", args, where="t").run(answer, SAMPLE)
    assert (r.met, r.details["count"], r.score) == (met, count, float(met))


@pytest.mark.parametrize(("args", "answer", "score", "met", "missing", "used"), [
    ({"required": ["nullité", "grief"]}, "Les nullités exigent un grief.", 1.0, True, [], []),  # plural ok
    ({"required": ["nullité", "grief|préjudice"]}, "La nullité suppose un préjudice.", 1.0, True, [], []),
    ({"required": ["nullité", "grief"]}, "Il faut un préjudice.", 0.0, False, ["nullité", "grief"], []),
    ({"forbidden": ["certainement"]}, "Vous gagnerez certainement.", 0.0, False, [], ["certainement"]),
    ({"required": ["grief"], "forbidden": ["certainement"]}, "Un grief, certainement.", 0.5, False, [],
     ["certainement"]),
    ({"required": ["grief"], "forbidden": ["griefs légers"]}, "Un grief suffit.", 1.0, True, [], []),
])
def test_terms(args: dict, answer: str, score: float, met: bool, missing: list[str], used: list[str]) -> None:
    r = create_check("terms", args, where="t").run(answer, SAMPLE)
    assert (r.score, r.met, r.details["missing"], r.details["forbidden_used"]) == (score, met, missing, used)


def test_terms_from_a_glossary(tmp_path: Path) -> None:
    (tmp_path / "glossary.csv").write_text("source,target\nvice de procédure,Verfahrensmangel\n"
                                           "nullité,Nichtigkeit\nforce majeure,höhere Gewalt\n", encoding="utf-8")
    check = create_check("terms", {"glossary": "glossary.csv", "lang": "de"}, where="t", base_dir=tmp_path)
    # The input mentions two glossary terms (not `force majeure`): both targets are required.
    r = check.run("Ein Verfahrensmangel führt nicht immer zur Nichtigkeit.", SAMPLE)
    assert r.met and r.details["required"] == ["vice de procédure → Verfahrensmangel", "nullité → Nichtigkeit"]
    r = check.run("Ein Verfahrensmangel reicht.", SAMPLE)
    assert (r.met, r.score, r.details["missing"]) == (False, 0.5, ["nullité → Nichtigkeit"])


@pytest.mark.parametrize(("args", "answer", "met", "failed"), [
    ({"min_words": 3, "max_words": 5}, "Oui, sous conditions strictes.", True, []),
    ({"min_words": 3}, "Oui.", False, ["min_words"]),
    ({"max_chars": 10}, "  Oui, sous conditions.  ", False, ["max_chars"]),
    ({"min_chars": 3, "max_chars": 4}, " Oui ", True, []),  # stripped: 3 characters
])
def test_length(args: dict, answer: str, met: bool, failed: list[str]) -> None:
    r = create_check("length", args, where="t").run(answer, SAMPLE)
    assert (r.met, r.details["failed"]) == (met, failed)


SCHEMA = {"type": "object", "properties": {"verdict": {"enum": ["oui", "non"]}, "articles": {
    "type": "array", "items": {"type": "string"}, "minItems": 1}}, "required": ["verdict", "articles"]}


@pytest.mark.parametrize(("answer", "allow_fence", "met", "error"), [
    ('{"verdict": "oui", "articles": ["art. 12"]}', False, True, None),
    ('{"verdict": "peut-être", "articles": []}', False, False, "articles: [] should be non-empty"),
    ('```json\n{"verdict": "non", "articles": ["a"]}\n```', True, True, None),
    ('```json\n{"verdict": "non", "articles": ["a"]}\n```', False, False, "not valid JSON"),
    ("Oui.", False, False, "not valid JSON"),
])
def test_json_schema(answer: str, allow_fence: bool, met: bool, error: str | None) -> None:
    r = create_check("json_schema", {"json_schema": SCHEMA, "allow_fence": allow_fence}, where="t").run(answer, SAMPLE)
    assert r.met == met
    text = json.dumps(r.details, ensure_ascii=False)
    assert error is None or error in text


def test_json_schema_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    check = create_check("json_schema", {"schema_file": "s.json"}, where="t", base_dir=tmp_path)
    assert check.run('{"verdict": "non", "articles": ["x"]}', SAMPLE).met


@pytest.mark.parametrize(("name", "args", "message"), [
    ("markdown_sections", {"sections": []}, r"^j\.yaml: criteria\[0\]: args\.sections: .*at least 1 item"),
    ("markdown_sections", {"sections": ["A", "a"]}, r"sections: section titles must be distinct"),
    ("regex", {"pattern": "(", "min_count": 1}, r"args\.pattern: not a valid regular expression"),
    ("regex", {"pattern": "x", "min_count": 3, "max_count": 1}, r"args: max_count \(1\) must be >= min_count"),
    ("length", {}, r"args: give at least one of min_chars"),
    ("json_schema", {"json_schema": {"type": "nope"}}, r"not a valid JSON Schema"),
    ("json_schema", {}, r"give exactly one of json_schema \(inline\) and schema_file"),
    ("terms", {"requierd": ["x"]}, r"args\.requierd: unknown field \(allowed: required, forbidden.*Did you mean: required\?"),
    ("citations", {"measure": "accuracy"}, r"args\.measure: Input should be 'f1', 'precision', 'recall' or 'grounded'"),
    ("citation", {}, r"^j\.yaml: criteria\[0\]: check: unknown check 'citation'\. Known: .*Did you mean: citations\?"),
])
def test_bad_arguments_are_one_line_errors(name: str, args: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        create_check(name, args, where="j.yaml: criteria[0]")
    assert "\n" not in str(info.value)


def test_builtins_are_registered() -> None:
    assert {"citations", "markdown_sections", "regex", "terms", "length", "json_schema"} <= set(checks.names())


def test_a_check_is_deterministic_and_typed() -> None:
    check = create_check("citations", {}, where="t")
    sample = Sample(id="1", input="q", fields={"references": ["Art. 2 du Code X"], "context_references": []})
    a, b = check.run("Selon l'article 2 du Code X.", sample), check.run("Selon l'article 2 du Code X.", sample)
    assert isinstance(a, CheckResult) and a == b and a.met


def test_third_party_check_registers_through_an_entry_point(tmp_path: Path) -> None:
    """A package installed beside evalkit adds a check with one entry point; a judge can then name it."""
    pkg = tmp_path / "shouting_check"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        from evalkit.checks import Check, CheckArgs, CheckResult

        class Args(CheckArgs):
            max_ratio: float = 0.3

        class Shouting(Check):
            Args = Args

            def run(self, answer, sample):
                letters = [c for c in answer if c.isalpha()]
                ratio = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
                return CheckResult(met=ratio <= self.args.max_ratio, score=1 - ratio, details={"ratio": ratio})
    """), encoding="utf-8")
    dist = tmp_path / "shouting_check-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shouting-check\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[evalkit.checks]\nshouting = shouting_check:Shouting\n", encoding="utf-8")
    code = ("from evalkit.checks import create_check; from evalkit.records import Sample;"
            "c = create_check('shouting', {'max_ratio': 0.5}, where='j');"
            "r = c.run('NON MAIS oui', Sample(id='1', input='q')); print(r.met, round(r.score, 2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "0.3"]  # 7 of 10 letters are capitals


def test_check_base_refuses_to_run_without_an_implementation() -> None:
    with pytest.raises(NotImplementedError):
        Check.create({}, where="t").run("x", SAMPLE)


def test_files_named_by_arguments_are_read_when_the_check_is_created(tmp_path: Path) -> None:
    from evalkit.errors import DataError

    with pytest.raises(ConfigError, match=r"schema_file .*missing\.json: cannot read it"):
        create_check("json_schema", {"schema_file": "missing.json"}, where="t", base_dir=tmp_path)
    (tmp_path / "bad.json").write_text('{"type": "nope"}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.json: not a valid JSON Schema"):
        create_check("json_schema", {"schema_file": "bad.json"}, where="t", base_dir=tmp_path)
    with pytest.raises(DataError, match=r"glossary\.csv"):
        create_check("terms", {"glossary": "glossary.csv"}, where="t", base_dir=tmp_path)
