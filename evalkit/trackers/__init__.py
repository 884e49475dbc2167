"""Experiment trackers: log a finished run directory to MLflow or Weights & Biases (docs/trackers.md).

    from evalkit.trackers import log_run
    tracked = log_run(Path("reports/news-20250101-100000"), "mlflow")

A tracker is one module with a `Tracker` subclass (evalkit/trackers/base.py) plus one registration line
here; other packages add theirs through the entry-point group `evalkit.trackers`
(`mytracker = "mypkg.tracker:MyTracker"`). Each tracker's package is
imported only when that tracker is used, and a missing one raises MissingDependencyError naming the extra.
"""

from __future__ import annotations

from pathlib import Path

from evalkit.errors import ConfigError
from evalkit.registry import Registry
from evalkit.trackers.base import (
    RunPayload,
    TrackedRun,
    Tracker,
    TrackerOptions,
    log_payload,
)

__all__ = [
    "SAMPLE_TABLE_COLUMNS",
    "RunPayload",
    "TrackedRun",
    "Tracker",
    "TrackerOptions",
    "build_payload",
    "create_tracker",
    "log_payload",
    "log_run",
    "tracker_class",
    "trackers",
]

trackers: Registry[type[Tracker]] = Registry("tracker", "evalkit.trackers")

# Each module imports its tracker's package only when the tracker is built, so listing trackers is free.
trackers.register_lazy("mlflow", "evalkit.trackers.mlflow:MlflowTracker")
trackers.register_lazy("wandb", "evalkit.trackers.wandb:WandbTracker")


def tracker_class(name: str, *, where: str = "--log") -> type[Tracker]:
    """The Tracker subclass registered as `name`; ConfigError when unknown or not a Tracker subclass."""
    cls = trackers.get(name, where=where)
    if not (isinstance(cls, type) and issubclass(cls, Tracker)):
        raise ConfigError(f"{where}: tracker '{name}' is registered as {cls!r}, which is not a subclass of "
                          "evalkit.trackers.Tracker")
    return cls


def create_tracker(name: str, options: TrackerOptions | None = None) -> Tracker:
    """The tracker registered as `name`; ConfigError with close names when unknown, MissingDependencyError
    naming the extra when its package is not installed."""
    return tracker_class(name)(options or TrackerOptions())


def build_payload(run_dir: Path) -> RunPayload:
    """The payload every tracker logs for the finished run in `run_dir` (evalkit.trackers._payload)."""
    from evalkit.trackers._payload import build_payload as build

    return build(Path(run_dir))


def __getattr__(name: str) -> object:
    # The per-sample table's columns live with the payload, which needs pandas: imported on first use.
    if name == "SAMPLE_TABLE_COLUMNS":
        from evalkit.trackers._payload import SAMPLE_TABLE_COLUMNS

        return SAMPLE_TABLE_COLUMNS
    raise AttributeError(f"module 'evalkit.trackers' has no attribute {name!r}")


def log_run(run_dir: Path, tracker: str | Tracker, options: TrackerOptions | None = None) -> TrackedRun:
    """Log the finished run in `run_dir` as one new tracked run; where it was logged."""
    t = create_tracker(tracker, options) if isinstance(tracker, str) else tracker
    return log_payload(t, build_payload(Path(run_dir)))
