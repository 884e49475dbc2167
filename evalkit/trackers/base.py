"""The experiment-tracker extension point: one class that logs a finished run directory's payload.

A tracker implements five calls (`start`, `log_params`, `log_metrics`, `log_artifact`, `finish`); everything
else is a declared ability with a default that `log_payload` uses unconditionally, so a new tracker that
does not override one gets the documented behaviour (never a probe with getattr):

- `log_table`: by default a table is written as CSV and logged as an artifact; trackers with native tables
  (MLflow's `log_table`, W&B's `wandb.Table`) override it;
- `max_table_rows`: a table longer than this goes through the CSV default instead (W&B caps its tables);
- `max_param_chars`: longer parameter values are cut (MLflow refuses values over its limit);
- `abort`: called when logging fails half-way, to mark the tracked run failed rather than leave it running.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunPayload", "TrackedRun", "Tracker", "TrackerOptions", "log_payload"]


@dataclass(frozen=True)
class TrackerOptions:
    """Where to log, as given on the command line; each unset option falls back to the tracker's own settings
    (its environment variables, then its defaults)."""

    experiment: str | None = None
    """MLflow experiment or W&B project (default: the suite name)."""
    uri: str | None = None
    """MLflow tracking URI (default: $MLFLOW_TRACKING_URI); trackers without one refuse it."""


@dataclass(frozen=True)
class RunPayload:
    """What is logged for one evalkit run (built from its run directory by evalkit.trackers.build_payload)."""

    run_dir: Path
    run_id: str
    suite: str
    status: str
    params: Mapping[str, str]
    """Flat `key -> text`: suite, models, generation settings, judge ids and hashes, evalkit version..."""
    metrics: Mapping[str, float]
    """Flat `key -> number` (keys in docs/trackers.md); unknown values (null in results.json) are left out."""
    tags: Mapping[str, str]
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    """`samples`, `metrics` and `comparisons`, with plain Python values (None for unknown)."""
    artifacts: tuple[Path, ...] = ()
    """report.html, results.json and summary.md, those that exist."""


@dataclass(frozen=True)
class TrackedRun:
    """Where a run was logged."""

    tracker: str
    run_id: str
    """The tracker's own id of the logged run."""
    location: str
    """A URL or path a person can open (tracking URI and run id, or the offline run folder)."""


class Tracker:
    """Logs payloads to one experiment tracker; subclasses register under `name` (see evalkit.trackers)."""

    name: ClassVar[str] = ""
    max_table_rows: ClassVar[int | None] = None
    """Tables longer than this are logged as CSV artifacts instead of native tables; None: no limit."""
    max_param_chars: ClassVar[int | None] = None
    """Parameter values longer than this are cut (with a trailing `…`); None: no limit."""
    key_pattern: ClassVar[re.Pattern[str]] = re.compile(r"[^A-Za-z0-9_\-./ ]")
    """Characters a metric or parameter key may not hold; each is replaced by `_`."""

    def __init__(self, options: TrackerOptions) -> None:
        """Check the tracker's package is installed and keep `options`; raise ConfigError on a bad option."""
        self.options = options

    def start(self, payload: RunPayload) -> None:
        """Open a new tracked run for `payload` (its name, experiment or project, tags)."""
        raise NotImplementedError

    def log_params(self, params: Mapping[str, str]) -> None:
        """Log the run's parameters."""
        raise NotImplementedError

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Log the run's metrics (one value each, step 0)."""
        raise NotImplementedError

    def log_artifact(self, path: Path) -> None:
        """Attach the file `path` to the run."""
        raise NotImplementedError

    def finish(self) -> TrackedRun:
        """Close the run as finished; where it can be found."""
        raise NotImplementedError

    def log_table(self, name: str, table: pd.DataFrame) -> None:
        """Default: `name.csv` logged as an artifact."""
        with tempfile.TemporaryDirectory(prefix="evalkit-table-") as tmp:
            path = Path(tmp) / f"{name}.csv"
            table.to_csv(path, index=False)
            self.log_artifact(path)

    def abort(self, error: BaseException) -> None:
        """Default: nothing to clean up."""

    def key(self, text: str) -> str:
        """`text` as a key this tracker accepts."""
        return self.key_pattern.sub("_", text)


def log_payload(tracker: Tracker, payload: RunPayload) -> TrackedRun:
    """Log everything in `payload` through `tracker`, as one tracked run; a failure aborts that run."""
    tracker.start(payload)
    try:
        limit = tracker.max_param_chars
        tracker.log_params({tracker.key(k): v if limit is None or len(v) <= limit else v[: limit - 1] + "…"
                            for k, v in payload.params.items()})
        tracker.log_metrics({tracker.key(k): v for k, v in payload.metrics.items()})
        for name, table in payload.tables.items():
            if tracker.max_table_rows is not None and len(table) > tracker.max_table_rows:
                Tracker.log_table(tracker, name, table)
            else:
                tracker.log_table(name, table)
        for path in payload.artifacts:
            tracker.log_artifact(path)
    except BaseException as exc:
        tracker.abort(exc)
        raise
    return tracker.finish()
