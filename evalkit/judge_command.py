"""The `evalkit judge` subcommands (the parser lives in evalkit/cli.py): `list` and `calibrate`.

The CLI edge of the evalkit.judging library: it reads the project config, human label files
(evalkit/label_files.py) and the default judge folders, and builds the candidate judges (model_pool).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from evalkit.errors import ConfigError, EvalkitError

__all__ = ["parse_vars", "run_judge_command"]


def parse_vars(items: list[str] | None) -> dict[str, str]:
    """`--var KEY=VALUE` options as a mapping; ConfigError on a malformed one."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--var: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def run_judge_command(args: argparse.Namespace, console: Console) -> int:
    """Dispatch `evalkit judge list|calibrate`; returns the exit code."""
    if args.judge_command == "list":
        return _list(console, args.verbose)
    if args.judge_command == "calibrate":
        return _calibrate(args, console)
    raise EvalkitError(f"unknown judge command {args.judge_command!r}")


def _list(console: Console, verbose: bool = False) -> int:
    from evalkit.judging._spec import available_judges, load_judge
    from evalkit.tasks.judged import judge_dirs

    # As `evalkit suites`/`models`: whole ids on one line each at 80 columns; the files with --verbose.
    table = Table(title="judges")
    for col in ("id", "version", "kind", "scores", "sha256"):
        table.add_column(col, no_wrap=True)
    if verbose:
        table.add_column("file", overflow="fold")
    for name, path in available_judges(judge_dirs()).items():
        try:
            s = load_judge(path)
            lo, hi = s.score_range
            table.add_row(s.id, s.version, s.kind, f"{lo:g}-{hi:g}", s.template_sha256[:12],
                          *([str(path)] if verbose else []))
        except EvalkitError as exc:
            table.add_row(name, "?", "?", "", f"[red]invalid: {exc}[/red]", *([str(path)] if verbose else []))
    console.print(table)
    if not verbose:
        console.print("Judge files: `evalkit judge list --verbose`.")
    return 0


def _calibrate(args: argparse.Namespace, console: Console) -> int:
    from evalkit.cache import ResponseCache
    from evalkit.config import load_config, resolve_models
    from evalkit.label_files import load_labels
    from evalkit.judging._render import judge_variables
    from evalkit.judging._spec import JudgeSpec
    from evalkit.judging.calibrate import (
        calibrate,
        calibration_document,
        judgments_lines,
        rank_candidates,
    )
    from evalkit.model_pool import build_models
    from evalkit.store import write_atomic
    from evalkit.tasks.judged import find_task_judge

    spec = find_task_judge(args.judge, where="evalkit judge calibrate")
    if not isinstance(spec, JudgeSpec) or spec.kind != "pairwise":
        raise ConfigError(f"evalkit judge calibrate: judge '{spec.id}' ({spec.path}) has kind '{spec.kind}'; "
                          f"calibration asks judge models about pairs and needs an LLM judge of kind 'pairwise'")
    variables = judge_variables(spec, parse_vars(args.var), where="--var")
    pairs = load_labels(args.labels)
    if args.limit is not None:
        pairs = pairs[: args.limit]
    config = load_config(args.config)
    specs = resolve_models(args.models, config)
    if args.concurrency is not None:
        specs = [s.model_copy(update={"concurrency": args.concurrency}) for s in specs]
    cache = None if args.no_cache else ResponseCache.in_dir(args.cache_dir)
    pool = build_models(specs, cache=cache, seed=args.seed)  # keys and files checked before any call
    judges = pool.models
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, disable=args.quiet)
    bars = {j.name: progress.add_task(j.name, total=len(pairs)) for j in judges}

    async def go() -> Any:
        try:
            await pool.warm_up()
            return await calibrate(spec, variables, pairs, judges, labels_path=args.labels,
                                   max_reasks=args.max_reasks, seed=args.seed,
                                   on_done=lambda name: progress.advance(bars[name]))
        finally:
            for problem in await pool.aclose():
                console.print(f"[yellow]{problem}[/yellow]")

    try:
        with progress:
            result = asyncio.run(go())
    finally:
        if cache is not None:
            cache.close()
    doc = calibration_document(result)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    stem = f"calibration-{re.sub(r'[^A-Za-z0-9_.-]+', '-', spec.id)}-{stamp}"
    out = args.out / f"{stem}.json"
    write_atomic(out, json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    write_atomic(args.out / f"{stem}.judgments.jsonl", "\n".join(judgments_lines(result)) + "\n")
    _print_table(console, result, rank_candidates(result), len(pairs))
    print(out)
    return 0


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _print_table(console: Console, result: Any, ranked: list[Any], n_pairs: int) -> None:
    humans = [p.human for p in result.pairs]
    table = Table(title=f"Judge calibration: {result.judge.label} on {n_pairs} labelled pairs "
                        f"(human: {humans.count('1')}x 1, {humans.count('2')}x 2, {humans.count('tie')}x tie)")
    for col in ("candidate", "model id", "valid pairs", "invalid", "accuracy (both orders)",
                "positional agreement", "agreement (with ties)", "agreement (without ties)", "Cohen's kappa",
                "flip rate", "position bias"):
        table.add_column(col, justify="left" if col in ("candidate", "model id") else "right")
    for c in ranked:
        a, s = c.agreement, c.stats
        table.add_row(c.model, c.model_id, str(a.n), str(a.n_invalid), _pct(c.accuracy),
                      _pct(c.positional_agreement), _pct(a.with_ties),
                      f"{_pct(a.without_ties)} (n={a.n_without_ties})",
                      "—" if a.kappa is None else f"{a.kappa:.3f}", _pct(s.flip_rate), _pct(s.position_bias))
    console.print(table)
    console.print("Each pair is judged in both orders. Accuracy and positional agreement are LLMBar's (accuracy "
                  "over both orders' verdicts; agreement: the same verdict in both orders; LLMBar Natural: GPT-4 "
                  "93.5% / 97%, ChatGPT 79.0% / 68%, random 50%). For the other columns a verdict that changes "
                  "with the order counts as a tie. Position bias: share of decisive single-order verdicts won by "
                  "the answer shown first (50% = none).")
