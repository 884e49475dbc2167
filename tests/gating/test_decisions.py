"""How a comparison rule is decided from the CI of the paired difference, and when the run itself fails (3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalkit.gating._evaluate import _decide
from evalkit.gating._paired import Delta
from evalkit.gating import parse_rule


def delta(value: float, low: float | None, high: float | None, note: str = "") -> Delta:
    return Delta(value=value, ci_low=low, ci_high=high, n=100, method="test", note=note)


@pytest.mark.parametrize("rule, d, status", [
    # >= fails only when the whole CI is below the bound
    ("a.x >= b.x", delta(-0.02, -0.06, 0.02), "pass"),     # noise: straddles 0
    ("a.x >= b.x", delta(-0.10, -0.15, -0.05), "fail"),    # a real shortfall
    ("a.x - b.x >= 0.1", delta(0.05, -0.01, 0.11), "pass"),  # the CI reaches the bound
    ("a.x - b.x >= 0.1", delta(0.05, 0.01, 0.09), "fail"),
    # <= mirrors it
    ("a.x <= b.x", delta(0.02, -0.01, 0.05), "pass"),
    ("a.x <= b.x", delta(0.2, 0.1, 0.3), "fail"),
    # > and < need the whole CI beyond the bound
    ("a.x > b.x", delta(0.05, -0.01, 0.11), "fail"),
    ("a.x > b.x", delta(0.05, 0.01, 0.09), "pass"),
    ("a.x < b.x", delta(-0.05, -0.09, -0.01), "pass"),
    ("a.x < b.x", delta(-0.05, -0.09, 0.01), "fail"),
    # no CI: the point estimate decides
    ("a.x >= b.x", delta(-0.01, None, None, "too few items"), "fail"),
    ("a.x >= b.x", delta(0.0, None, None), "pass"),
])
def test_comparison_decisions(rule: str, d: Delta, status: str) -> None:
    got, reason = _decide(parse_rule(rule), d)
    assert got == status, reason
    if d.ci_low is None:
        assert "point estimate" in reason


def test_unknown_difference_is_an_error() -> None:
    status, reason = _decide(parse_rule("a.x >= b.x"), Delta(value=None, note="no paired successful calls"))
    assert status == "error" and "could not be computed" in reason


def test_an_incomplete_run_exits_3(tmp_path: Path, monkeypatch) -> None:
    from fakeserver import FakeLLMServer

    from evalkit.cli import main

    from .project import make_project, responder

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    with FakeLLMServer(responder=responder) as server:
        suite = make_project(tmp_path, server.url, n_items=20, gates="gates: [noisy.accuracy >= 0.5]")
        assert main(["run", str(suite), "--models", "noisy", "--quiet"]) == 0
    run_dir = next(p for p in (tmp_path / "reports").iterdir() if p.is_dir())  # not index.html
    assert main(["gate", str(run_dir)]) == 0
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    doc = json.loads((broken / "results.json").read_text())
    doc["run"]["status"] = "interrupted"
    (broken / "results.json").write_text(json.dumps(doc))
    assert main(["gate", str(broken)]) == 3
    assert "run status is 'interrupted'" in (broken / "gate-summary.md").read_text()
