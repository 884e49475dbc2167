"""Replay is exact, through the CLI: answers come from the predictions file as it is now, keyed by sample id,
never from the cache, another model, another file or another sample (issue: extension contracts)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from cli_errors import user_error

from evalkit.cli import main

SUITE = """
name: replayed
task: classification
task_args: {labels: [pos, neg], positive_label: pos}
data: {path: data.jsonl, fields: {id: id, input: text, target: label}}
prompts:
  default: {style: chat, template: "{{ input }}"}
"""


def project(root: Path, rows: list[tuple[str, str, str]], models: dict[str, str]) -> Path:
    """A classification suite over `rows` (id, text, label) and replay models reading `models` (name -> file)."""
    (root / "data.jsonl").write_text("".join(json.dumps({"id": i, "text": t, "label": lab}) + "\n"
                                             for i, t, lab in rows), encoding="utf-8")
    (root / "suite.yaml").write_text(SUITE, encoding="utf-8")
    # Both models share one model id: only their files differ.
    (root / "evalkit.toml").write_text("".join(f'[models.{name}]\nprovider = "replay"\nmodel = "shared-id"\n'
                                               f'path = "{path}"\n' for name, path in models.items()),
                                       encoding="utf-8")
    return root / "suite.yaml"


def predictions(root: Path, name: str, outputs: dict[str, str]) -> str:
    (root / name).write_text("".join(json.dumps({"id": i, "output": o}) + "\n" for i, o in outputs.items()),
                             encoding="utf-8")
    return name


def run(*args: str) -> dict:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == 0
    run_dir = Path(out.getvalue().strip().splitlines()[-1]).parent
    return json.loads((run_dir / "results.json").read_text())


def accuracy(doc: dict, model: str) -> float:
    return doc["models"][model]["metrics"]["accuracy"]["value"]


ROWS = [("a", "is it?", "pos"), ("b", "is it not?", "neg"), ("c", "maybe", "pos")]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_two_replay_models_with_one_model_id_keep_their_own_files_on_a_rerun(root: Path) -> None:
    right = predictions(root, "right.jsonl", {"a": "pos", "b": "neg", "c": "pos"})
    wrong = predictions(root, "wrong.jsonl", {"a": "neg", "b": "pos", "c": "neg"})
    suite = project(root, ROWS, {"right": right, "wrong": wrong})
    for _ in range(2):  # the second run must not serve either model from the other's cached answers
        doc = run("run", str(suite), "--models", "right,wrong", "--quiet")
        assert (accuracy(doc, "right"), accuracy(doc, "wrong")) == (1.0, 0.0)


def test_a_rewritten_predictions_file_is_read_afresh(root: Path) -> None:
    predictions(root, "p.jsonl", {"a": "pos", "b": "neg", "c": "pos"})
    suite = project(root, ROWS, {"ext": "p.jsonl"})
    assert accuracy(run("run", str(suite), "--models", "ext", "--quiet"), "ext") == 1.0
    predictions(root, "p.jsonl", {"a": "neg", "b": "pos", "c": "pos"})
    assert accuracy(run("run", str(suite), "--models", "ext", "--quiet"), "ext") == pytest.approx(1 / 3)


def test_two_samples_with_the_same_input_get_their_own_predictions(root: Path) -> None:
    rows = [("a", "same question", "pos"), ("b", "same question", "neg")]
    predictions(root, "p.jsonl", {"a": "pos", "b": "neg"})
    suite = project(root, rows, {"ext": "p.jsonl"})
    for _ in range(2):
        assert accuracy(run("run", str(suite), "--models", "ext", "--quiet"), "ext") == 1.0


def test_ids_missing_from_the_file_are_a_data_error_before_any_work(root: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(f"s{i}", f"q{i}", "pos") for i in range(9)]
    predictions(root, "p.jsonl", {"s0": "pos", "s4": "pos"})
    suite = project(root, rows, {"ext": "p.jsonl"})
    line = user_error(["run", str(suite), "--models", "ext", "--quiet"], capsys)
    assert "p.jsonl" in line and "no prediction for 7 sample id(s)" in line
    assert "'s1', 's2', 's3', 's5', 's6' and 2 more" in line
    assert not (root / "reports").exists()  # nothing started: no run directory
