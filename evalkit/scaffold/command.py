"""`evalkit init --data FILE` (wired in evalkit.cli)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

__all__ = ["add_parser", "cmd_init"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`evalkit init --data FILE [--out PATH] [--name NAME] [--models A,B] [--force] [--*-column C]`."""
    p = sub.add_parser("init", help="draft a suite file from a fine-tuning file or a CSV/JSONL table",
                       description="Draft a commented suite file from your eval data: a fine-tuning file in "
                                   "Mistral's chat format (the last assistant message is the reference), or a CSV "
                                   "/ JSONL table with an input and a reference column. Skipped lines are listed "
                                   "with their reason; the task is picked from the references.")
    p.add_argument("--data", type=Path, required=True, metavar="FILE", help="the data file (.jsonl or .csv)")
    p.add_argument("--out", type=Path, help="suite file to write (default: benchmarks/NAME/suite.yaml)")
    p.add_argument("--name", help="suite name (default: the data file's name without _eval/_valid/_test)")
    p.add_argument("--models", default="base,ft", help="models in the printed run command (default: base,ft)")
    p.add_argument("--force", action="store_true", help="replace an existing suite file")
    p.add_argument("--input-column", help="table column holding the input (default: input, prompt, question, ...)")
    p.add_argument("--reference-column", help="table column holding the reference (default: reference, target, "
                                              "answer, label, ...)")
    p.add_argument("--id-column", help="table column holding a unique id (default: id; else line numbers)")


def cmd_init(args: argparse.Namespace, console: Console) -> int:
    """`evalkit init`: skipped lines and the task choice on stderr; the suite path and the run command on
    stdout (the command last)."""
    from evalkit.scaffold._init import init_suite

    result = init_suite(args.data, out=args.out, name=args.name, models=args.models, force=args.force,
                        input_column=args.input_column, reference_column=args.reference_column,
                        id_column=args.id_column)
    p = result.profile
    for s in p.skipped:
        console.print(f"{p.path}: line {s.line}: {s.reason} (skipped)", markup=False, highlight=False)
    console.print(f"{p.path}: {p.n_lines} line(s), {len(p.samples)} usable, {len(p.skipped)} skipped. Task: "
                  f"{result.draft.choice.task} ({result.draft.choice.reason}).", markup=False, highlight=False)
    if result.data_copy is not None:
        console.print(f"The usable rows were copied to {result.data_copy} (the suite reads that file).",
                      markup=False, highlight=False)
    print(f"Wrote {result.suite_path}")
    print(result.command)
    return 0
