"""The item schedule seam (issue 16): items drawn in a given order, in batches, with a stop rule asked after each
stored batch; summary, report and results.json then cover the items drawn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import jsonschema
import pytest

from evalkit.config import load_config
from evalkit.errors import DataError
from evalkit.records import SampleResult
from evalkit.report import SCHEMA_PATH
from evalkit.runner import RunOptions, prepare
from evalkit.schedule import ItemSchedule, StopRule
from evalkit.sequential import ComparisonSpec, SequentialMonitor, SequentialPlan
from evalkit.suite import load_suite

from .project import read_jsonl, write_project

N = 60


class StopAfter(StopRule):
    """Stops after `batches` batches; records every batch it was shown and what the monitor made of it."""

    def __init__(self, batches: int, plan: SequentialPlan | None = None) -> None:
        self.batches = batches
        self.seen: list[list[str]] = []
        self.monitor = SequentialMonitor(plan) if plan is not None else None

    def after_batch(self, results: Sequence[SampleResult]) -> bool:
        self.seen.append([r.sample_id for r in results])
        if self.monitor is not None:
            self.monitor.update_results(results)
        return len(self.seen) >= self.batches

    def result(self):  # type: ignore[no-untyped-def]
        return self.monitor.result() if self.monitor is not None else None


def run(project: Path, schedule: ItemSchedule, models: tuple[str, ...] = ("base", "ft")):  # type: ignore[no-untyped-def]
    suite = load_suite(str(project / "suite.yaml"))
    options = RunOptions(models=models, out_dir=project / "reports", use_cache=False, show_progress=False,
                         schedule=schedule)
    return asyncio.run(prepare(suite, load_config(None), options).run())


def test_items_are_drawn_in_order_in_batches_until_the_rule_stops(tmp_path: Path) -> None:
    write_project(tmp_path, N)
    order = tuple(f"s{i:05d}" for i in reversed(range(N)))
    rule = StopAfter(batches=2)
    outcome = run(tmp_path, ItemSchedule(order=order, batch_size=10, stop=rule))
    run_dir = outcome.run_dir
    # The rule saw exactly the two batches, in draw order, after they were stored.
    assert rule.seen == [list(order[:10]), list(order[10:20])]
    samples, results = read_jsonl(run_dir / "samples.jsonl"), read_jsonl(run_dir / "results.jsonl")
    assert [s["id"] for s in samples] == list(order)  # the whole schedule, in draw order
    assert [r["sample_id"] for r in results] == list(order[:20])  # the items drawn, side by side with samples
    # No call of an undrawn item was made: replay counts every call.
    assert outcome.calls == {"base": 20, "ft": 20}
    assert {g["sample_id"] for g in read_jsonl(run_dir / "generations.jsonl")} == set(order[:20])
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["run"]["n_samples"] == 20
    assert doc["models"]["ft"]["metrics"]["n"]["value"] == 20 and doc["models"]["ft"]["calls"]["total"] == 20
    assert any(n.startswith("20 of 60 items drawn (stopped when decided)") for n in doc["notes"])
    assert "sequential" not in doc  # the rule reported no record


def test_a_rule_with_a_record_is_stored_reported_and_schema_valid(tmp_path: Path) -> None:
    write_project(tmp_path, N)
    order = tuple(f"s{i:05d}" for i in range(N))
    plan = SequentialPlan(comparisons=(ComparisonSpec(key="ft-base/accuracy", model="ft", reference="base",
                                                      metric="accuracy"),), batch_size=15, items_total=N)
    outcome = run(tmp_path, ItemSchedule(order=order, batch_size=15, stop=StopAfter(batches=3, plan=plan)))
    run_dir = outcome.run_dir
    stored = json.loads((run_dir / "sequential.json").read_text())
    assert stored["items_drawn"] == 45 and stored["items_total"] == N
    looks = stored["comparisons"][0]["sequence"]["looks"]
    assert [lk["drawn"] for lk in looks] == [15, 30, 45]
    # base is wrong on every fifth item, ft never: the running mean difference is exactly that share.
    wrong = sum(1 for i in range(45) if i % 5 == 0)
    assert looks[-1]["estimate"] == pytest.approx(wrong / 45)
    doc = json.loads((run_dir / "results.json").read_text())
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    assert doc["sequential"]["items_saved"] == N - 45 and doc["sequential"]["comparisons"][0]["spec"]["key"] == \
        "ft-base/accuracy"
    html = (run_dir / "report.html").read_text()
    assert '<section id="sequential">' in html and "Stopped after 45 of 60 items" in html
    # calls saved = undrawn items x this run's calls per item (two models, one attempt, no judge)
    assert "about 30 calls saved" in html
    assert html.count('alt="Confidence sequences over items drawn"') == 1
    md = (run_dir / "summary.md").read_text()
    assert "## Stopped when decided" in md and "- ft-base/accuracy: **" in md
    # `evalkit report` re-renders the same section from sequential.json.
    from evalkit.cli import main

    (run_dir / "report.html").unlink()
    assert main(["report", str(run_dir)]) == 0
    assert "Stopped after 45 of 60 items" in (run_dir / "report.html").read_text()


def test_the_default_schedule_draws_everything_in_data_order(tmp_path: Path) -> None:
    write_project(tmp_path, 25)
    outcome = run(tmp_path, ItemSchedule())
    results = read_jsonl(outcome.run_dir / "results.jsonl")
    assert [r["sample_id"] for r in results] == [f"s{i:05d}" for i in range(25)]
    assert not (outcome.run_dir / "sequential.json").exists()


def test_an_unknown_id_in_the_order_is_one_data_error_before_any_run(tmp_path: Path) -> None:
    write_project(tmp_path, 10)
    with pytest.raises(DataError, match=r"names 1 sample id\(s\) the data does not have: 'nope'"):
        run(tmp_path, ItemSchedule(order=("s00001", "nope"), batch_size=1))
    # No run folder, and the staged samples file is gone too.
    assert not (tmp_path / "reports").exists()


def test_schedule_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="needs a batch_size"):
        ItemSchedule(stop=StopAfter(1))
    with pytest.raises(ValueError, match="each sample id once"):
        ItemSchedule(order=("a", "a"))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        ItemSchedule(batch_size=0)
