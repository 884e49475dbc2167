"""`evalkit runs [DIR]` and `evalkit compare RUN_A RUN_B` (wired in evalkit.cli).

The history modules (pandas, the tasks, the statistics) are imported when a command runs, not when the CLI
builds its parser.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalkit.errors import ConfigError

__all__ = ["add_parser", "cmd_compare", "cmd_runs"]

WIDTH = 80
"""`evalkit runs` prints a table that fits a classic terminal."""


def _pair(text: str) -> tuple[str, str]:
    a, sep, b = text.partition("=")
    if not sep or not a.strip() or not b.strip():
        raise argparse.ArgumentTypeError(f"expected MODEL_A=MODEL_B (a model of run A, one of run B), got {text!r}")
    return a.strip(), b.strip()


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`evalkit runs [DIR] [--metric M] [--html]` and `evalkit compare RUN_A RUN_B [--pair A=B] [--out DIR]`."""
    runs = sub.add_parser("runs", help="list the runs in a folder with their headline metric",
                          description="List the run directories below DIR (default: reports), newest first, with "
                                      "their suite, status and headline metric per model.")
    runs.add_argument("dir", nargs="?", type=Path, default=Path("reports"), help="folder of runs (default: reports)")
    runs.add_argument("--metric", help="headline metric (default: each run's first task metric)")
    runs.add_argument("--html", action="store_true", help="also write DIR/index.html linking every run")

    cmp = sub.add_parser("compare", help="compare two runs of a suite: paired deltas, changed items, config",
                         description="Compare run B with run A (e.g. this week's checkpoint with last week's): "
                                     "configuration differences, per-metric deltas B - A with paired CIs and tests "
                                     "on the items both runs share, and the items whose verdict changed. Writes "
                                     "compare.html, compare.md and compare.json.")
    cmp.add_argument("run_a", type=Path, help="the earlier (baseline) run directory")
    cmp.add_argument("run_b", type=Path, help="the later run directory")
    cmp.add_argument("--pair", type=_pair, action="append", metavar="MODEL_A=MODEL_B",
                     help="compare model MODEL_A of run A with MODEL_B of run B (repeatable; default: every model "
                          "name the runs share)")
    cmp.add_argument("--out", type=Path, help="output folder (default: RUN_B's folder/comparisons/B--vs--A)")
    cmp.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")


def _headline(entry) -> str:
    from evalkit.history._render import fmt

    lines = []
    for m in entry.models:
        cell = f"{escape(m.model)} {fmt(m.value)}"
        if m.delta is not None:
            cell += f" ({fmt(m.delta, True)}{'*' if m.significant else ''})"
        lines.append(cell)
    return "\n".join(lines)


def cmd_runs(args: argparse.Namespace, console: Console) -> int:
    """`evalkit runs`: the table on stdout (80 columns); with --html, the index path as the last line."""
    from evalkit.history._entries import list_runs
    from evalkit.history._write import write_index

    if not args.dir.is_dir():
        raise ConfigError(f"folder not found: {args.dir}")
    entries = list_runs(args.dir, args.metric)
    out = Console(file=sys.stdout, width=WIDTH, highlight=False)
    if not entries:
        out.print(f"No run directories in {escape(str(args.dir))}.")
    else:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_lines=False)
        table.add_column("run", overflow="fold", min_width=26)
        table.add_column("suite / metric", overflow="fold", max_width=18)
        table.add_column("status", no_wrap=True)
        table.add_column("per model (Δ)", overflow="fold")
        for e in entries:
            table.add_row(escape(e.run_id), f"{escape(e.suite)}\n{escape(e.metric or '—')}", e.status, _headline(e))
        out.print(table)
        out.print("Δ: difference from the run's reference model; * its 95% CI excludes zero.")
    if args.html:
        print(write_index(args.dir, args.metric))
    return 0


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    """`evalkit compare`: a short summary on stderr, the HTML page's path as the last line of stdout."""
    from evalkit.history._compare import compare_runs
    from evalkit.history._render import fmt
    from evalkit.history._write import write_comparison

    for p in (args.run_a, args.run_b):
        if not p.is_dir():
            raise ConfigError(f"run directory not found: {p}")
    cmp = compare_runs(args.run_a, args.run_b, args.pair, seed=args.seed)
    paths = write_comparison(cmp, args.out)
    differs = [f"{r.model + ' ' if r.model else ''}{r.field}" for r in cmp.config if r.differs]
    console.print(f"Differs: {escape(', '.join(differs)) if differs else 'nothing'}", highlight=False)
    for p in cmp.pairs:
        sig = [d for d in p.metrics if d.verdict == "significant"]
        shown = ", ".join(f"{escape(d.metric)} {fmt(d.delta, True)}" for d in sig[:4]) or "no significant delta"
        console.print(f"{escape(p.model_a)}→{escape(p.model_b)}: {p.n_paired} paired, {len(p.changed)} changed "
                      f"({p.count('fixed')} fixed, {p.count('broken')} broken); {shown}", highlight=False)
    print(paths.html)
    return 0
