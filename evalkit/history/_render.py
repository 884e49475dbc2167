"""The run history as pages: the folder's index.html, and a comparison as HTML, Markdown and JSON.

Every text shown comes from run directories (model names, ids, dataset text, outputs): the HTML templates are
rendered with autoescaping and never mark data safe, and each page carries a Content-Security-Policy that
allows no script and no network access at all, so even a missed escape could run nothing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from evalkit.history._compare import RunComparison
from evalkit.history._entries import RunEntry
from evalkit.version import __version__

COMPARISON_SCHEMA_VERSION = "1"
MAX_CHANGED_SHOWN = 200
"""Changed items listed per model pair in HTML and Markdown (the JSON holds them all)."""

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def fmt(x: float | None, signed: bool = False) -> str:
    """A number for a table cell: three decimals below 10, two above, `—` when unknown."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    sign = "+" if signed else ""
    if x != 0 and abs(x) < 0.01:
        return f"{x:{sign}.2e}"
    if abs(x) >= 1000:
        return f"{x:{sign},.0f}"
    return f"{x:{sign}.2f}" if abs(x) >= 10 else f"{x:{sign}.3f}"


def fmt_ci(low: float | None, high: float | None, signed: bool = False) -> str:
    """`[low, high]`, or empty when no interval was computed."""
    if low is None or high is None:
        return ""
    return f"[{fmt(low, signed)}, {fmt(high, signed)}]"


def fmt_p(p: float | None) -> str:
    """A p-value, `<0.001` below that."""
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def href(target: Path, base: Path) -> str:
    """A relative, percent-encoded link from a page in `base` to `target`."""
    return quote(Path(os.path.relpath(target.resolve(), base.resolve())).as_posix())


_ENV.filters.update(fmt=fmt, fmt_ci=fmt_ci, fmt_p=fmt_p)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_index(entries: Sequence[RunEntry], root: Path, comparisons: Sequence[Path] = ()) -> str:
    """index.html of a folder of runs: every run with a link to its report and its headline numbers."""
    root = Path(root)
    rows = [{"entry": e, "report": href(e.path / "report.html", root) if (e.path / "report.html").is_file() else "",
             "started": e.started_at[:16].replace("T", " ")} for e in entries]
    pages = [{"href": href(p, root), "name": p.parent.name} for p in comparisons]
    return _ENV.get_template("index.html.j2").render(rows=rows, root=str(root), comparisons=pages,
                                                      generated=_now(), version=__version__)


def render_comparison_html(cmp: RunComparison, out_dir: Path) -> str:
    """The comparison page, with links to both runs' reports relative to `out_dir`."""
    links = {side: href(getattr(cmp, side).path / "report.html", out_dir) for side in ("a", "b")}
    return _ENV.get_template("compare.html.j2").render(cmp=cmp, links=links, limit=MAX_CHANGED_SHOWN,
                                                        generated=_now(), version=__version__)


def _md(text: object) -> str:
    """`text` safe in a Markdown table cell: HTML-escaped, pipes and backticks escaped, on one line."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("*", "\\*").replace("_", "\\_")
    return " ".join(s.split())


def _short(text: str | None, n: int = 120) -> str:
    if text is None:
        return "—"
    return text if len(text) <= n else text[: n - 1] + "…"


def render_comparison_markdown(cmp: RunComparison) -> str:
    """The comparison as Markdown (for a pull request or a CI summary)."""
    a, b = cmp.a, cmp.b
    out = [f"# {_md(b.run_id)} vs {_md(a.run_id)}", "",
           f"A: `{_md(a.run_id)}` ({_md(a.suite)}, {_md(a.status)}, started {_md(a.started_at)})  ",
           f"B: `{_md(b.run_id)}` ({_md(b.suite)}, {_md(b.status)}, started {_md(b.started_at)})", ""]
    out += [f"- {_md(n)}" for n in cmp.notes] + ([""] if cmp.notes else [])
    diffs = [r for r in cmp.config if r.differs]
    out += ["## What differs", ""]
    if diffs:
        out += ["| setting | model | A | B |", "|---|---|---|---|"]
        out += [f"| {_md(r.field)} | {_md(r.model)} | {_md(_short(r.a, 80))} | {_md(_short(r.b, 80))} |" for r in diffs]
    else:
        out.append("Nothing: same data, models, prompts, judge and settings.")
    for p in cmp.pairs:
        label = p.model_a if p.model_a == p.model_b else f"{p.model_a} (A) vs {p.model_b} (B)"
        out += ["", f"## {_md(label)}", "",
                (f"{p.n_paired} paired items; {p.count('fixed')} fixed, {p.count('broken')} broken, "
                f"{len(p.changed)} changed in all."), ""]
        out += [f"- {_md(n)}" for n in p.notes] + ([""] if p.notes else [])
        out += ["| metric | A | B | B − A | 95% CI | p | test | verdict |", "|---|---:|---:|---:|---|---:|---|---|"]
        for d in p.metrics:
            out.append(f"| {_md(d.metric)} | {fmt(d.a)} | {fmt(d.b)} | {fmt(d.delta, True)} | "
                       f"{fmt_ci(d.ci_low, d.ci_high, True)} | {fmt_p(d.p_value)} | {_md(d.test or d.method)} | "
                       f"{_md(d.verdict)} |")
        if p.changed:
            out += ["", "| item | change | input | target | A | B |", "|---|---|---|---|---|---|"]
            for c in p.changed[:MAX_CHANGED_SHOWN]:
                out.append(f"| {_md(c.sample_id)} | {c.change} | {_md(_short(c.input, 80))} | {_md(_short(c.target, 60))} | "
                           f"{_md(_short(c.output_a, 60))} | {_md(_short(c.output_b, 60))} |")
            if len(p.changed) > MAX_CHANGED_SHOWN:
                out.append(f"\n… and {len(p.changed) - MAX_CHANGED_SHOWN} more (compare.json lists them all).")
    return "\n".join(out) + "\n"


def _plain(x: Any) -> Any:
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def comparison_document(cmp: RunComparison) -> dict[str, Any]:
    """The comparison as plain JSON data (docs/run-history.md describes the fields)."""
    doc = _plain(dataclasses.asdict(cmp))
    for row, r in zip(doc["config"], cmp.config, strict=True):
        row["differs"] = r.differs
    for pair, p in zip(doc["pairs"], cmp.pairs, strict=True):
        pair["counts"] = {k: p.count(k) for k in ("fixed", "broken", "better", "worse", "changed")}
    return {"schema_version": COMPARISON_SCHEMA_VERSION, **doc}


def dumps(doc: dict[str, Any]) -> str:
    """JSON text of a comparison document (never NaN)."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
