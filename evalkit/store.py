"""A run directory: everything a run produced, written as it is produced, readable without any model call.

Layout (documented in docs/run-directory.md):
    run.json            RunInfo; `status` is `running` until the very end, so a crashed run never looks complete
    suite.json          the resolved suite
    samples.jsonl       the samples, in order
    generations.jsonl   one Generation per line, appended and flushed as each call completes
    results.jsonl       one SampleResult per line (scores and judge calls)
    summary.json        the TaskSummary (metrics and comparisons)
    report.html, summary.md, results.json   the rendered report
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TypeVar

from pydantic import BaseModel, ValidationError

from evalkit.errors import DataError
from evalkit.records import Generation, RunInfo, RunResult, Sample, SampleResult, TaskSummary

R = TypeVar("R", bound=BaseModel)

RUN_FILE = "run.json"
SUITE_FILE = "suite.json"
SAMPLES_FILE = "samples.jsonl"
GENERATIONS_FILE = "generations.jsonl"
RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"


def new_run_dir(out_root: Path, suite: str) -> Path:
    """A fresh `<out_root>/<suite>-<UTC timestamp>` folder (suffixed if that name exists)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", suite)
    out_root.mkdir(parents=True, exist_ok=True)
    for i in range(1000):
        path = out_root / (f"{safe}-{stamp}" + (f"-{i}" if i else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise DataError(f"{out_root}: could not create a new run folder for {suite}")


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never a partial one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunStore:
    """Writes and reads one run directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._appenders: dict[str, IO[str]] = {}

    def write_info(self, info: RunInfo) -> None:
        """(Re)write run.json atomically."""
        write_atomic(self.path / RUN_FILE, info.model_dump_json(indent=2))

    def write_json(self, name: str, obj: BaseModel | dict) -> None:
        """Write one JSON file atomically."""
        text = obj.model_dump_json(indent=2) if isinstance(obj, BaseModel) else json.dumps(obj, indent=2, default=str)
        write_atomic(self.path / name, text)

    def write_records(self, name: str, records: Iterable[BaseModel]) -> None:
        """Write a whole JSONL file atomically."""
        write_atomic(self.path / name, "".join(r.model_dump_json() + "\n" for r in records))

    def append(self, name: str, record: BaseModel) -> None:
        """Append one record and flush, so a crash loses at most the calls still in flight."""
        fh = self._appenders.get(name)
        if fh is None:
            fh = self._appenders[name] = (self.path / name).open("a", encoding="utf-8")
        fh.write(record.model_dump_json() + "\n")
        fh.flush()

    def close(self) -> None:
        """Close the append handles."""
        for fh in self._appenders.values():
            fh.close()
        self._appenders.clear()

    # --- reading -------------------------------------------------------------------------------------

    def _read_records(self, name: str, cls: type[R], *, tolerate_torn_tail: bool = False) -> list[R]:
        path = self.path / name
        if not path.is_file():
            raise DataError(f"{path}: missing; is {self.path} an evalkit run directory?")
        out: list[R] = []
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                out.append(cls.model_validate_json(line))
            except ValidationError as exc:
                # A process killed mid-write can leave a torn last line; everything before it is intact.
                if tolerate_torn_tail and i == len(lines):
                    break
                raise DataError(f"{path}:{i}: not a valid {cls.__name__} record: {exc.errors()[0]['msg']}") from None
        return out

    def read_info(self) -> RunInfo:
        """The run's RunInfo."""
        path = self.path / RUN_FILE
        if not path.is_file():
            raise DataError(f"{self.path}: not an evalkit run directory (no {RUN_FILE})")
        try:
            return RunInfo.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise DataError(f"{path}: not a valid run file: {exc.errors()[0]['msg']}") from None

    def read_samples(self) -> list[Sample]:
        """The run's samples."""
        return self._read_records(SAMPLES_FILE, Sample)

    def read_generations(self) -> list[Generation]:
        """Every generation written so far (a torn last line from a crash is skipped)."""
        return self._read_records(GENERATIONS_FILE, Generation, tolerate_torn_tail=True)

    def read_results(self) -> list[SampleResult]:
        """The per-sample scores."""
        return self._read_records(RESULTS_FILE, SampleResult)

    def read_summary(self) -> TaskSummary:
        """The task summary."""
        path = self.path / SUMMARY_FILE
        if not path.is_file():
            raise DataError(f"{path}: missing; the run did not reach scoring (status in {RUN_FILE})")
        return TaskSummary.model_validate_json(path.read_text(encoding="utf-8"))

    def read_run(self) -> RunResult:
        """The whole run, for re-rendering a report without any model call."""
        generations = self.read_generations()
        # When a run was resumed into the same folder a sample may appear twice; the last write wins.
        latest = {(g.sample_id, g.model, g.attempt): g for g in generations}
        return RunResult(info=self.read_info(), samples=tuple(self.read_samples()),
                         generations=tuple(latest.values()), results=tuple(self.read_results()),
                         summary=self.read_summary())
