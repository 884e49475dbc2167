"""The stream: a bounded window of items in flight, results stored in sample order however calls finish, prompts
rendered per item, and a template that fails on some item found before any call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from evalkit.config import load_config
from evalkit.errors import ConfigError
from evalkit.execution import GenerationExecutor
from evalkit.model import Model
from evalkit.records import Generation, Request
from evalkit.runner import MIN_WINDOW, RunOptions, ordered_stream, prepare
from evalkit.suite import load_suite

from .project import read_jsonl, write_project


def test_ordered_stream_yields_in_input_order_with_at_most_window_running() -> None:
    running, peak, started = 0, 0, []

    async def work(i: int) -> int:
        nonlocal running, peak
        started.append(i)
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05 if i == 0 else 0.001 * (i % 7))  # the first item is the slowest
        running -= 1
        return i

    async def go() -> list[int]:
        return [x async for x in ordered_stream(work, range(100), 8)]

    assert asyncio.run(go()) == list(range(100))
    # While item 0 is stuck, only the window's 8 items may be open: the reorder buffer is bounded.
    assert peak <= 8 and started[:8] == list(range(8))


def test_a_failure_cancels_the_items_in_flight() -> None:
    async def go() -> tuple[list[int], str]:
        release = asyncio.Event()
        finished: list[int] = []

        async def work(i: int) -> int:
            if i == 3:
                raise RuntimeError("boom")
            if i > 3:
                await release.wait()  # still in flight when item 3 fails
            finished.append(i)
            return i

        try:
            async for _ in ordered_stream(work, range(10), 5):
                pass
        except RuntimeError as exc:
            error = str(exc)
        release.set()
        await asyncio.sleep(0.05)  # an item that was not cancelled would finish now
        return finished, error

    finished, error = asyncio.run(go())
    assert error == "boom" and finished == [0, 1, 2]  # nothing kept running after the failure


class HoldFirst(GenerationExecutor):
    """Holds the first item's calls until `release` more items have been asked for (or nothing more comes)."""

    local = False

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.first_done_after = 0

    async def generate(self, model: Model, requests: Sequence[Request]) -> AsyncIterator[Generation]:
        for r in requests:
            self.asked.append(r.sample_id)
            if r.sample_id == "s00000":
                for _ in range(200):  # let the others run ahead as far as the window allows
                    await asyncio.sleep(0.005)
                self.first_done_after = len(self.asked)
            yield await model.generate(r)


def test_a_stuck_item_holds_back_at_most_the_window_and_results_stay_in_order(tmp_path: Path) -> None:
    write_project(tmp_path, 300, models=("ft",))
    ex = HoldFirst()
    suite = load_suite(str(tmp_path / "suite.yaml"))
    options = RunOptions(models=("ft",), out_dir=tmp_path / "reports", use_cache=False, show_progress=False,
                         executor=ex)
    outcome = asyncio.run(prepare(suite, load_config(None), options).run())
    results = read_jsonl(outcome.run_dir / "results.jsonl")
    assert [r["sample_id"] for r in results] == [f"s{i:05d}" for i in range(300)]
    # The replay model's concurrency is 8 (the default): the window is max(32, 4 x 8) items, so while the
    # first item was stuck at most that many items were started, not all 300.
    window = max(MIN_WINDOW, 4 * outcome.result.info.models[0]["concurrency"])
    assert ex.first_done_after == window


def test_a_template_that_fails_on_one_item_is_found_before_any_call(tmp_path: Path) -> None:
    suite_file = write_project(tmp_path, 50)
    data = tmp_path / "data.jsonl"
    lines = data.read_text().splitlines()
    # Every sample but the 41st has a `topic` field; the template uses it.
    lines = [line[:-1] + (', "topic": "t"}' if i != 40 else "}") for i, line in enumerate(lines)]
    data.write_text("\n".join(lines) + "\n")
    suite_file.write_text(suite_file.read_text().replace('template: "{{ input }}"',
                                                         'template: "{{ topic }}: {{ input }}"'))
    suite = load_suite(str(suite_file))
    options = RunOptions(models=("base", "ft"), out_dir=tmp_path / "reports", use_cache=False, show_progress=False)
    runner = prepare(suite, load_config(None), options)
    with pytest.raises(ConfigError, match=r"prompts.default: 'topic' is undefined"):
        asyncio.run(runner.run())
    assert runner.store is None  # no run folder was made
    assert not (tmp_path / "reports").exists()  # the runs folder made for the staged samples went too
