"""summary.md: the headline table, comparisons and failed calls, with untrusted text escaped."""

from __future__ import annotations

from report_fixtures import XSS_ALL, make_run

from evalkit.report import render_markdown
from evalkit.report.markdown import md


def _table_rows(text: str, header_start: str) -> list[str]:
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[i:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def _cells(row: str) -> list[str]:
    """Split a table row on unescaped pipes, as GitHub does."""
    cells, cur, prev = [], "", ""
    for ch in row.strip()[1:-1]:
        if ch == "|" and prev != "\\":
            cells.append(cur)
            cur = ""
        else:
            cur += ch
        prev = ch
    return [*cells, cur]


def test_md_escapes_pipes_newlines_and_markup() -> None:
    assert md("a|b\nc") == "a\\|b c"
    assert "<" not in md(XSS_ALL) and "\n" not in md("x\r\ny")
    assert md("[x](javascript:alert(1))").startswith("\\[x\\]")


def test_headline_table_has_every_model_and_deltas(run3) -> None:
    text = render_markdown(run3)
    rows = _table_rows(text, "| metric |")
    assert _cells(rows[0])[1:] == [" base (reference) ", " ft ", " ft-lr1e-5 "]
    accuracy = _cells(next(r for r in rows if r.startswith("| accuracy")))
    assert len(accuracy) == 4
    assert "Δ" not in accuracy[1]
    assert "Δ +10.0 pp [+5.0 pp, +15.0 pp], p = 0.012, **significant** (better)" in accuracy[2]
    f1 = _cells(next(r for r in rows if r.startswith("| macro")))
    assert "**too few items**" in f1[2] and "**too few items**" in f1[3]


def test_every_table_row_keeps_its_column_count_with_hostile_names() -> None:
    text = render_markdown(make_run(hostile_model=f"ft {XSS_ALL} | x\ny"))
    assert "<script>" not in text and "<img" not in text
    for header in ("| metric |", "| model | metric |", "| model | calls |"):
        rows = _table_rows(text, header)
        assert len({len(_cells(r)) for r in rows}) == 1, header


def test_comparisons_calls_and_notes(run3) -> None:
    text = render_markdown(run3)
    calls = _table_rows(text, "| model | calls |")
    assert "| ft-lr1e-5 | 3 | 1 | 1 | 0 |" in calls
    assert "| ft | accuracy | base | +10.0 pp | [+5.0 pp, +15.0 pp] | 0.012 | mcnemar-exact | 3 | significant |" in text
    assert "- A note with &lt;img src=x onerror=alert(1)&gt; and a \\| pipe and a newline" in text


def test_banners_in_markdown() -> None:
    text = render_markdown(make_run(status="failed", offline_judge=True))
    assert "**Warning:** run status is `failed`" in text
    assert "pipeline demonstration, not a meaningful verdict" in text
