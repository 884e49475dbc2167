"""The `mlflow` tracker: one MLflow run per evalkit run, through `mlflow.MlflowClient` (the `mlflow` extra).

The tracking store is MLflow's own choice: `--tracking-uri`, else $MLFLOW_TRACKING_URI, else MLflow's default.
The experiment is `--experiment`, else $MLFLOW_EXPERIMENT_NAME, else the suite name; it is created when missing.
Tables are logged with `MlflowClient.log_table` (JSON artifacts under `tables/`, shown in MLflow's UI).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from evalkit.errors import MissingDependencyError
from evalkit.trackers.base import RunPayload, TrackedRun, Tracker, TrackerOptions

__all__ = ["MlflowTracker"]

_BATCH = 100
"""Metrics and parameters per log_batch call (MLflow accepts at most 1000 metrics and 100 params per call)."""


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise MissingDependencyError("mlflow", "logging runs to MLflow (--log mlflow)", extra="mlflow") from None
    return mlflow


class MlflowTracker(Tracker):
    """Logs to an MLflow tracking store."""

    name: ClassVar[str] = "mlflow"
    max_param_chars: ClassVar[int | None] = 6000
    """MLflow refuses longer parameter values."""

    def __init__(self, options: TrackerOptions) -> None:
        super().__init__(options)
        mlflow = _mlflow()
        self._entities = mlflow.entities
        self.client = mlflow.MlflowClient(tracking_uri=options.uri)
        self.experiment = options.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME")
        self._run_id: str | None = None

    def start(self, payload: RunPayload) -> None:
        """Create the run in the experiment (created when missing), named after the evalkit run."""
        name = self.experiment or payload.suite
        exp = self.client.get_experiment_by_name(name)
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(name)
        run = self.client.create_run(exp_id, run_name=payload.run_id, tags=dict(payload.tags))
        self._run_id = run.info.run_id

    def _batches(self, items: list[Any], kind: str) -> None:
        for i in range(0, len(items), _BATCH):
            self.client.log_batch(self._run_id, **{kind: items[i: i + _BATCH]})

    def log_params(self, params: Mapping[str, str]) -> None:
        """Every parameter, in batches."""
        self._batches([self._entities.Param(k, v) for k, v in params.items()], "params")

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Every metric at step 0, in batches."""
        now = int(self.client.get_run(self._run_id).info.start_time)
        self._batches([self._entities.Metric(k, v, now, 0) for k, v in metrics.items()], "metrics")

    def log_table(self, name: str, table: pd.DataFrame) -> None:
        """MLflow's own table artifact `tables/<name>.json`."""
        self.client.log_table(self._run_id, data=table, artifact_file=f"tables/{name}.json")

    def log_artifact(self, path: Path) -> None:
        """The file, at the artifact root."""
        self.client.log_artifact(self._run_id, str(path))

    def abort(self, error: BaseException) -> None:
        """Mark the half-logged run FAILED."""
        if self._run_id is not None:
            self.client.set_terminated(self._run_id, "FAILED")

    def finish(self) -> TrackedRun:
        """Mark the run FINISHED."""
        self.client.set_terminated(self._run_id, "FINISHED")
        return TrackedRun(tracker=self.name, run_id=str(self._run_id),
                          location=f"{self.client.tracking_uri} (run {self._run_id})")
