"""The `evalkit` command line. Exit codes: 0 success, 1 a run failed (or a gate rule failed), 2 usage or config
error, 3 a gated run had more failed calls than allowed, 130 interrupted."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalkit import finetune_metrics
from evalkit.errors import EvalkitError
from evalkit.distributed import command as ray_command
from evalkit.gating import command as gate_command
from evalkit.history import command as history_command
from evalkit.human import command as human_command
from evalkit.scaffold import command as init_command
from evalkit.sequential import command as plan_command
from evalkit.trackers import command as log_command
from evalkit.user_errors import one_line
from evalkit.version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _models_arg(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated model names, e.g. base,ft")
    return names


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="evalkit", description="Evaluate fine-tuned models against their base.")
    parser.add_argument("--version", action="version", version=f"evalkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a suite on several models and write a comparison report")
    run.add_argument("suite", help="suite name (see `evalkit suites`) or path to a suite file")
    run.add_argument("--models", type=_models_arg, required=True, help="comma-separated model names, e.g. base,ft")
    run.add_argument("--config", type=Path, help="project config (default: ./evalkit.toml when present)")
    run.add_argument("--limit", type=_positive_int, help="use only the first N samples")
    run.add_argument("--concurrency", type=_positive_int, help="calls in flight per model (overrides config)")
    run.add_argument("--out", type=Path, default=Path("reports"), help="folder for run directories (default: reports)")
    run.add_argument("--no-cache", action="store_true", help="bypass the response cache (always call the models)")
    run.add_argument("--cache-dir", type=Path, help="response cache folder (default: $EVALKIT_CACHE_DIR or ~/.cache/evalkit)")
    run.add_argument("--seed", type=int, default=0, help="seed for sampling and bootstrap (default: 0)")
    run.add_argument("--reference", help="model the others are compared with (default: the first of --models)")
    run.add_argument("--judge", help="judge model for judge tasks (default: mistral-large with a key, else the "
                                     "embedded model)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--attempts", type=_positive_int, help="attempts per item, sampled when > 1 (default: the "
                                                             "suite's `attempts`, else 1)")
    run.add_argument("--until-decided", action="store_true",
                     help="draw items in a seeded random order and stop once every paired comparison is decided by "
                          "an anytime-valid confidence sequence (see docs/sequential.md)")
    run.add_argument("--look-every", type=_positive_int, metavar="N",
                     help="with --until-decided: items between two looks (default: 50)")
    run.add_argument("--margin", type=_positive_float, metavar="M",
                     help="with --until-decided: also decide 'no difference larger than M' (equivalence)")
    run.add_argument("--batch", action="store_true", help="answer the models whose provider has a batch API (mistral, "
                                                          "openai) through it (one job per model; failed lines are "
                                                          "retried synchronously)")
    run.add_argument("--data", action="append", metavar="[ID=]PATH",
                     help="read a local copy instead of a Hugging Face data set: ID=PATH for the data set ID "
                          "(e.g. cais/mmlu=medical_genetics_test.csv), or PATH for the suite's own data set; "
                          "repeatable; wins over the config's [data] table")
    gate_command.add_run_options(run)
    log_command.add_run_options(run)
    ray_command.add_run_options(run)
    gate_command.add_gate_parser(sub)
    finetune_metrics.add_parser(sub)
    human_command.add_parser(sub)
    history_command.add_parser(sub)
    log_command.add_parser(sub)
    plan_command.add_parser(sub)
    init_command.add_parser(sub)

    report = sub.add_parser("report", help="re-render a run's report from stored results (no model call)")
    report.add_argument("run_dir", type=Path)

    models = sub.add_parser("models", help="list the models that --models can name")
    models.add_argument("--config", type=Path)
    models.add_argument("--suite", help="include the models a suite defines (e.g. its demo adapter)")
    models.add_argument("--verbose", action="store_true", help="also adapters, descriptions and defining files")

    suites = sub.add_parser("suites", help="list the available suites")
    suites.add_argument("--verbose", action="store_true", help="full descriptions and the suite files")

    demo = sub.add_parser("demo", help="the offline demo's fine-tuned adapters")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True)
    train = demo_sub.add_parser("train", help="retrain a suite's demo LoRA adapter (needs the `train` extra)")
    train.add_argument("suite")
    train.add_argument("extra", nargs=argparse.REMAINDER, help="options passed to the trainer (see --help there)")

    judge = sub.add_parser("judge", help="LLM judges: list the judge files, calibrate judge models on human labels")
    judge_sub = judge.add_subparsers(dest="judge_command", required=True)
    judge_list = judge_sub.add_parser("list", help="list the judge files (id, version, kind, template sha256)")
    judge_list.add_argument("--verbose", action="store_true", help="also show each judge's file")
    cal = judge_sub.add_parser("calibrate", help="agreement of candidate judge models with human labels on pairs")
    cal.add_argument("judge", help="pairwise judge id (see `evalkit judge list`) or judge file path")
    cal.add_argument("labels", type=Path, help="CSV, JSONL or JSON array: question, answer_1, answer_2, label "
                                                "(1, 2 or tie); LLMBar's input/output_1/output_2 also work")
    cal.add_argument("--models", type=_models_arg, required=True, help="candidate judge models, comma-separated")
    cal.add_argument("--config", type=Path, help="project config (default: ./evalkit.toml when present)")
    cal.add_argument("--limit", type=_positive_int, help="use only the first N pairs")
    cal.add_argument("--concurrency", type=_positive_int, help="calls in flight per candidate (overrides config)")
    cal.add_argument("--max-reasks", type=int, choices=range(0, 6), default=2, metavar="N",
                     help="re-asks after an invalid judge answer (0-5, default 2)")
    cal.add_argument("--var", action="append", metavar="KEY=VALUE", help="a judge file variable (repeatable)")
    cal.add_argument("--out", type=Path, default=Path("reports"), help="folder for the JSON result (default: reports)")
    cal.add_argument("--no-cache", action="store_true", help="bypass the response cache")
    cal.add_argument("--cache-dir", type=Path, help="response cache folder (default: $EVALKIT_CACHE_DIR or ~/.cache/evalkit)")
    cal.add_argument("--seed", type=int, default=0)
    cal.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _cmd_run(args: argparse.Namespace, console: Console) -> int:
    from evalkit.api import UntilDecided, prepare_run, tuned_collector
    from evalkit.config import data_overrides, load_config
    from evalkit.errors import ConfigError
    from evalkit.runner import RunOptions
    from evalkit.sources.hub import apply_overrides
    from evalkit.suite import load_suite

    suite = load_suite(args.suite)
    config = load_config(args.config)
    suite = apply_overrides(suite, data_overrides(config, args.data))
    gate_command.prepare_run_gates(args, suite)
    trackers = log_command.prepare_run_log(args)
    from rich.markup import escape

    executor = ray_command.executor_for(args.ray, config.ray, where=str(config.path or "evalkit.toml"),
                                        notify=lambda line: console.print(f"[yellow]ray:[/yellow] {escape(line)}"))
    options = RunOptions(models=args.models, limit=args.limit, concurrency=args.concurrency, out_dir=args.out,
                         use_cache=not args.no_cache, cache_dir=args.cache_dir, seed=args.seed,
                         reference=args.reference, judge=args.judge, show_progress=not args.quiet,
                         attempts=args.attempts, batch=args.batch, executor=executor)
    sequential = [o for o, v in (("--look-every", args.look_every), ("--margin", args.margin)) if v is not None]
    if sequential and not args.until_decided:
        raise ConfigError(f"{', '.join(sequential)} only apply with --until-decided")
    until = UntilDecided(look_every=args.look_every or UntilDecided.look_every,
                         margin=args.margin) if args.until_decided else None
    runner = prepare_run(suite, config, options, until, console)
    try:
        with tuned_collector():
            outcome = asyncio.run(runner.run())
    except KeyboardInterrupt:
        runner.mark_interrupted()
        where = f" Partial results are in {runner.store.path}." if runner.store else ""
        resume = ("Every finished call is cached: run the same command again to resume without repeating them."
                  if options.use_cache else "Nothing was cached (--no-cache): running it again repeats every call.")
        console.print(f"[yellow]Interrupted.[/yellow]{where} {resume}")
        return EXIT_INTERRUPTED
    _print_headline(outcome.result, console)
    calls = ", ".join(f"{m}: {n} calls, {outcome.cache_hits[m]} cached" for m, n in outcome.calls.items())
    console.print(f"Model calls: {calls}")
    failed = sum(outcome.failed.values())
    if failed:
        console.print(f"[yellow]{failed} generation(s) failed after retries; they are listed in the report.[/yellow]")
    print(outcome.run_dir / "report.html")
    from evalkit.history import write_index

    write_index(options.out_dir)  # the folder's index.html links every run, this one included
    if trackers:
        log_command.log_after_run(trackers, outcome.run_dir)
    if args.gate:
        return gate_command.gate_after_run(args, outcome.run_dir)
    return EXIT_OK


def _print_headline(result, console: Console) -> None:
    summary = result.summary
    models = list(summary.metrics)
    table = Table(title=f"{result.info.suite} ({result.info.task})")
    table.add_column("metric")
    for m in models:
        table.add_column(m, justify="right")
    names: list[str] = []
    for m in models:
        for mv in summary.metrics[m]:
            if mv.name not in names:
                names.append(mv.name)
    by = {(m, mv.name): mv for m in models for mv in summary.metrics[m]}
    deltas = {(c.model, c.metric): c for c in summary.comparisons}
    for name in names:
        row = [name]
        for m in models:
            mv = by.get((m, name))
            cell = "—" if mv is None or mv.value is None else f"{mv.value:.4g}"
            comp = deltas.get((m, name))
            if comp is not None and comp.delta is not None:
                mark = "*" if comp.significant else ""
                cell += f" ({comp.delta:+.3g}{mark})"
            row.append(cell)
        table.add_row(*row)
    console.print(table)
    console.print("(+x) = delta vs the reference model; * = its 95% CI excludes zero")


def _cmd_report(args: argparse.Namespace, console: Console) -> int:
    from evalkit.human import report_sections
    from evalkit.report import write_report
    from evalkit.store import RunStore

    # A run killed, interrupted or failed before scoring has no summary.json: read_summary's error says how to
    # finish it (run the same command again), not just "missing file".
    store = RunStore(args.run_dir)
    run = store.read_run()
    run = run.model_copy(update={"training": finetune_metrics.load_run_training(args.run_dir, run.info.models)})
    if run.info.status != "complete":
        console.print(f"[yellow]Run status is '{run.info.status}': the report shows what was stored.[/yellow]")
    write_report(run, args.run_dir, report_sections(args.run_dir))
    print(args.run_dir / "report.html")
    return EXIT_OK


def _cmd_models(args: argparse.Namespace, console: Console) -> int:
    from evalkit.config import known_models, load_config
    from evalkit.suite import load_suite

    config = load_config(args.config)
    suite = load_suite(args.suite) if args.suite else None
    models = sorted(known_models(config, suite).items())
    if args.verbose:
        # One block per model: everything its table defines that names a file or says what it is.
        for name, (source, raw) in models:
            console.print(f"[bold]{escape(name)}[/bold] {escape(str(raw.get('provider', '')))} "
                          f"{escape(str(raw.get('model', '')))}, defined in {escape(source)}")
            if raw.get("adapter"):
                console.print(f"  adapter: {escape(str(raw['adapter']))}")
            description = (raw.get("metadata") or {}).get("description")
            if description:
                console.print(f"  {escape(str(description))}")
        return EXIT_OK
    table = Table(title="models")
    # Short columns that fit 80 characters; adapters, descriptions and file paths with --verbose.
    for col in ("name", "provider", "model", "defined in"):
        table.add_column(col, no_wrap=True, overflow="ellipsis")
    for name, (source, raw) in models:
        table.add_row(escape(name), escape(str(raw.get("provider", ""))), escape(str(raw.get("model", ""))),
                      escape(_short_source(source, config, suite)))
    console.print(table)
    if suite is None:
        console.print("Demo fine-tuned models (`ft`) are defined per suite: see `evalkit models --suite news`.")
    console.print("Adapters, descriptions and files: `evalkit models --verbose`.")
    return EXIT_OK


def _short_source(source: str, config, suite) -> str:
    """Where a model is defined, in a few words: built-in, the suite's name, or the config file's name."""
    if suite is not None and source == str(suite.path):
        return f"suite {suite.name}"
    if config.path is not None and source == str(config.path):
        return config.path.name
    return source


def _cmd_suites(args: argparse.Namespace, console: Console) -> int:
    from evalkit.suite import available_suites, load_suite

    rows: list[tuple[str, str, str, str]] = []
    for name, path in available_suites().items():
        try:
            s = load_suite(str(path))
            rows.append((name, s.task, escape(" ".join(s.description.split())), str(path)))
        except EvalkitError as exc:
            rows.append((name, "?", f"[red]invalid: {escape(str(exc))}[/red]", str(path)))
    if args.verbose:
        # One block per suite: the whole description wrapped under its name, task and file.
        for name, task, description, path in rows:
            console.print(f"[bold]{name}[/bold] ({task}) {escape(path)}")
            console.print(description, soft_wrap=False)
            console.print()
        return EXIT_OK
    name_w = max((len(r[0]) for r in rows), default=4)
    task_w = max((len(r[1]) for r in rows), default=4)
    table = Table(title="suites")
    # One line per suite: names and tasks whole, the description cut to the room left (13 = borders, padding).
    table.add_column("name", no_wrap=True, min_width=name_w)
    table.add_column("task", no_wrap=True, min_width=task_w)
    table.add_column("description", no_wrap=True, overflow="ellipsis",
                     max_width=max(12, console.width - name_w - task_w - 10))
    for name, task, description, _ in rows:
        table.add_row(name, task, description)
    console.print(table)
    console.print("Full descriptions and suite files: `evalkit suites --verbose`.")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace, console: Console) -> int:
    try:
        from evalkit.training.cli import main as train_main
    except ImportError as exc:
        raise EvalkitError(f"training needs the `train` extra (pip install -e '.[train]'): {exc}") from None
    return int(train_main([args.suite, *args.extra]) or 0)


def _cmd_judge(args: argparse.Namespace, console: Console) -> int:
    from evalkit.judge_command import run_judge_command

    return run_judge_command(args, console)


_COMMANDS = {"run": _cmd_run, "report": _cmd_report, "models": _cmd_models, "suites": _cmd_suites, "demo": _cmd_demo,
             "judge": _cmd_judge, "gate": gate_command.cmd_gate,
             "finetune-metrics": finetune_metrics.cmd,
             "human": human_command.cmd_human, "runs": history_command.cmd_runs,
             "compare": history_command.cmd_compare, "log": log_command.cmd_log, "plan": plan_command.cmd_plan,
             "init": init_command.cmd_init}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `evalkit` command."""
    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    try:
        return _COMMANDS[args.command](args, console)
    except EvalkitError as exc:
        # Plain print: an error message may quote user text that rich would read as markup.
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
