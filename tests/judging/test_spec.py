"""Judge files: the shipped ones load and are pinned; broken ones fail naming the file and the field."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from evalkit.errors import ConfigError
from evalkit.judging import judge_variables, load_judge, render_judge_prompt, template_sha256
from evalkit.judging import available_judges
from evalkit.tasks.judged import find_task_judge, judge_dirs

JUDGES_DIR = Path(__file__).resolve().parents[2] / "judges"

# A reviewed change of a judge's template bumps its version and updates its hash here, in the same commit.
PINNED = {
    "legal_quality": ("2", "b408c801db53e29d4289c926bd6224ab0d46b63e7319379bd5e3781fe71a399d"),
    "preference": ("1", "1f49ca45745cb584243b2718b8239d36e2d0cb584fc456f44850a6f50e2d9a62"),
    "additive_rubric": ("1", "79c1facc90fd194b989187b77f0db9aa6a4a4fc6745506f37dfb29eb18eebe70"),
}

VALID = {
    "id": "tiny",
    "version": "1",
    "kind": "pairwise",
    "description": "test judge",
    "score_range": [0, 1],
    "result": {"type": "choice", "field": "winner", "slot_1": "A", "slot_2": "B", "tie": "tie"},
    "output_schema": {"type": "object", "properties": {"winner": {"type": "string", "enum": ["A", "B", "tie"]}},
                      "required": ["winner"], "additionalProperties": False},
    "template": "Q: {{ question }}\nA: {{ answer_1 }}\nB: {{ answer_2 }}\n",
}


def write(tmp_path: Path, raw: dict | str, name: str = "tiny") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_shipped_judges_load_and_are_pinned() -> None:
    found = {k: v for k, v in available_judges(judge_dirs()).items() if v.parent == JUDGES_DIR}
    assert set(PINNED) <= set(found)
    for name, (version, sha) in PINNED.items():
        spec = load_judge(found[name])
        assert (spec.id, spec.version) == (name, version)
        assert spec.template_sha256 == sha, f"{name}: template changed: bump its version and update PINNED"
    assert find_task_judge("legal_quality").kind == "pairwise" and find_task_judge("legal_quality").score_range == (0, 3)
    assert find_task_judge("preference").result.type == "choice"
    assert find_task_judge("additive_rubric").kind == "single" and find_task_judge("additive_rubric").score_range == (0, 5)


def test_template_sha256_is_the_hash_of_the_exact_text(tmp_path: Path) -> None:
    text = "Judge {{ answer_1 }} against {{ answer_2 }}.\n"
    assert template_sha256(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert template_sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    # Stable across loads and file locations; any change of the text, even whitespace, changes it.
    a = load_judge(write(tmp_path, VALID))
    other = tmp_path / "elsewhere"
    other.mkdir()
    b = load_judge(write(other, VALID))
    assert a.template_sha256 == b.template_sha256 == template_sha256(VALID["template"])
    c = load_judge(write(tmp_path / "elsewhere", {**VALID, "template": VALID["template"] + " "}))
    assert c.template_sha256 != a.template_sha256
    # Description and version are not part of the template's hash.
    d = load_judge(write(other, {**VALID, "description": "reworded", "version": "2"}))
    assert d.template_sha256 == a.template_sha256


def test_integer_version_is_read_as_text(tmp_path: Path) -> None:
    assert load_judge(write(tmp_path, {**VALID, "version": 3})).version == "3"


@pytest.mark.parametrize(("change", "expected"), [
    ({"kind": "triple"}, "kind: Input should be 'pairwise' or 'single'"),
    ({"template": None}, "template:"),
    ({"score_range": [3, 0]}, "score_range: must be [low, high] with low < high"),
    ({"output_schema": {"type": "object", "properties": {"winner": {"type": "strnig"}}}},
     "output_schema: not a valid JSON Schema"),
    ({"output_schema": {"type": "array"}}, "must describe a JSON object"),
    ({"template": "{{ question }} {{ answer_1 }} {{ answer_2 }} {{ critrion }}"}, "unknown variable(s) ['critrion']"),
    ({"template": "{{ question }} {{ answer_1 }}"}, "must show ['answer_2'] to the judge"),
    ({"template": "{% if %}"}, "template: syntax error at line 1"),
    ({"result": {"type": "score", "field": "winner"}}, "result.type: a pairwise judge takes scores or choice"),
    ({"result": {"type": "choice", "field": "verdict", "slot_1": "A", "slot_2": "B", "tie": "tie"}},
     "result.field: 'verdict' must be a required property of output_schema"),
    ({"result": {"type": "choice", "field": "winner", "slot_1": "1", "slot_2": "2", "tie": "0"}},
     "enum ['A', 'B', 'tie'] must hold exactly the values ['1', '2', '0']"),
    ({"variables": {"question": "x"}}, "variables: ['question'] are built-in variables"),
    ({"colour": "blue"}, "colour: unknown field"),
])
def test_invalid_judge_files_name_the_file_and_field(tmp_path: Path, change: dict, expected: str) -> None:
    path = write(tmp_path, {k: v for k, v in {**VALID, **change}.items() if v is not None})
    with pytest.raises(ConfigError) as err:
        load_judge(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_missing_field_id_mismatch_and_bad_yaml(tmp_path: Path) -> None:
    raw = dict(VALID)
    del raw["output_schema"]
    with pytest.raises(ConfigError, match=r"tiny\.yaml: output_schema: required field is missing"):
        load_judge(write(tmp_path, raw))
    with pytest.raises(ConfigError, match=r"other\.yaml: id: must equal the file name 'other' \(got 'tiny'\)"):
        load_judge(write(tmp_path, VALID, name="other"))
    with pytest.raises(ConfigError, match=r"bad\.yaml:2: invalid YAML"):
        load_judge(write(tmp_path, "id: bad\n  version: [1\n", name="bad"))
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_judge(write(tmp_path, "- 1\n", name="list"))


def test_find_judge_by_id_by_path_and_with_suggestions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="unknown judge 'legal_qualty'.*Did you mean: legal_quality"):
        find_task_judge("legal_qualty", where="suite.yaml: task_args.judge")
    write(tmp_path, VALID)
    assert find_task_judge("tiny.yaml", relative_to=tmp_path).id == "tiny"
    with pytest.raises(ConfigError, match="judge file not found"):
        find_task_judge("nope.yaml", relative_to=tmp_path)
    monkeypatch.setenv("EVALKIT_JUDGES", str(tmp_path))
    assert find_task_judge("tiny").path == (tmp_path / "tiny.yaml").resolve()


def test_variables_defaults_overrides_and_errors() -> None:
    spec = find_task_judge("preference")
    assert judge_variables(spec, {}, where="w")["criterion"].startswith("Which answer")
    assert judge_variables(spec, {"criterion": "Which translation is more faithful?"}, where="w") == {
        "criterion": "Which translation is more faithful?"}
    with pytest.raises(ConfigError, match=r"w: judge 'preference' .* has no variable\(s\) \['critrion'\]; "
                                          r"allowed: criterion"):
        judge_variables(spec, {"critrion": "x"}, where="w")
    prompt = render_judge_prompt(spec, {"question": "Q?", "answer_1": "one", "answer_2": "two"},
                                 {"criterion": "Which is more polite?"})
    assert "Which is more polite?" in prompt and "Answer A:\n<<<\none\n>>>" in prompt
    assert "reference answer" not in prompt  # optional blocks vanish when their variable is None


def test_required_variable_without_default(tmp_path: Path) -> None:
    spec = load_judge(write(tmp_path, {**VALID, "variables": {"criterion": None},
                                       "template": VALID["template"] + "{{ criterion }}"}))
    with pytest.raises(ConfigError, match=r"needs a value for \['criterion'\]"):
        judge_variables(spec, {}, where="w")


@pytest.mark.parametrize("name", sorted(PINNED))
def test_output_schemas_become_llama_cpp_grammars(name: str) -> None:
    """The embedded judge (llama.cpp) constrains decoding with a grammar built from the schema."""
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(find_task_judge(name).output_schema))
    assert "root ::=" in gbnf


def test_judge_list_fits_80_columns_with_whole_ids(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from rich.console import Console

    from evalkit.judge_command import run_judge_command

    monkeypatch.setenv("COLUMNS", "80")
    console = Console(width=80, force_terminal=False)
    assert run_judge_command(argparse.Namespace(judge_command="list", verbose=False), console) == 0
    out = capsys.readouterr().out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│")}
    assert {"additive_rubric", "bsard_checks", "legal_quality", "preference"} <= set(rows)
    assert "checks" in rows["bsard_checks"] and "0-3" in rows["bsard_checks"]
    assert all(len(line) <= 80 for line in out.splitlines()) and "judges/" not in out  # files only with --verbose
    run_judge_command(argparse.Namespace(judge_command="list", verbose=True), Console(width=200))
    assert "legal_quality.yaml" in capsys.readouterr().out
