"""summary.md: the headline results in GitHub-flavoured Markdown, for CI logs and pull-request comments.

All text from the run is untrusted: `md()` escapes Markdown and HTML syntax and keeps each value on one
line, so a model name or note can neither break a table nor inject markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from evalkit.records import RunResult
from evalkit.report._data import ReportData, report_data
from evalkit.report._format import MISSING, fmt_ci, fmt_delta, fmt_p, metric_kind
from evalkit.report._headline import Cell, build_headline, verdict
from evalkit.report._metrics import metrics_by_model
from evalkit.report._sections import ReportSection
from evalkit.report._sequential import sequential_view

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")
_NUMBER = re.compile(r"[0-9a-z .,%$+\-\[\]—<=()]*")
_ARROWS = {1: "▲", -1: "▼", 0: "■"}
_DIRECTION = {"better": " (better)", "worse": " (worse)", "neutral": ""}


def md(text: object) -> str:
    """`text` safe inside a Markdown table cell or list item: escaped, on one line."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return " ".join(s.split())


def num(text: str) -> str:
    """A number formatted by evalkit: kept readable (brackets unescaped) unless it carries other text."""
    return text.replace("<", "&lt;") if _NUMBER.fullmatch(text) else md(text)


def render_markdown(run: RunResult, sections: Sequence[ReportSection] = (), data: ReportData | None = None) -> str:
    """summary.md for `run`: run facts, headline table, comparisons, failed calls, notes, extra sections."""
    info = run.info
    data = data if data is not None else report_data(run)
    headline = build_headline(run, models=data.models)
    lines = [f"# {md(info.suite)} · {md(info.task)}", ""]
    if info.offline_judge:
        lines += ["> **Offline judge:** judge is the embedded local model: a pipeline demonstration, "
                  "not a meaningful verdict.", ""]
    if info.status != "complete":
        lines += [f"> **Warning:** run status is `{md(info.status)}`; results cover only the samples that "
                  "finished.", ""]
    lines += [f"Run `{md(info.run_id)}` · status {md(info.status)} · started {md(info.started_at)} · "
              f"seed {info.seed} · {data.n_items} samples · reference model **{md(info.reference)}**", ""]

    lines += ["## Results", "", "| metric | " + " | ".join(
        md(m) + (" (reference)" if m == headline.reference else "") for m in headline.models) + " |",
              "|---|" + "---|" * len(headline.models)]
    for row in headline.rows:
        arrow = "" if row.higher_is_better is None else (" ↑" if row.higher_is_better else " ↓")
        lines.append(f"| {md(row.metric)}{arrow} | " + " | ".join(_cell(c) for c in row.cells) + " |")
    lines += ["", "↑ higher is better, ↓ lower is better. Cells: value [95% CI]; "
              "Δ vs the reference [95% CI], p-value and verdict.", ""]

    lines += _comparisons(run, data.models)
    calls = data.calls
    lines += ["## Calls", "", "| model | calls | failed | cached | retries |", "|---|---|---|---|---|"]
    lines += [f"| {md(m)} | {c.total} | {c.failed} | {c.cached} | {c.retries} |" for m, c in calls.items()]
    lines.append("")
    seq = sequential_view(run.sequential, data)
    if seq is not None:
        lines += ["## Stopped when decided", "", md(seq.summary), ""]
        lines += [f"- {md(c.key)}: **{md(c.decision)}**, {md(c.decided_at)}; last {md(c.interval)}"
                  for c in seq.comparisons] + [""]
    if run.summary.notes:
        lines += ["## Notes", ""] + [f"- {md(n)}" for n in run.summary.notes] + [""]
    for sec in sections:
        lines += _section(sec)
    return "\n".join(lines)


def _section(sec: ReportSection) -> list[str]:
    """An extra section: title, intro, tables (cells escaped) and notes."""
    from evalkit.report._format import fmt_cell

    lines = [f"## {md(sec.title)}", ""] + ([md(sec.intro), ""] if sec.intro else [])
    for t in sec.tables:
        lines += [f"**{md(t.title)}**", "", "| " + " | ".join(md(c) for c in t.columns) + " |",
                  "|" + "---|" * len(t.columns)]
        lines += ["| " + " | ".join(md(fmt_cell(v)) for v in row) + " |" for row in t.rows]
        lines.append("")
    lines += [f"- {md(n)}" for n in sec.notes] + ([""] if sec.notes else [])
    return lines


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return MISSING
    text = num(cell.value) + (f" {num(cell.ci)}" if cell.ci else "")
    d = cell.delta
    if d is not None:
        text += (f"<br>{_ARROWS[d.sign]} Δ {num(d.delta)}" + (f" {num(d.ci)}" if d.ci else "")
                 + f", {num(d.p)}, **{d.verdict}**{_DIRECTION[d.direction]}")
    return text


def _comparisons(run: RunResult, models: Sequence[str]) -> list[str]:
    if not run.summary.comparisons:
        return []
    metrics = metrics_by_model(run, models)
    lines = ["## Comparisons", "", "| model | metric | reference | Δ | 95% CI | p | test | n | verdict | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in run.summary.comparisons:
        kind = metric_kind(c.metric, [per[c.metric] for per in metrics.values() if c.metric in per])
        lines.append(f"| {md(c.model)} | {md(c.metric)} | {md(c.reference)} | {num(fmt_delta(kind, c.delta))} | "
                     f"{num(fmt_ci(kind, c.ci_low, c.ci_high, signed=True)) or MISSING} | {num(fmt_p(c.p_value))} | "
                     f"{md(c.test) or MISSING} | {c.n} | {verdict(c)} | {md(c.note)} |")
    return lines + [""]
