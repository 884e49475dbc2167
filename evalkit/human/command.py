"""`evalkit human export` and `evalkit human import`: the command-line side of evalkit.human."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

__all__ = ["add_parser", "cmd_human"]


def _models(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if len(names) != 2:
        raise argparse.ArgumentTypeError("expected two comma-separated model names, e.g. ft,base")
    return names


def _raters(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 50:
        raise argparse.ArgumentTypeError(f"expected 1 to 50 raters, got {value}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `human export` and `human import` on the main parser's subcommands."""
    human = sub.add_parser("human", help="blind human preference studies: export a packet, import verdicts")
    hsub = human.add_subparsers(dest="human_command", required=True)
    exp = hsub.add_parser("export", help="write a blind packet (offline HTML + CSV per rater); the key stays in "
                                         "the run directory")
    exp.add_argument("run_dir", type=Path)
    exp.add_argument("--task", required=True, help="study task: translation, preference, tone, or a YAML file")
    exp.add_argument("--raters", type=_raters, default=1, help="raters, each with their own file and order (default 1)")
    exp.add_argument("--seed", type=int, default=0, help="seed of the left/right and item order (default 0)")
    exp.add_argument("--models", type=_models, help="the two models compared, e.g. ft,base (default: the first "
                                                    "non-reference model and the reference)")
    exp.add_argument("--out", type=Path, help="folder for the packet files (default: RUN_DIR/human-packets/<id>)")
    imp = hsub.add_parser("import", help="unblind and store verdict files (JSON or CSV), then update the report")
    imp.add_argument("run_dir", type=Path)
    imp.add_argument("files", type=Path, nargs="+", help="verdict files downloaded from the packet, or filled CSVs")


def _export(args: argparse.Namespace, console: Console) -> int:
    from evalkit.human import export_packet

    res = export_packet(args.run_dir, args.task, raters=args.raters, seed=args.seed, models=args.models,
                        out_dir=args.out)
    k = res.key
    n = len(k.raters[0].items)
    console.print(f"Packet {k.packet_id}{' (already exported: same key, files rewritten)' if res.reused else ''}: "
                  f"{n} items, {len(k.raters)} rater(s), {k.model_a} vs {k.model_b}"
                  + (f"; {len(k.excluded)} sample(s) left out (no output from both models)" if k.excluded else ""))
    console.print(f"Send these files (they name no model): {res.files[0].parent}")
    console.print(f"Keep private (the unblinding key): {res.key_path}")
    for f in res.files:
        print(f)
    return 0


def print_summary(summary, console: Console) -> None:
    """The case-study table of every packet, on the console."""
    from evalkit.human._report import result_columns, result_rows

    for p in summary.packets:
        table = Table(title=f"{p.model_a} vs {p.model_b} · packet {p.packet_id} · task {p.task}")
        for col in result_columns(p):
            table.add_column(col)
        for row in result_rows(p):
            table.add_row(*row)
        console.print(table)
        if p.agreement is not None and p.agreement.value is not None:
            console.print(f"Inter-rater agreement: {p.agreement.method} = {p.agreement.value:.3f} on "
                          f"{p.agreement.n_items} items")
        if p.judge_agreement is not None:
            j = p.judge_agreement
            wt = "—" if j.with_ties is None else f"{j.with_ties:.0%}"
            console.print(f"LLM judge (proxy) vs human ({j.human}): agreement {wt} on {j.n} items")


def _import(args: argparse.Namespace, console: Console) -> int:
    from evalkit.human import import_verdicts, report_sections
    from evalkit.report import write_report
    from evalkit.store import RunStore

    res = import_verdicts(args.run_dir, args.files)
    for rec in res.imported:
        console.print(f"Imported {rec.file}: {len(rec.verdicts)} verdict(s) of rater {rec.rater}, packet "
                      f"{rec.packet_id}")
    for path in res.skipped:
        console.print(f"Skipped {path}: already imported (same content)")
    print_summary(res.summary, console)
    write_report(RunStore(args.run_dir).read_run(), args.run_dir, report_sections(args.run_dir))
    print(Path(args.run_dir) / "report.html")
    return 0


def cmd_human(args: argparse.Namespace, console: Console) -> int:
    """Dispatch `evalkit human export|import`."""
    return {"export": _export, "import": _import}[args.human_command](args, console)
