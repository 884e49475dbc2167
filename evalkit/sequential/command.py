"""The `evalkit plan` command: how many paired items a comparison needs, from stated assumptions or from a
pilot run's stored per-sample scores (wired in evalkit.cli)."""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evalkit.errors import ConfigError, DataError

__all__ = ["add_parser", "cmd_plan"]

DEFAULT_BINARY_DELTAS = (0.02, 0.05, 0.10, 0.20)
DEFAULT_EFFECT_SIZES = (0.1, 0.2, 0.5, 0.8)
"""Continuous scores without --delta: differences of these many standard deviations of the differences."""

_METRIC = re.compile(r"[A-Za-z_][\w.-]*")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`evalkit plan [RUN_DIR] [--discordance P | --sd S] [--delta D,...] [--power P] [--alpha A] [--n N]`."""
    p = sub.add_parser("plan", help="items a paired comparison needs to detect a difference (fixed-n power), and "
                                    "the smallest difference a run's n can detect",
                       description="Sample size and minimum detectable difference of a paired comparison at the "
                                   "fixed-n two-sided test: McNemar for 0/1 outcomes (from a discordance rate), "
                                   "the paired t-test for scores (from the SD of the differences). Give stated "
                                   "assumptions, or a pilot run directory to estimate them from its stored "
                                   "per-sample scores. See docs/sequential.md.")
    p.add_argument("run_dir", type=Path, nargs="?", metavar="RUN_DIR",
                   help="a finished run (pilot): each model is compared with the run's reference")
    p.add_argument("--metric", help="name shown for the metric (default: accuracy for 0/1 outcomes, score otherwise)")
    p.add_argument("--discordance", metavar="P",
                   help="share of items on which the two models disagree (0/1 outcomes), in (0, 1]")
    p.add_argument("--sd", metavar="S", help="standard deviation of the per-item differences (scores), > 0")
    p.add_argument("--delta", metavar="D[,D...]",
                   help="differences to detect, comma-separated (default: 0.02,0.05,0.1,0.2 for 0/1 outcomes; "
                        "0.1, 0.2, 0.5 and 0.8 SD for scores)")
    p.add_argument("--power", default="0.8", help="power 1 - beta, in (0, 1) (default 0.8)")
    p.add_argument("--alpha", default="0.05", help="two-sided level, in (0, 1) (default 0.05)")
    p.add_argument("--n", metavar="N", help="items for the minimum detectable difference (default: the run's n)")
    p.add_argument("--reference", help="with RUN_DIR: the model the others are compared with (default: the run's)")


def _number(option: str, text: str | None, *, low: float, high: float | None, closed_high: bool = False,
            allowed: str) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{option}: expected {allowed}, got {text!r}") from None
    within = value > low and (high is None or (value <= high if closed_high else value < high))
    if not math.isfinite(value) or not within:
        raise ConfigError(f"{option}: expected {allowed}, got {text!r}")
    return value


def _count(option: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{option}: expected a whole number >= 2, got {text!r}") from None
    if value < 2:
        raise ConfigError(f"{option}: expected a whole number >= 2, got {text!r}")
    return value


def _deltas(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    parts = [t.strip() for t in text.split(",")]
    out = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise ConfigError(f"--delta: expected non-zero numbers separated by commas (e.g. 0.05,0.1), got "
                              f"{text!r}") from None
        if value == 0 or not math.isfinite(value):
            raise ConfigError(f"--delta: expected non-zero numbers separated by commas (e.g. 0.05,0.1), got "
                              f"{text!r}")
        out.append(abs(value))
    return tuple(out)


def _binary_table(title: str, discordance: float, deltas: tuple[float, ...], power: float, alpha: float,
                  n: int | None) -> tuple[str, Table, str]:
    from evalkit.sequential._planner import mcnemar_mdd, mcnemar_sample_size

    table = Table()
    table.add_column("difference to detect", justify="right")
    table.add_column("items needed", justify="right")
    for d in deltas:
        items = (f"{mcnemar_sample_size(discordance, d, power, alpha)}" if d <= discordance
                 else f"impossible (> discordance {discordance:.3g})")
        table.add_row(f"{d:+.3g} ({d * 100:.3g} points)", items)
    if n is None:
        return title, table, ""
    mdd = mcnemar_mdd(n, discordance, power, alpha)
    line = (f"At n = {n}: the smallest difference detectable with power {power:g} is "
            + (f"{mdd:.3g} ({mdd * 100:.3g} points)." if mdd is not None
               else f"none (even every disagreement going one way, {discordance:.3g}, falls short)."))
    return title, table, line


def _continuous_table(title: str, sd: float, deltas: tuple[float, ...] | None, power: float, alpha: float,
                      n: int | None) -> tuple[str, Table, str]:
    from evalkit.sequential._planner import paired_t_mdd, paired_t_sample_size

    table = Table()
    table.add_column("difference to detect", justify="right")
    table.add_column("in SD of differences", justify="right")
    table.add_column("items needed", justify="right")
    for d in deltas if deltas is not None else tuple(e * sd for e in DEFAULT_EFFECT_SIZES):
        table.add_row(f"{d:+.3g}", f"{d / sd:.3g}", str(paired_t_sample_size(sd, d, power, alpha)))
    if n is None:
        return title, table, ""
    mdd = paired_t_mdd(n, sd, power, alpha)
    return title, table, f"At n = {n}: the smallest difference detectable with power {power:g} is {mdd:.3g}."


def _run_plans(args: argparse.Namespace, discordance: float | None, sd: float | None, deltas, power: float,
               alpha: float, n_opt: int | None) -> list[tuple[str, Table, str]]:
    from evalkit.sequential._pilot import pilot_estimates
    from evalkit.store import RunStore

    store = RunStore(args.run_dir)
    info = store.read_info()
    models = [m["name"] if isinstance(m, dict) and "name" in m else str(m) for m in info.models]
    reference = args.reference or info.reference
    if reference not in models:
        raise ConfigError(f"--reference: {reference!r} is not a model of {args.run_dir} (models: {', '.join(models)})")
    estimates = pilot_estimates(store.read_results(), models, reference)
    if not estimates:
        raise DataError(f"{args.run_dir}: the run has only the model {reference!r}; a plan needs a comparison")
    out = []
    for e in estimates:
        metric = args.metric or ("accuracy" if e.kind == "binary" else "score")
        n = n_opt if n_opt is not None else e.n
        head = (f"{e.model} - {e.reference} on {metric}, pilot {args.run_dir.name}: n = {e.n}"
                + (f" ({e.missing} without a score, left out)" if e.missing else "")
                + f", observed difference {e.delta:+.3g}")
        if e.n < 2:
            raise DataError(f"{args.run_dir}: {e.model} and {e.reference} have {e.n} paired scores; a pilot needs "
                            "at least 2")
        if e.kind == "binary" and sd is None:
            psi = discordance if discordance is not None else e.discordance
            if not psi:
                raise DataError(f"{args.run_dir}: {e.model} and {e.reference} agree on all {e.n} items, so the "
                                "pilot gives no discordance to plan from; state one with --discordance")
            source = "stated" if discordance is not None else "pilot"
            title = f"{head}\nMcNemar, two-sided, alpha {alpha:g}, power {power:g}, discordance {psi:.3g} ({source})"
            out.append(_binary_table(title, psi, deltas or DEFAULT_BINARY_DELTAS, power, alpha, n))
        else:
            s = sd if sd is not None else e.sd
            if not s:
                raise DataError(f"{args.run_dir}: the differences {e.model} - {e.reference} are all equal, so the "
                                "pilot gives no SD to plan from; state one with --sd")
            source = "stated" if sd is not None else "pilot"
            title = (f"{head}\npaired t-test, two-sided, alpha {alpha:g}, power {power:g}, "
                     f"SD of differences {s:.3g} ({source})")
            out.append(_continuous_table(title, s, deltas, power, alpha, n))
    return out


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    """`evalkit plan`: the tables go to stdout, they are the command's output."""
    power = _number("--power", args.power, low=0, high=1, allowed="a number in (0, 1), e.g. 0.8")
    alpha = _number("--alpha", args.alpha, low=0, high=1, allowed="a number in (0, 1), e.g. 0.05")
    discordance = _number("--discordance", args.discordance, low=0, high=1, closed_high=True,
                          allowed="a share of items in (0, 1], e.g. 0.2")
    sd = _number("--sd", args.sd, low=0, high=None, allowed="a positive number, e.g. 0.8")
    deltas = _deltas(args.delta)
    n = _count("--n", args.n)
    if args.metric is not None and not _METRIC.fullmatch(args.metric):
        raise ConfigError(f"--metric: expected a metric name such as accuracy or legal_quality_score, got "
                          f"{args.metric!r}")
    if discordance is not None and sd is not None:
        raise ConfigError("--discordance and --sd: give one (--discordance for 0/1 outcomes, --sd for scores)")
    if args.run_dir is None and args.reference is not None:
        raise ConfigError("--reference: only applies with RUN_DIR")
    if args.run_dir is not None:
        plans = _run_plans(args, discordance, sd, deltas, power, alpha, n)
    elif discordance is not None:
        metric = args.metric or "accuracy"
        title = (f"paired 0/1 outcomes on {metric}: McNemar, two-sided, alpha {alpha:g}, power {power:g}, "
                 f"discordance {discordance:.3g} (stated)")
        plans = [_binary_table(title, discordance, deltas or DEFAULT_BINARY_DELTAS, power, alpha, n)]
    elif sd is not None:
        metric = args.metric or "score"
        title = (f"paired scores on {metric}: paired t-test, two-sided, alpha {alpha:g}, power {power:g}, SD of "
                 f"differences {sd:.3g} (stated)")
        plans = [_continuous_table(title, sd, deltas, power, alpha, n)]
    else:
        raise ConfigError("evalkit plan: give a pilot RUN_DIR, or --discordance P (0/1 outcomes) or --sd S (scores)")
    # Headings go through plain print: they quote model names and paths, which rich would read as markup.
    out = Console(file=sys.stdout, width=max(100, console.width))
    for title, table, line in plans:
        print(title)
        out.print(table)
        if line:
            print(line)
    print("Fixed-n test sizes. A sequential run (--until-decided) may stop much earlier on a large difference "
          "and needs more items than these on a small one: see docs/sequential.md.")
    return 0
