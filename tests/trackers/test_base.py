"""The Tracker base class: a tracker that implements only the five required calls gets the declared defaults
(tables as CSV artifacts, cut parameter values, safe keys, abort on failure)."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pytest
from analysis.runmaker import N_NEWS

from evalkit.trackers import (
    SAMPLE_TABLE_COLUMNS,
    TrackedRun,
    Tracker,
    TrackerOptions,
    build_payload,
    log_run,
    trackers,
)


class RecordingTracker(Tracker):
    """Keeps what it is given; CSV tables are read back when they are logged (the temp file goes away)."""

    name: ClassVar[str] = "recording"
    max_param_chars: ClassVar[int | None] = 12

    def __init__(self, fail_on_artifact: bool = False) -> None:
        super().__init__(TrackerOptions())
        self.fail_on_artifact = fail_on_artifact
        self.params: dict[str, str] = {}
        self.metrics: dict[str, float] = {}
        self.files: dict[str, list[dict[str, str]] | None] = {}
        self.events: list[str] = []

    def start(self, payload) -> None:
        self.events.append(f"start {payload.run_id}")

    def log_params(self, params: Mapping[str, str]) -> None:
        self.params.update(params)

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        self.metrics.update(metrics)

    def log_artifact(self, path: Path) -> None:
        if self.fail_on_artifact:
            raise OSError("disk full")
        rows = list(csv.DictReader(path.open(encoding="utf-8"))) if path.suffix == ".csv" else None
        self.files[path.name] = rows

    def abort(self, error: BaseException) -> None:
        self.events.append(f"abort {error}")

    def finish(self) -> TrackedRun:
        self.events.append("finish")
        return TrackedRun(tracker=self.name, run_id="r1", location="memory")


def test_defaults_log_tables_as_csv_and_cut_long_params(news_run: Path) -> None:
    tracker = RecordingTracker()
    tracked = log_run(news_run, tracker)
    assert tracked.run_id == "r1" and tracker.events == [f"start {news_run.name}", "finish"]
    assert set(tracker.files) == {"samples.csv", "metrics.csv", "comparisons.csv", "report.html", "results.json",
                                  "summary.md"}
    samples = tracker.files["samples.csv"]
    assert len(samples) == 3 * N_NEWS and list(samples[0]) == list(SAMPLE_TABLE_COLUMNS)
    assert all(len(v) <= 12 for v in tracker.params.values())
    assert tracker.params["data_sha256"].endswith("…") and tracker.params["suite"] == "news-mini"
    doc = json.loads((news_run / "results.json").read_text("utf-8"))
    assert tracker.metrics["ft/accuracy"] == doc["models"]["ft"]["metrics"]["accuracy"]["value"]


def test_keys_are_made_safe_and_a_failure_aborts_the_run(news_run: Path) -> None:
    tracker = RecordingTracker(fail_on_artifact=True)
    assert tracker.key("ft:lr=1e-5/accuracy") == "ft_lr_1e-5/accuracy"
    with pytest.raises(OSError, match="disk full"):
        log_run(news_run, tracker)
    assert tracker.events[-1] == "abort disk full" and "finish" not in tracker.events


def test_payload_leaves_unknown_values_out(news_run: Path) -> None:
    payload = build_payload(news_run)
    assert "base/cost_usd" not in payload.metrics and "ft/cost_usd" in payload.metrics
    assert payload.tables["samples"]["cost_usd"].map(lambda v: v is None).sum() == 2 * N_NEWS  # base and ft2
    assert {"mlflow", "wandb"} <= set(trackers.names())


def test_a_tracker_failure_after_a_run_is_one_error_that_says_how_to_log_again(news_run: Path) -> None:
    from evalkit.errors import EvalkitError
    from evalkit.trackers import command as log_command

    with pytest.raises(EvalkitError) as err:
        log_command.log_after_run([RecordingTracker(fail_on_artifact=True)], news_run)
    message = str(err.value)
    assert "\n" not in message and "to recording failed: OSError: disk full" in message
    assert f"the run is complete in {news_run}; log it later with `evalkit log {news_run} --to recording`" in message
