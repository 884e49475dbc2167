"""`evalkit log RUN_DIR --to mlflow` and the `--log` options of `evalkit run` (wired in evalkit.cli)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from evalkit.errors import ConfigError, EvalkitError
from evalkit.trackers import Tracker, TrackerOptions, build_payload, create_tracker, log_payload, trackers
from evalkit.user_errors import one_line

__all__ = ["add_parser", "add_run_options", "cmd_log", "log_after_run", "prepare_run_log"]


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected tracker names, e.g. mlflow or mlflow,wandb")
    return names


def _target_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--experiment", metavar="NAME",
                   help="MLflow experiment / W&B project (default: $MLFLOW_EXPERIMENT_NAME or $WANDB_PROJECT, "
                        "else the suite name)")
    p.add_argument("--tracking-uri", metavar="URI",
                   help="MLflow tracking URI, e.g. sqlite:///mlflow.db (default: $MLFLOW_TRACKING_URI)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`evalkit log RUN_DIR --to NAME[,NAME...] [--experiment NAME] [--tracking-uri URI]`."""
    p = sub.add_parser("log", help="log a finished run to experiment trackers (mlflow, wandb)",
                       description="Log a finished run directory to experiment trackers: parameters, metrics "
                                   "with CIs, comparisons, the per-sample table, report.html and results.json. "
                                   "Each call creates one new tracked run.")
    p.add_argument("run_dir", type=Path, help="the run directory to log")
    p.add_argument("--to", type=_names, required=True, metavar="NAME[,NAME]",
                   help=f"tracker(s): {', '.join(trackers.names())}")
    _target_options(p)


def add_run_options(run: argparse.ArgumentParser) -> None:
    """`--log NAME[,NAME]`, `--experiment`, `--tracking-uri` for `evalkit run`."""
    run.add_argument("--log", type=_names, metavar="NAME[,NAME]",
                     help=f"after the run, log it to these experiment trackers ({', '.join(trackers.names())})")
    _target_options(run)


def _options(args: argparse.Namespace) -> TrackerOptions:
    return TrackerOptions(experiment=args.experiment, uri=args.tracking_uri)


def prepare_run_log(args: argparse.Namespace) -> list[Tracker]:
    """Before `evalkit run --log` calls any model: the trackers exist and their packages are installed
    (ConfigError / MissingDependencyError, exit 2, otherwise)."""
    if not args.log:
        given = [o for o, v in (("--experiment", args.experiment), ("--tracking-uri", args.tracking_uri)) if v]
        if given:
            raise ConfigError(f"{', '.join(given)} only apply with --log")
        return []
    return [create_tracker(name, _options(args)) for name in args.log]


def _log_all(run_dir: Path, targets: Sequence[Tracker], out) -> None:
    payload = build_payload(run_dir)  # once, whatever the number of trackers
    for tracker in targets:
        try:
            tracked = log_payload(tracker, payload)
        except EvalkitError:
            raise
        except Exception as exc:  # the tracker library's own failure (server down, value refused): one line
            raise EvalkitError(one_line(f"logging {run_dir} to {tracker.name} failed: {type(exc).__name__}: "
                                        f"{exc}")) from exc
        print(f"Logged to {tracked.tracker}: {tracked.location}", file=out)


def log_after_run(targets: Sequence[Tracker], run_dir: Path) -> None:
    """`evalkit run --log`: log the finished run; messages on stderr, so stdout's last line stays the report.

    A failure raises EvalkitError saying the run itself is complete and how to log it again.
    """
    try:
        _log_all(run_dir, targets, sys.stderr)
    except EvalkitError as exc:
        raise EvalkitError(f"{exc} (the run is complete in {run_dir}; log it later with `evalkit log {run_dir} "
                           f"--to {','.join(t.name for t in targets)}`)") from None


def cmd_log(args: argparse.Namespace, console: Console) -> int:
    """`evalkit log`: one line per tracker on stdout, with where the run was logged."""
    if not args.run_dir.is_dir():
        raise ConfigError(f"run directory not found: {args.run_dir}")
    build_payload(args.run_dir)  # a run that cannot be logged is refused before any tracker is opened
    targets = [create_tracker(name, _options(args)) for name in args.to]
    _log_all(args.run_dir, targets, sys.stdout)
    return 0
