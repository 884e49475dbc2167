"""The shared check of a user error through the CLI: exit code 2 and exactly one `error: ...` line on stderr."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from evalkit.cli import main

__all__ = ["user_error"]


def user_error(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run `evalkit argv`; assert it exits 2 with one non-empty stderr line starting `error: `; return that line."""
    capsys.readouterr()  # what earlier steps printed is not this command's output
    code = main(list(argv))
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, f"exit code {code}, stderr:\n{captured.err}"
    assert len(lines) == 1, f"expected exactly one error line, got {len(lines)}:\n{captured.err}"
    assert lines[0].startswith("error: ") and "Traceback" not in captured.err, captured.err
    return lines[0]
