"""The `evalkit gate` command and the `--gate` options of `evalkit run` (wired in evalkit.cli)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

__all__ = ["add_gate_parser", "add_run_options", "cmd_gate", "gate_after_run", "prepare_run_gates"]

_EXIT_HELP = ("exit codes: 0 every rule holds, 1 a rule failed, 2 usage or config error, 3 too many failed calls "
              "or an incomplete run")


def add_gate_parser(sub: argparse._SubParsersAction) -> None:
    """`evalkit gate RUN_DIR [--baseline RUN_DIR] [--rules FILE]`."""
    gate = sub.add_parser("gate", help="check a finished run against CI gate rules (" + _EXIT_HELP + ")",
                          description="Check a finished run against gate rules. " + _EXIT_HELP + ".")
    gate.add_argument("run_dir", type=Path, help="the run directory to check")
    _common(gate)


def add_run_options(run: argparse.ArgumentParser) -> None:
    """`--gate`, `--baseline`, `--rules`, `--junit`, `--gate-summary` for `evalkit run`."""
    run.add_argument("--gate", action="store_true", help="check the finished run against the gate rules and exit "
                                                         "with the gate's code (" + _EXIT_HELP + ")")
    _common(run, for_run=True)


def _common(p: argparse.ArgumentParser, for_run: bool = False) -> None:
    p.add_argument("--baseline", type=Path, metavar="RUN_DIR",
                   help="an earlier run: no metric may get worse beyond tolerance (see docs/ci-gates.md)")
    p.add_argument("--rules", type=Path, metavar="FILE",
                   help="gate rules file (YAML, TOML or one rule per line); replaces the suite's and config's gates")
    p.add_argument("--junit", type=Path, metavar="PATH", help="JUnit XML output (default: RUN_DIR/gate-junit.xml)")
    p.add_argument("--gate-summary", type=Path, metavar="PATH",
                   help="Markdown summary output (default: RUN_DIR/gate-summary.md)")
    if not for_run:
        p.add_argument("--config", type=Path, help="project config (default: ./evalkit.toml when present)")


def prepare_run_gates(args: argparse.Namespace, suite) -> None:
    """Before `evalkit run --gate` calls any model: rules parse and name only models of `--models` (exit 2)."""
    from evalkit.errors import ConfigError
    from evalkit.gating import check_rule_models, load_gates

    gate_opts = [o for o, v in (("--baseline", args.baseline), ("--rules", args.rules), ("--junit", args.junit),
                                ("--gate-summary", args.gate_summary)) if v is not None]
    if not args.gate:
        if gate_opts:
            raise ConfigError(f"{', '.join(gate_opts)} only apply with --gate")
        return
    if args.baseline is not None and not (args.baseline / "results.json").is_file():
        raise ConfigError(f"--baseline: {args.baseline} is not a finished run directory (no results.json)")
    gates = load_gates(suite.gates, suite.path if suite.gates else None, args.config, args.rules)
    check_rule_models(gates, args.models, baseline=args.baseline is not None)


def _gate(run_dir: Path, args: argparse.Namespace, out) -> int:
    from evalkit.gating import render_text, run_gate
    from evalkit.gating._data import IncompleteRun
    from evalkit.gating._evaluate import EXIT_RUN_FAILURES

    try:
        report, files = run_gate(run_dir, baseline_dir=args.baseline, rules_file=args.rules,
                                 config_path=args.config, junit=args.junit, markdown=args.gate_summary)
    except IncompleteRun as exc:
        print(f"RUN FAILURES  {exc}", file=out)
        return EXIT_RUN_FAILURES
    print(render_text(report), file=out, end="")
    written = f"JUnit: {files.junit}\nSummary: {files.markdown}"
    if files.step_summary is not None:
        written += f"\nAppended to $GITHUB_STEP_SUMMARY ({files.step_summary})"
    print(written, file=out)
    return report.exit_code


def cmd_gate(args: argparse.Namespace, console: Console) -> int:
    """`evalkit gate`: the summary goes to stdout, it is the command's output."""
    return _gate(args.run_dir, args, sys.stdout)


def gate_after_run(args: argparse.Namespace, run_dir: Path) -> int:
    """`evalkit run --gate`: the summary goes to stderr, so stdout's last line stays the report's path."""
    return _gate(run_dir, args, sys.stderr)
