"""A gate's findings as console text, Markdown (also appended to $GITHUB_STEP_SUMMARY) and JUnit XML.

Names and notes come from run files and are untrusted: Markdown escapes them (evalkit.report.markdown.md)
and the XML writer escapes every attribute and text node.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

from evalkit.gating._evaluate import POLICY, GateReport, RuleOutcome
from evalkit.report.markdown import md

__all__ = ["GateFiles", "render_junit", "render_markdown", "render_text", "write_gate_files"]

_ICON = {"pass": "✅", "fail": "❌", "error": "❌"}
_WORD = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}


def _counts(report: GateReport) -> str:
    n = len(report.outcomes)
    return f"{n - report.n_failed} of {n} rule(s) passed"


def render_text(report: GateReport) -> str:
    """Plain text for a terminal or a CI log."""
    head = f"evalkit gate: {report.verdict} ({_counts(report)}) · run {report.run_id} · suite {report.suite}"
    if report.baseline_run_id:
        head += f" · baseline {report.baseline_run_id}"
    lines = [head, ""]
    for o in report.outcomes:
        lines.append(f"  {_WORD[o.status]:<5} {o.rule}")
        lines.append(f"        {o.measured}")
        lines.append(f"        {o.reason}")
    fc = report.failed_calls
    lines += ["", f"Failed calls ({fc.allowance()}): " +
              ", ".join(f"{m} {f}/{t}" for m, (f, t) in fc.counts.items())]
    lines += [f"  EXCEEDED: {e}" for e in fc.exceeded]
    lines += [f"Note: {n}" for n in report.notes]
    lines += ["", POLICY, f"Exit code {report.exit_code}."]
    return "\n".join(lines) + "\n"


def render_markdown(report: GateReport) -> str:
    """A Markdown summary for $GITHUB_STEP_SUMMARY or a pull-request comment."""
    icon = "✅" if report.exit_code == 0 else "❌"
    lines = [f"## {icon} evalkit gate {report.verdict}: {md(report.suite)}", "",
             f"{_counts(report)} · run `{md(report.run_id)}` · reference **{md(report.reference)}**"
             + (f" · baseline `{md(report.baseline_run_id)}`" if report.baseline_run_id else ""), "",
             "| | rule | measured | why |", "|---|---|---|---|"]
    for o in report.outcomes:
        lines.append(f"| {_ICON[o.status]} | `{_code(o.rule)}` | {md(o.measured)} | {md(o.reason)} |")
    fc = report.failed_calls
    lines += ["", f"**Failed calls** ({md(fc.allowance())}): " +
              ", ".join(f"{md(m)} {f}/{t}" for m, (f, t) in fc.counts.items())]
    lines += [f"- ❌ {md(e)}" for e in fc.exceeded]
    lines += [""] + [f"> Note: {md(n)}" for n in report.notes]
    lines += [f"> {POLICY}", ""]  # our own text: its backticks are meant as Markdown
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    """Rule text inside backticks: no backtick or pipe can end the span or the cell, no line break."""
    return " ".join(text.replace("`", "'").replace("|", "\\|").split())


def _case_message(o: RuleOutcome) -> str:
    return f"{o.rule}: {o.reason}. Measured: {o.measured}"


def render_junit(report: GateReport) -> str:
    """JUnit XML: one test case per rule (failure message names the rule and the measured values), plus one
    for the failed-calls allowance."""
    suite = ET.Element("testsuite", name=f"evalkit gate: {report.suite}", tests=str(len(report.outcomes) + 1),
                       failures=str(sum(o.status == "fail" for o in report.outcomes) + (not report.failed_calls.ok)),
                       errors=str(sum(o.status == "error" for o in report.outcomes)), skipped="0")
    props = ET.SubElement(suite, "properties")
    for k, v in (("run_id", report.run_id), ("run_dir", str(report.run_dir)), ("reference", report.reference),
                 ("baseline_run_id", report.baseline_run_id or ""), ("exit_code", str(report.exit_code))):
        ET.SubElement(props, "property", name=k, value=v)
    classname = f"evalkit.gate.{report.suite}"
    for o in report.outcomes:
        case = ET.SubElement(suite, "testcase", classname=classname, name=o.rule)
        if o.status != "pass":
            el = ET.SubElement(case, "failure" if o.status == "fail" else "error", message=_case_message(o),
                               type="GateRuleFailed" if o.status == "fail" else "GateRuleUnverifiable")
            el.text = f"{_case_message(o)}\nSource: {o.source}\n{POLICY}"
        out = ET.SubElement(case, "system-out")
        out.text = f"{o.measured}\n{o.reason}"
    fc = report.failed_calls
    case = ET.SubElement(suite, "testcase", classname=classname, name=f"failed calls: {fc.allowance()}")
    if not fc.ok:
        el = ET.SubElement(case, "failure", message="; ".join(fc.exceeded), type="RunFailures")
        el.text = "\n".join(fc.exceeded)
    root = ET.Element("testsuites", name="evalkit gate", tests=suite.get("tests", "0"),
                      failures=suite.get("failures", "0"), errors=suite.get("errors", "0"))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


@dataclass(frozen=True)
class GateFiles:
    """Where a gate wrote its outputs."""

    junit: Path
    markdown: Path
    json: Path
    step_summary: Path | None
    """$GITHUB_STEP_SUMMARY when it was set (the Markdown was appended there)."""


def write_gate_files(report: GateReport, junit: Path | None = None, markdown: Path | None = None) -> GateFiles:
    """Write gate-junit.xml, gate-summary.md and gate.json (default: into the run directory) and append the
    Markdown to $GITHUB_STEP_SUMMARY when that variable is set."""
    from evalkit.report._write import write_atomic

    junit = junit or report.run_dir / "gate-junit.xml"
    markdown = markdown or report.run_dir / "gate-summary.md"
    doc_path = report.run_dir / "gate.json"
    text = render_markdown(report)
    for path, content in ((junit, render_junit(report)), (markdown, text),
                          (doc_path, json.dumps(_document(report), indent=2, allow_nan=False) + "\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, content)
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    step_path = Path(step) if step else None
    if step_path is not None:
        with step_path.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return GateFiles(junit=junit, markdown=markdown, json=doc_path, step_summary=step_path)


def _document(report: GateReport) -> dict:
    fc = report.failed_calls
    return {"exit_code": report.exit_code, "verdict": report.verdict, "run_id": report.run_id,
            "run_dir": str(report.run_dir), "suite": report.suite, "reference": report.reference,
            "baseline_run_id": report.baseline_run_id, "policy": POLICY, "notes": list(report.notes),
            "rules": [asdict(o) for o in report.outcomes],
            "failed_calls": {"counts": {m: {"failed": f, "total": t} for m, (f, t) in fc.counts.items()},
                             "max_failed": fc.max_failed, "max_failed_rate": fc.max_failed_rate,
                             "run_status": fc.run_status, "exceeded": list(fc.exceeded)}}
