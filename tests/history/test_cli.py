"""`evalkit runs` and `evalkit compare` through the real CLI entry point, and their one-line errors (exit 2)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from cli_errors import user_error

from evalkit.cli import main


def test_runs_and_compare_through_main(two_runs, legal_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["runs", str(two_runs.reports)]) == 0
        assert main(["compare", str(two_runs.a), str(two_runs.b), "--out", str(two_runs.reports / "cmp")]) == 0
    text = out.getvalue()
    assert two_runs.a.name in text and text.strip().splitlines()[-1] == str(two_runs.reports / "cmp" / "compare.html")
    assert "ft→ft: 30 paired, 3 changed (0 fixed, 3 broken)" in capsys.readouterr().err

    assert "run directory not found" in user_error(["compare", str(two_runs.a), "missing-run"], capsys)
    assert "metrics are not comparable" in user_error(["compare", str(two_runs.a), str(legal_run)], capsys)
    line = user_error(["compare", str(two_runs.a), str(two_runs.b), "--pair", "ft=ftt"], capsys)
    assert "unknown model 'ftt'" in line and "Did you mean: ft?" in line
    assert "folder not found" in user_error(["runs", "no-such-folder"], capsys)
