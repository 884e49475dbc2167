"""A run directory as a gate reads it: results.json for the reported numbers, the JSONL files for per-item
data when a paired difference has to be computed afresh. Nothing here calls a model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from evalkit.errors import ConfigError, DataError, EvalkitError
from evalkit.records import RunResult
from evalkit.store import (
    RESULTS_JSON,
    RUN_FILE,
    SUITE_FILE,
    RunStore,
    read_results_json,
)
from evalkit.suite import SuiteSpec
from evalkit.user_errors import did_you_mean

__all__ = ["RESULTS_FILE", "IncompleteRun", "RunData", "did_you_mean"]

RESULTS_FILE = RESULTS_JSON


class IncompleteRun(EvalkitError):
    """The run directory holds a run that did not complete and has nothing to gate (exit code 3, not 2)."""


def _run_status(path: Path) -> str | None:
    """The status in run.json, or None when there is no readable run.json."""
    try:
        info = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return str(info.get("status")) if isinstance(info, dict) and info.get("status") else None


@dataclass
class RunData:
    """One run directory, read lazily."""

    path: Path
    doc: dict[str, Any] = field(repr=False)
    """results.json."""

    @classmethod
    def load(cls, path: Path, what: str = "run") -> RunData:
        """Read `path/results.json`; DataError naming the file when it is missing or of an unknown version."""
        path = Path(path)
        if not path.is_dir():
            raise ConfigError(f"{what} directory not found: {path}")
        file = path / RESULTS_FILE
        status = _run_status(path)
        if not file.is_file():
            if status is not None and status != "complete":
                raise IncompleteRun(f"{path}: the run is '{status}' (run.json) and has no results.json: it did not "
                                    f"complete, so its rules cannot be checked; run the same `evalkit run` again "
                                    f"to resume it")
            raise DataError(f"{file}: missing; is {path} an evalkit run directory that finished? "
                            f"(`evalkit report {path}` re-renders it from the stored results)")
        doc = read_results_json(file)
        if status is not None and status != "complete" and isinstance(doc.get("run"), dict):
            # Either file saying the run did not complete is enough: run.json is written last, and results.json
            # may come from `evalkit report` re-rendering an unfinished run.
            doc["run"]["status"] = status
        return cls(path=path, doc=doc)

    # --- what results.json says ------------------------------------------------------------------------

    @property
    def info(self) -> dict[str, Any]:
        """The `run` object of results.json."""
        return self.doc["run"]

    @property
    def models(self) -> list[str]:
        """Model names in `--models` order."""
        return list(self.info.get("model_order") or self.doc.get("models", {}))

    @property
    def reference(self) -> str:
        """The run's reference model."""
        return str(self.info.get("reference", ""))

    def metrics(self, model: str) -> dict[str, dict[str, Any]]:
        """Every metric object of `model` by name."""
        return self.doc.get("models", {}).get(model, {}).get("metrics", {})

    def metric(self, model: str, name: str) -> dict[str, Any] | None:
        """One metric object, or None."""
        return self.metrics(model).get(name)

    def comparison(self, model: str, name: str) -> dict[str, Any] | None:
        """The reported comparison of `model` with the reference on `name`, or None."""
        return self.doc.get("comparisons", {}).get(model, {}).get(name)

    @property
    def sequential(self) -> dict[str, Any] | None:
        """The `sequential` object of a `--until-decided` run (its confidence sequences), else None."""
        seq = self.doc.get("sequential")
        return seq if isinstance(seq, dict) else None

    def calls(self, model: str) -> dict[str, int]:
        """`total`, `failed`, `cached`, `retries` of one model."""
        return self.doc.get("models", {}).get(model, {}).get("calls", {})

    def check_model(self, model: str, where: str) -> None:
        """ConfigError with close names when the run has no model `model`."""
        if model not in self.models:
            hint = did_you_mean(model, self.models, cutoff=0.5)
            raise ConfigError(f"{where}: unknown model '{model}': run {self.path.name} has "
                              f"{', '.join(self.models)}.{hint}")

    def check_metric(self, model: str, name: str, where: str) -> None:
        """ConfigError with close names when `model` has no metric `name` in this run."""
        self.check_model(model, where)
        if name not in self.metrics(model):
            known = sorted(self.metrics(model))
            raise ConfigError(f"{where}: unknown metric '{name}' for model '{model}' in run {self.path.name}; "
                              f"known: {', '.join(known)}.{did_you_mean(name, known, cutoff=0.5)}")

    # --- per-item data ----------------------------------------------------------------------------------

    @cached_property
    def run(self) -> RunResult:
        """The whole stored run (samples, generations, per-sample scores)."""
        return RunStore(self.path).read_run()

    @cached_property
    def suite(self) -> SuiteSpec:
        """The suite as it was when the run started (suite.json)."""
        file = self.path / SUITE_FILE
        try:
            return SuiteSpec.model_validate(json.loads(file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise DataError(f"{file}: missing; is {self.path} an evalkit run directory?") from None
        except (ValueError, TypeError) as exc:
            raise DataError(f"{file}: not a valid suite record: {exc}") from None
