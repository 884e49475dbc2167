"""Experiment trackers: log a finished run directory to MLflow or Weights & Biases (docs/trackers.md).

    from evalkit.trackers import log_run
    tracked = log_run(Path("reports/news-20250101-100000"), "mlflow")

A tracker is one module with a `Tracker` subclass (evalkit/trackers/base.py) plus one registration line
here; other packages add theirs through the entry-point group `evalkit.trackers`. Each tracker's package is
imported only when that tracker is used, and a missing one raises MissingDependencyError naming the extra.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from evalkit.registry import Registry
from evalkit.trackers._payload import SAMPLE_TABLE_COLUMNS, build_payload
from evalkit.trackers.base import RunPayload, TrackedRun, Tracker, TrackerOptions, log_payload

__all__ = [
    "SAMPLE_TABLE_COLUMNS",
    "RunPayload",
    "TrackedRun",
    "Tracker",
    "TrackerFactory",
    "TrackerOptions",
    "build_payload",
    "create_tracker",
    "log_payload",
    "log_run",
    "trackers",
]

TrackerFactory = Callable[[TrackerOptions], Tracker]

trackers: Registry[TrackerFactory] = Registry("tracker", "evalkit.trackers")


def _lazy(module: str, cls: str) -> TrackerFactory:
    """A factory that imports the tracker module (and so its package) only when the tracker is used."""

    def factory(options: TrackerOptions) -> Tracker:
        return getattr(import_module(module), cls)(options)

    return factory


trackers.register("mlflow")(_lazy("evalkit.trackers.mlflow", "MlflowTracker"))
trackers.register("wandb")(_lazy("evalkit.trackers.wandb", "WandbTracker"))


def create_tracker(name: str, options: TrackerOptions = TrackerOptions()) -> Tracker:
    """The tracker registered as `name`; ConfigError with close names when unknown, MissingDependencyError
    when its package is not installed."""
    return trackers.get(name, where="--log")(options)


def log_run(run_dir: Path, tracker: str | Tracker, options: TrackerOptions = TrackerOptions()) -> TrackedRun:
    """Log the finished run in `run_dir` as one new tracked run; where it was logged."""
    t = create_tracker(tracker, options) if isinstance(tracker, str) else tracker
    return log_payload(t, build_payload(Path(run_dir)))
