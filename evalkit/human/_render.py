"""A rater's packet files: one self-contained HTML page, and the same items as CSV for spreadsheet users.

The texts are model outputs and data set text, so untrusted: the page is rendered with Jinja2 autoescaping and
never marks anything safe, and a Content-Security-Policy (like the report's) allows only the page's own script
(by hash), so even a missed escape could neither run script nor reach the network. The CSV neutralises cells
that a spreadsheet would run as formulas.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import jinja2

from evalkit.human._records import PacketItem
from evalkit.human._tasks import StudyTask

__all__ = ["CSV_COLUMNS", "packet_csv", "packet_html", "safe_cell", "script_hash"]

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,  # everywhere, the script include too: data is never emitted unescaped
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

CSV_COLUMNS = ("packet_id", "run", "packet_sha256", "rater", "item", "verdict", "comment")
"""Columns a verdict CSV must have (the packet CSV adds the texts after them)."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def script_hash() -> str:
    """The CSP source (`'sha256-…'`) of the packet's inline script, exactly as the template emits it."""
    script = _ENV.get_template("packet.js").render()
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def packet_html(study: StudyTask, packet_id: str, run: str, rater: str, sha: str,
                items: Sequence[PacketItem]) -> str:
    """The blind packet page of one rater."""
    return _ENV.get_template("packet.html.j2").render(study=study, packet_id=packet_id, run=run, rater=rater,
                                                      packet_sha=sha, items=list(items), script_hash=script_hash())


def safe_cell(text: str) -> str:
    """`text` that a spreadsheet shows as text: a leading `'` before what it would run as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def packet_csv(study: StudyTask, packet_id: str, run: str, rater: str, sha: str,
               items: Sequence[PacketItem]) -> str:
    """The packet as CSV: one row per item, `verdict` (1, 2 or tie) and `comment` left for the rater."""
    extra = [study.source_label.lower(), f"{study.candidate_label.lower()}_1", f"{study.candidate_label.lower()}_2"]
    if study.show_reference:
        extra.append("reference")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([*CSV_COLUMNS, *extra])
    for it in items:
        texts = [it.source, it.candidate_1, it.candidate_2] + ([it.reference or ""] if study.show_reference else [])
        w.writerow([packet_id, run, sha, rater, it.item, "", "", *(safe_cell(t) for t in texts)])
    return out.getvalue()
