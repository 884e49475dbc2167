"""A run directory: everything a run produced, written as it is produced, readable without any model call.

Layout (documented in docs/run-directory.md):
    run.json            RunInfo; `status` is `running` until the very end, so a crashed run never looks complete
    suite.json          the resolved suite
    samples.jsonl       the samples, in run order
    generations.jsonl   one Generation per line, appended and flushed as each call completes
    results.jsonl       one SampleResult per line, in sample order: line i is the result of samples.jsonl line i
    summary.json        the TaskSummary (metrics and comparisons)
    sequential.json     what a stop rule decided (`--until-decided` runs only)
    report.html, summary.md, results.json, report-items/   the rendered report

Records are read back in passes (RecordFile), never all at once: a million-item run is one line at a time.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from evalkit.errors import DataError
from evalkit.records import (
    Generation,
    Records,
    RunInfo,
    RunResult,
    Sample,
    SampleResult,
    TaskSummary,
)

R = TypeVar("R", bound=BaseModel)

RUN_FILE = "run.json"
SUITE_FILE = "suite.json"
SAMPLES_FILE = "samples.jsonl"
GENERATIONS_FILE = "generations.jsonl"
RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
SEQUENTIAL_FILE = "sequential.json"
RESULTS_JSON = "results.json"
"""The report's machine-readable document (docs/results-schema.md), read by gates, history and analysis."""
READABLE_RESULTS_VERSIONS = ("1",)
"""results.json schema versions this evalkit reads."""

FLUSH_INTERVAL_S = 0.2
"""Records appended without a flush (results.jsonl) reach the file at most this long after (and at close)."""


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


def find_run_dirs(path: Path) -> list[Path]:
    """`path` itself when it is a run directory, else every run directory below it (sorted by path)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if (path / RUN_FILE).is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: not a run directory or a folder of run directories")
    return sorted(Path(folder) for folder, _, files in os.walk(path)
                  if RUN_FILE in files and os.path.isfile(os.path.join(folder, RUN_FILE)))


def read_results_json(file: Path) -> dict[str, Any]:
    """A run's results.json document; DataError naming the file when it is not JSON or of a schema version
    this evalkit does not read (a missing file raises FileNotFoundError: callers say what that means)."""
    try:
        doc = json.loads(Path(file).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{file}: not valid JSON ({exc})") from None
    version = str(doc.get("schema_version")) if isinstance(doc, dict) else None
    if version not in READABLE_RESULTS_VERSIONS:
        raise DataError(f"{file}: schema_version {version!r} is not one this evalkit reads "
                        f"({', '.join(READABLE_RESULTS_VERSIONS)})")
    return doc


class RecordFile(Records[R], Generic[R]):
    """The records of one JSONL file, parsed line by line on every pass (nothing is kept between passes).

    `limit` reads only the first `limit` records (the samples a summary covers when a run stopped early).
    A torn last line, which a process killed mid-write leaves, is skipped when `tolerate_torn_tail` is set;
    any other invalid line is a DataError naming the file and line.
    """

    def __init__(self, path: Path, cls: type[R], *, tolerate_torn_tail: bool = False,
                 limit: int | None = None) -> None:
        self.path = Path(path)
        self.cls = cls
        self.tolerate_torn_tail = tolerate_torn_tail
        self.limit = limit
        self._len: int | None = None

    def __iter__(self) -> Iterator[R]:
        for _, record in self.with_offsets():
            yield record

    def with_offsets(self, start: int = 0, *, lengths: bool = False) -> Iterator[Any]:
        """(byte offset of its line, record) for every record, in file order; (offset, line length, record)
        with `lengths`. From byte `start` (a line start, e.g. the file's size before a batch was appended)."""
        if not self.path.is_file():
            raise DataError(f"{self.path}: missing; is {self.path.parent} an evalkit run directory?")
        count = 0
        validate = self.cls.model_validate_json
        with self.path.open("rb") as fh:
            fh.seek(start)
            offset = start
            lineno = 0
            pending: tuple[int, ValidationError] | None = None
            for line in fh:
                lineno += 1
                begin, offset = offset, offset + len(line)
                if pending is not None:  # an invalid line with more after it: not a torn tail
                    raise self._invalid(*pending)
                if not line.strip():
                    continue
                if self.limit is not None and count >= self.limit:
                    return
                try:
                    record = validate(line)
                except ValidationError as exc:
                    if self.tolerate_torn_tail:
                        pending = (lineno, exc)
                        continue
                    raise self._invalid(lineno, exc) from None
                count += 1
                yield (begin, len(line), record) if lengths else (begin, record)

    def raw(self, *, offsets: bool = False) -> Iterator[Any]:
        """Every record as the plain dict its line holds (orjson, no validation), or (offset, line length, dict).

        For passes that only count or collect a few fields into columns (a million generations parse about four
        times faster this way); anything that uses a record as such reads it with `iter` or `read_at`. The same
        rules as `with_offsets`: `limit`, a torn last line skipped when tolerated, DataError for any other
        line that is not a JSON object.
        """
        if not self.path.is_file():
            raise DataError(f"{self.path}: missing; is {self.path.parent} an evalkit run directory?")
        count = 0
        with self.path.open("rb") as fh:
            offset = 0
            pending: int | None = None
            for lineno, line in enumerate(fh, 1):
                begin, offset = offset, offset + len(line)
                if pending is not None:
                    raise DataError(f"{self.path}:{pending}: not a valid {self.cls.__name__} record: not JSON")
                if not line.strip():
                    continue
                if self.limit is not None and count >= self.limit:
                    return
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    record = None
                if not isinstance(record, dict):
                    if self.tolerate_torn_tail:
                        pending = lineno
                        continue
                    raise DataError(f"{self.path}:{lineno}: not a valid {self.cls.__name__} record: not a JSON object")
                count += 1
                yield (begin, len(line), record) if offsets else record

    def _invalid(self, lineno: int, exc: ValidationError) -> DataError:
        return DataError(f"{self.path}:{lineno}: not a valid {self.cls.__name__} record: {exc.errors()[0]['msg']}")

    def read_at(self, offsets: Iterable[int]) -> Iterator[R]:
        """The records whose lines start at `offsets` (from `with_offsets`), in that order."""
        validate = self.cls.model_validate_json
        with self.path.open("rb") as fh:
            for offset in offsets:
                fh.seek(offset)
                yield validate(fh.readline())

    def __len__(self) -> int:
        if self._len is None:
            count, last = 0, b""
            if self.path.is_file():
                with self.path.open("rb") as fh:
                    for line in fh:
                        if line.strip():
                            count += 1
                            last = line
            if count and self.tolerate_torn_tail:
                try:
                    self.cls.model_validate_json(last)
                except ValidationError:
                    count -= 1
            self._len = count if self.limit is None else min(count, self.limit)
        return self._len

    def __repr__(self) -> str:
        return f"RecordFile({str(self.path)!r}, {self.cls.__name__})"


class RunStore:
    """Writes and reads one run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._appenders: dict[str, IO[str]] = {}
        self._flushed = time.monotonic()

    def write_info(self, info: RunInfo) -> None:
        """(Re)write run.json atomically."""
        write_atomic(self.path / RUN_FILE, info.model_dump_json(indent=2))

    def write_json(self, name: str, obj: BaseModel | dict | list) -> None:
        """Write one JSON file atomically."""
        text = obj.model_dump_json(indent=2) if isinstance(obj, BaseModel) else json.dumps(obj, indent=2, default=str)
        write_atomic(self.path / name, text)

    def write_records(self, name: str, records: Iterable[BaseModel]) -> int:
        """Write a whole JSONL file atomically, one record at a time; returns how many were written."""
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{name}.")
        count = 0
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for r in records:
                    fh.write(r.model_dump_json() + "\n")
                    count += 1
            os.replace(tmp, self.path / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return count

    def append(self, name: str, record: BaseModel, *, flush: bool = True) -> None:
        """Append one record and flush, so a crash loses at most the calls still in flight. With `flush=False`
        the record reaches the file within FLUSH_INTERVAL_S (and at `flush`/`close`): for records a re-run
        rebuilds anyway (results.jsonl), where a system call per record is all cost and no safety."""
        fh = self._appenders.get(name)
        if fh is None:
            fh = self._appenders[name] = (self.path / name).open("a", encoding="utf-8")
        fh.write(record.model_dump_json() + "\n")
        if flush:
            fh.flush()
        elif time.monotonic() - self._flushed >= FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        """Push every appended record to its file."""
        for fh in self._appenders.values():
            fh.flush()
        self._flushed = time.monotonic()

    def size(self, name: str) -> int:
        """The byte size of a run file with everything appended so far (0 when it does not exist yet)."""
        if name in self._appenders:
            self._appenders[name].flush()
        path = self.path / name
        return path.stat().st_size if path.is_file() else 0

    def close(self) -> None:
        """Flush and close the append handles."""
        for fh in self._appenders.values():
            fh.close()
        self._appenders.clear()

    # --- reading -------------------------------------------------------------------------------------

    def read_info(self) -> RunInfo:
        """The run's RunInfo."""
        path = self.path / RUN_FILE
        if not path.is_file():
            raise DataError(f"{self.path}: not an evalkit run directory (no {RUN_FILE})")
        try:
            return RunInfo.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise DataError(f"{path}: not a valid run file: {exc.errors()[0]['msg']}") from None

    def samples(self, limit: int | None = None) -> RecordFile[Sample]:
        """samples.jsonl, read in passes (the first `limit` only, when given)."""
        return RecordFile(self.path / SAMPLES_FILE, Sample, limit=limit)

    def generations(self) -> RecordFile[Generation]:
        """generations.jsonl, read in passes (a torn last line from a crash is skipped)."""
        return RecordFile(self.path / GENERATIONS_FILE, Generation, tolerate_torn_tail=True)

    def results(self) -> RecordFile[SampleResult]:
        """results.jsonl, read in passes."""
        return RecordFile(self.path / RESULTS_FILE, SampleResult)

    def read_samples(self) -> list[Sample]:
        """Every sample, in memory (for small runs and tools; runs are read with `samples()`)."""
        return list(self.samples())

    def read_generations(self) -> list[Generation]:
        """Every generation written so far, in memory (a torn last line from a crash is skipped)."""
        return list(self.generations())

    def read_results(self) -> list[SampleResult]:
        """Every per-sample result, in memory."""
        return list(self.results())

    def read_summary(self) -> TaskSummary:
        """The task summary."""
        path = self.path / SUMMARY_FILE
        if not path.is_file():
            try:
                status = f"the run is '{self.read_info().status}' and"
            except DataError:
                status = "the run"
            raise DataError(f"{path}: missing; {status} did not reach scoring, so there is no report to render. "
                            f"Run the same `evalkit run` command again: it resumes from the cache and writes a "
                            f"complete run.")
        return TaskSummary.model_validate_json(path.read_text(encoding="utf-8"))

    def read_sequential(self) -> Any:
        """The run's `evalkit.sequential.SequentialResult` (sequential.json), or None when it has none."""
        path = self.path / SEQUENTIAL_FILE
        if not path.is_file():
            return None
        from evalkit.sequential import (
            SequentialResult,  # only runs that stopped by a rule have one
        )

        try:
            return SequentialResult.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise DataError(f"{path}: not a valid sequential record: {exc.errors()[0]['msg']}") from None

    def read_run(self) -> RunResult:
        """The whole run for re-rendering its report without any model call: the records stay on disk and are
        read in passes; `samples` covers the samples that have a result (the items the summary covers)."""
        results = self.results()
        return RunResult(info=self.read_info(), samples=self.samples(limit=len(results)),
                         generations=self.generations(), results=results, summary=self.read_summary(),
                         sequential=self.read_sequential())
