"""`evalkit init` through the real CLI entry point: output, and one-line errors (exit 2)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from cli_errors import user_error

from evalkit.cli import main

TONE_EVAL = Path(__file__).resolve().parents[2] / "benchmarks" / "tone" / "tone_eval.jsonl"


def test_init_through_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["init", "--data", str(TONE_EVAL), "--name", "tally"]) == 0
    assert out.getvalue().splitlines()[-1] == "evalkit run benchmarks/tally/suite.yaml --models base,ft"
    assert "line 37:" in capsys.readouterr().err
    assert "already exists" in user_error(["init", "--data", str(TONE_EVAL), "--name", "tally"], capsys)
    assert "file not found" in user_error(["init", "--data", "nope.jsonl"], capsys)
    (tmp_path / "t.csv").write_text("question,notes\nwhat?,x\n", encoding="utf-8")
    assert "no reference column" in user_error(["init", "--data", "t.csv"], capsys)
