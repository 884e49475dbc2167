"""The shipped CI example stays usable: valid YAML, and the flags it passes exist."""

from __future__ import annotations

from pathlib import Path

import yaml

from evalkit.cli import build_parser

WORKFLOW = Path(__file__).resolve().parents[2] / "docs" / "examples" / "github-actions-gate.yml"


def test_workflow_is_valid_and_uses_real_flags() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = doc["jobs"]["gate"]["steps"]
    command = next(s["run"] for s in steps if s.get("name") == "Run and gate")
    line = " ".join(command.replace("\\\n", " ").split("evalkit ", 1)[1].split())
    args = line.replace("$BASELINE", "--baseline baselines/release").split()
    parsed = build_parser().parse_args(args)
    assert parsed.gate and parsed.junit == Path("reports/gate-junit.xml")
    assert parsed.gate_summary == Path("reports/gate-summary.md")
