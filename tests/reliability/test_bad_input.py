"""Bad input, end to end through `evalkit.cli.main`: one table of malformed suites, data sets, configs, judge
files and human label files. Each must give exactly one clear error — exit code 2, one line on stderr naming
the file, the line or field, and what was expected, no traceback — before any model call, and leave no run
directory behind that a later run or `evalkit report` could take for a finished one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_errors import user_error

from evalkit.cli import main

from .project import KEY_ENV, cache_rows, server, write_project


@dataclass(frozen=True)
class Case:
    """One malformed input: how to break the project, and what the error line must say."""

    id: str
    breaks: Callable[[Path], list[str] | None]
    """Edits the project under the given root; returns replacement CLI arguments, or None for the usual run."""
    expect: tuple[str, ...]
    """Substrings of the error line: the file (or option) at fault, the line/field, what was expected."""


def edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return apply


def write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (root / name).write_bytes(data)
    return apply


def data_lines(*rows: object, raw: dict[int, str] | None = None) -> Callable[[Path], None]:
    """A data.jsonl of these rows (dicts as JSON), with raw text lines substituted at given 0-based lines."""
    lines = [json.dumps(r) if isinstance(r, dict) else str(r) for r in rows]
    for i, text in (raw or {}).items():
        lines[i] = text
    return write("data.jsonl", "".join(line + "\n" for line in lines))


def both(*steps: Callable[[Path], object]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        for step in steps:
            step(root)
    return apply


def row(i: int, label: str = "positive") -> dict[str, str]:
    return {"id": f"s{i}", "text": f"text {i}", "label": label}


def run_args(root: Path, *, models: str = "mis,oai", suite: str = "suite.yaml", config: str = "evalkit.toml",
             extra: tuple[str, ...] = ()) -> list[str]:
    return ["run", str(root / suite), "--models", models, "--config", str(root / config), "--out",
            str(root / "reports"), "--cache-dir", str(root / "cache"), "--quiet", *extra]


JUDGE_SUITE = """
name: pairs
task: pairwise_judge
task_args: {judge: my_judge.yaml}
data: {path: data.jsonl, fields: {id: id, input: text, target: label}}
prompts:
  default: {style: chat, template: "{{ input }}"}
"""

JUDGE_FILE = """
id: my_judge
version: "1"
kind: pairwise
description: test judge
score_range: [0, 1]
result: {type: choice, field: winner, slot_1: A, slot_2: B, tie: tie}
output_schema:
  type: object
  properties: {winner: {type: string, enum: [A, B, tie]}}
  required: [winner]
template: "Which is better? A: {{ answer_1 }} B: {{ answer_2 }} ({{ question }})"
"""


def judge_project(judge_text: str, suite_edit: tuple[str, str] | None = None) -> Callable[[Path], list[str]]:
    def apply(root: Path) -> list[str]:
        suite = JUDGE_SUITE if suite_edit is None else JUDGE_SUITE.replace(*suite_edit)
        (root / "pairs.yaml").write_text(suite, encoding="utf-8")
        (root / "my_judge.yaml").write_text(judge_text, encoding="utf-8")
        return run_args(root, suite="pairs.yaml", extra=("--judge", "mis"))
    return apply


def calibrate(name: str, content: str) -> Callable[[Path], list[str]]:
    def apply(root: Path) -> list[str]:
        (root / name).write_text(content, encoding="utf-8")
        return ["judge", "calibrate", "preference", str(root / name), "--models", "mis", "--config",
                str(root / "evalkit.toml"), "--out", str(root / "reports")]
    return apply


CASES = [
    # --- suite files ---------------------------------------------------------------------------------------
    Case("suite-unknown-task", edit("suite.yaml", "task: classification", "task: clasification"),
         ("suite.yaml", "clasification", "classification")),
    Case("suite-missing-data", edit("suite.yaml", "data: {path: data.jsonl", "dta: {path: data.jsonl"),
         ("suite.yaml", "data: required field is missing")),
    Case("suite-bad-yaml", edit("suite.yaml", "generation: {max_tokens: 5}", "generation: {max_tokens: 5"),
         ("suite.yaml:", "invalid YAML")),
    Case("suite-not-a-mapping", write("suite.yaml", "- just\n- a list\n"), ("suite.yaml", "must be a YAML mapping")),
    Case("suite-unknown-field", edit("suite.yaml", "generation:", "generaton:"),
         ("suite.yaml", "generaton: unknown field")),
    Case("suite-bad-generation-value", edit("suite.yaml", "max_tokens: 5", "max_tokens: many"),
         ("suite.yaml", "generation.max_tokens", "many")),
    Case("suite-no-default-prompt", edit("suite.yaml", "  default: {style", "  other: {style"),
         ("suite.yaml", "'default' is required")),
    Case("suite-template-undefined-variable", edit("suite.yaml", "{{ input }}", "{{ txt }}"),
         ("suite.yaml", "prompts.default", "'txt' is undefined", "available variables")),
    Case("suite-template-syntax", edit("suite.yaml", "{{ input }}", "{{ input "),
         ("suite.yaml", "prompts.default", "template syntax error")),
    Case("suite-bad-task-args", edit("suite.yaml", "positive_label: positive", "positive_label: maybe"),
         ("suite.yaml", "task_args.positive_label", "maybe", "must be one of")),
    Case("suite-not-found", lambda root: run_args(root, suite="nope.yaml"), ("unknown suite", "nope.yaml")),
    # --- data sets -----------------------------------------------------------------------------------------
    Case("data-bad-json-line", data_lines(row(1), row(2), row(3), raw={2: '{"id": "s3", "text": '}),
         ("data.jsonl:3", "invalid JSON")),
    Case("data-line-not-an-object", data_lines(row(1), "[1, 2]"), ("data.jsonl:2", "expected a JSON object")),
    Case("data-missing-column", data_lines(row(1), {"id": "s2", "txt": "x", "label": "positive"}),
         ("data.jsonl:2", "missing column(s) 'text'")),
    Case("data-empty-file", write("data.jsonl", ""), ("data.jsonl", "no samples")),
    Case("data-wrong-encoding", write("data.jsonl", json.dumps(row(1)).replace("text 1", "caf\u00e9")
                                      .encode("latin-1") + b"\n"),
         ("data.jsonl", "not UTF-8")),
    Case("data-duplicated-ids", data_lines(row(1), row(2), row(1)),
         ("data.jsonl", "duplicated id 's1'", "rows 1 and 3")),
    Case("data-file-missing", edit("suite.yaml", "path: data.jsonl", "path: missing.jsonl"),
         ("data file not found", "missing.jsonl")),
    Case("data-target-not-a-label", data_lines(row(1), row(2, "maybe"), row(3)),
         ("data.jsonl", "s2", "'maybe'", "positive", "negative")),
    Case("data-target-column-missing", data_lines(row(1), {"id": "s2", "text": "x"}),
         ("data.jsonl", "s2", "target", "positive")),
    Case("data-csv-missing-column", both(edit("suite.yaml", "path: data.jsonl", "path: data.csv"),
                                         write("data.csv", "id,txt,label\ns1,fine,positive\n")),
         ("data.csv:2", "missing column(s) 'text'")),
    # --- project configs -----------------------------------------------------------------------------------
    Case("config-unknown-model", lambda root: run_args(root, models="mis,oia"),
         ("unknown model 'oia'", "evalkit.toml", "Did you mean: oai")),
    Case("config-missing-api-key", lambda root: None, (KEY_ENV, "unset or empty", "model 'mis'")),
    Case("config-negative-price", edit("evalkit.toml", "input_per_mtok = 0.1", "input_per_mtok = -0.1"),
         ("evalkit.toml", "prices.mis-model.input_per_mtok", "greater than or equal to 0")),
    Case("config-price-not-a-number", edit("evalkit.toml", "output_per_mtok = 0.3", 'output_per_mtok = "cheap"'),
         ("evalkit.toml", "prices.mis-model.output_per_mtok", "cheap")),
    Case("config-price-unknown-field", edit("evalkit.toml", "output_per_mtok = 0.3", "output_per_token = 0.3"),
         ("evalkit.toml", "prices.mis-model.output_per_token: unknown field")),
    Case("config-bad-toml", edit("evalkit.toml", "[models.oai]", "[models.oai"), ("evalkit.toml", "invalid TOML")),
    Case("config-unknown-model-field",
         edit("evalkit.toml", 'provider = "openai"', 'provider = "openai"\ntemprature = 0'),
         ("evalkit.toml", "model 'oai'", "temprature: unknown field")),
    Case("config-unknown-provider", edit("evalkit.toml", 'provider = "openai"', 'provider = "opneai"'),
         ("opneai", "openai")),
    Case("config-bad-concurrency", edit("evalkit.toml", "concurrency = 8", "concurrency = 0"),
         ("evalkit.toml", "model 'mis'", "concurrency", "greater than or equal to 1")),
    Case("config-unknown-prompt-profile",
         edit("evalkit.toml", 'provider = "openai"', 'provider = "openai"\nprompt = "terse"'),
         ("suite.yaml", "model 'oai'", "'terse'", "default")),
    Case("config-file-missing", lambda root: run_args(root, config="nope.toml"),
         ("config file not found", "nope.toml")),
    Case("option-reference-not-run", lambda root: run_args(root, extra=("--reference", "base")),
         ("--reference", "'base'", "mis, oai")),
    # --- judge files (a pairwise_judge suite naming a local judge file) ------------------------------------
    Case("judge-file-missing", judge_project(JUDGE_FILE, ("judge: my_judge.yaml", "judge: other_judge.yaml")),
         ("pairs.yaml", "other_judge")),
    Case("judge-file-bad-yaml", judge_project(JUDGE_FILE.replace("score_range: [0, 1]", "score_range: [0, 1")),
         ("my_judge.yaml", "invalid YAML")),
    Case("judge-file-missing-field", judge_project(JUDGE_FILE.replace("kind: pairwise\n", "")),
         ("my_judge.yaml", "kind")),
    Case("judge-file-wrong-id", judge_project(JUDGE_FILE.replace("id: my_judge", "id: their_judge")),
         ("my_judge.yaml", "id", "my_judge")),
    # --- human label files (`evalkit judge calibrate`) -----------------------------------------------------
    Case("labels-bad-label", calibrate("labels.jsonl", json.dumps(
        {"question": "q", "answer_1": "a", "answer_2": "b", "label": "maybe"}) + "\n"),
         ("labels.jsonl:1", "field 'label'", "'maybe'", "allowed")),
    Case("labels-missing-column", calibrate("labels.csv", "question,answer_1,label\nq,a,1\n"),
         ("labels.csv:2", "answer_2")),
    Case("labels-bad-json-line", calibrate("labels.jsonl", '{"question": "q",\n'), ("labels.jsonl:1", "invalid JSON")),
]


@pytest.fixture(scope="module")
def fake():
    with server() as srv:
        yield srv


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input_gives_one_clear_error_and_no_run(case: Case, tmp_path: Path, fake, capsys,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    if case.id == "config-missing-api-key":
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, "sk-bad-input-0000")
    write_project(tmp_path, fake.url, n=6)
    fake.reset()
    argv = case.breaks(tmp_path) or run_args(tmp_path)

    code = main(argv)

    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured.err
    assert len(lines) == 1, f"expected one error line, got:\n{captured.err}"
    line = lines[0]
    assert line.startswith("error: ") and "Traceback" not in captured.err
    missing = [s for s in case.expect if s not in line]
    assert not missing, f"{missing} not in: {line}"
    assert captured.out == ""
    # Validation happens before anything runs: no model call, no cache entry, no run directory.
    assert fake.call_count == 0
    assert cache_rows(tmp_path / "cache") == 0
    runs = [p for p in (tmp_path / "reports").glob("*")] if (tmp_path / "reports").exists() else []
    assert runs == [], f"a run directory was left behind: {runs}"


def test_the_table_is_at_least_twenty_distinct_inputs() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 20
    kinds = {re.match(r"[a-z]+", c.id).group(0) for c in CASES}  # type: ignore[union-attr]
    assert {"suite", "data", "config", "judge", "labels"} <= kinds


def test_an_error_after_the_run_started_marks_the_run_failed(tmp_path: Path, fake, capsys,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Errors that can only show once calls are made (here: scoring) leave a run dir that says `failed`."""
    from evalkit.errors import DataError
    from evalkit.tasks.classification import ClassificationTask

    def broken(*args: object, **kwargs: object) -> None:
        raise DataError("scores: something only the outputs could reveal")

    monkeypatch.setattr(ClassificationTask, "summarize", broken)
    monkeypatch.setenv(KEY_ENV, "sk-bad-input-0000")
    write_project(tmp_path, fake.url, n=6)
    assert main(run_args(tmp_path)) == 2
    assert capsys.readouterr().err.strip().splitlines() == ["error: scores: something only the outputs could reveal"]
    (run_dir,) = (tmp_path / "reports").iterdir()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed" and info["finished_at"]
    assert not (run_dir / "report.html").exists()
    assert "did not reach scoring" in user_error(["report", str(run_dir)], capsys)  # not a finished run
