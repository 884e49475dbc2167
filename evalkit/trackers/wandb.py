"""The `wandb` tracker: one Weights & Biases run per evalkit run (the `wandb` extra).

Mode, entity, server and folder are W&B's own settings ($WANDB_MODE — `offline` writes the run locally for a
later `wandb sync` —, $WANDB_ENTITY, $WANDB_BASE_URL, $WANDB_DIR). The project is `--experiment`, else
$WANDB_PROJECT, else the suite name. Parameters go to the run's config, metrics to its summary (and one
history step), tables are `wandb.Table`s, and report.html / results.json / summary.md one artifact of type
`evalkit-run`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from evalkit.errors import ConfigError, MissingDependencyError
from evalkit.trackers.base import RunPayload, TrackedRun, Tracker, TrackerOptions

__all__ = ["WandbTracker"]


def _wandb() -> Any:
    try:
        import wandb
    except ImportError:
        raise MissingDependencyError("wandb", "logging runs to Weights & Biases (--log wandb)", extra="wandb") \
            from None
    return wandb


class WandbTracker(Tracker):
    """Logs to Weights & Biases (online, or offline for a later `wandb sync`)."""

    name: ClassVar[str] = "wandb"
    max_table_rows: ClassVar[int | None] = 200_000
    """wandb.Table's own row limit (Table.MAX_ARTIFACT_ROWS); longer tables are logged as CSV artifacts."""

    def __init__(self, options: TrackerOptions) -> None:
        super().__init__(options)
        if options.uri is not None:
            raise ConfigError(f"--tracking-uri {options.uri!r}: applies to mlflow only; W&B reads its server from "
                              "$WANDB_BASE_URL")
        self.wandb = _wandb()
        self.project = options.experiment or os.environ.get("WANDB_PROJECT")
        self._run: Any = None
        self._artifact: Any = None

    def start(self, payload: RunPayload) -> None:
        """`wandb.init` of a new run named after the evalkit run, tagged with its suite and status."""
        self._run = self.wandb.init(project=self.project or payload.suite, name=payload.run_id,
                                    tags=[payload.suite, payload.status], notes=str(payload.run_dir),
                                    reinit="create_new")
        safe = re.sub(r"[^A-Za-z0-9_.-]", "-", payload.run_id)
        self._artifact = self.wandb.Artifact(f"evalkit-{safe}", type="evalkit-run",
                                             metadata=dict(payload.tags))

    def log_params(self, params: Mapping[str, str]) -> None:
        """Into the run's config."""
        self._run.config.update(dict(params), allow_val_change=True)

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Into the run's summary, and as its one history step (so charts can compare runs)."""
        self._run.log(dict(metrics), step=0)
        self._run.summary.update(dict(metrics))

    def log_table(self, name: str, table: pd.DataFrame) -> None:
        """A wandb.Table under the key `name`."""
        self._run.log({name: self.wandb.Table(dataframe=table)}, step=0)

    def log_artifact(self, path: Path) -> None:
        """Added to the run's `evalkit-run` artifact (logged once, when the run finishes)."""
        self._artifact.add_file(str(path))

    def abort(self, error: BaseException) -> None:
        """Finish the half-logged run with a failing exit code."""
        if self._run is not None:
            self._run.finish(exit_code=1)

    def finish(self) -> TrackedRun:
        """Log the artifact and finish the run."""
        if self._artifact.manifest.entries:
            self._run.log_artifact(self._artifact)
        # Offline, the run has no URL: its folder (parent of `files/`) is what `wandb sync` takes.
        run_id, location = self._run.id, self._run.url or str(Path(self._run.dir).parent)
        self._run.finish()
        return TrackedRun(tracker=self.name, run_id=str(run_id), location=str(location))
