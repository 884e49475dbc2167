"""Every read of a run directory's files for evalkit.analysis, and nothing else.

The per-item files (samples.jsonl, generations.jsonl, results.jsonl) are streamed line by line into Arrow
columns, in chunks, without building a pydantic record per line: a 100,000-sample run is read in bounded
memory (docs/analysis.md gives the measured figure). Only the fields the frames need are kept; prompts,
which are most of a generation line's bytes, are dropped as each line is parsed.

This is the one module that knows the on-disk layout: when the run directory gains a columnar per-item file,
only the functions here change, and they keep returning the same tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from evalkit.errors import DataError
from evalkit.records import RunInfo
from evalkit.store import (
    GENERATIONS_FILE,
    RESULTS_FILE,
    RESULTS_JSON,
    SAMPLES_FILE,
    RunStore,
    read_results_json,
)

_CHUNK = 8192
"""Rows gathered as Python objects before they become Arrow arrays (bounds the transient memory)."""


@dataclass(frozen=True)
class RunFiles:
    """One run directory's small files: run.json always, results.json when the run was reported."""

    path: Path
    info: RunInfo
    results: Mapping[str, Any] | None
    """results.json (docs/results-schema.md), None when the run never wrote one."""


def read_run_files(run_dir: Path) -> RunFiles:
    """run.json (validated as RunInfo) and results.json (when present, of a known schema version)."""
    info = RunStore(run_dir).read_info()
    rfile = run_dir / RESULTS_JSON
    return RunFiles(path=run_dir, info=info, results=read_results_json(rfile) if rfile.is_file() else None)


def _lines(path: Path, *, tolerate_torn_tail: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; DataError naming the line on bad JSON.

    A process killed mid-write can leave a torn last line in an appended file: with `tolerate_torn_tail` it is
    skipped, as evalkit.store does.
    """
    if not path.is_file():
        raise DataError(f"{path}: missing; is {path.parent} an evalkit run directory?")
    with path.open(encoding="utf-8") as fh:
        pending: tuple[int, str] | None = None
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if pending is not None:
                yield pending[0], _parse(path, *pending)
            pending = (lineno, line)
        if pending is not None:
            try:
                yield pending[0], _parse(path, *pending)
            except DataError:
                if not tolerate_torn_tail:
                    raise


def _parse(path: Path, lineno: int, line: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
    return obj


class _Columns:
    """Columns gathered row by row and turned into Arrow arrays every _CHUNK rows."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self._rows: dict[str, list[Any]] = {f.name: [] for f in schema}
        self._chunks: list[pa.RecordBatch] = []

    def add(self, **values: Any) -> None:
        for name, col in self._rows.items():
            col.append(values.get(name))
        if len(next(iter(self._rows.values()))) >= _CHUNK:
            self._flush()

    def _flush(self) -> None:
        n = len(next(iter(self._rows.values())))
        if n:
            self._chunks.append(pa.RecordBatch.from_pydict(self._rows, schema=self.schema))
            self._rows = {name: [] for name in self._rows}

    def table(self) -> pa.Table:
        self._flush()
        return pa.Table.from_batches(self._chunks, schema=self.schema)


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow strings stay in Arrow buffers (pandas `string[pyarrow]`): far smaller than Python str objects."""
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow"),
                                         pa.large_string(): pd.StringDtype("pyarrow")}.get,
                           self_destruct=True)


def _str(x: Any) -> str | None:
    return x if isinstance(x, str) or x is None else str(x)


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def _bool(x: Any) -> bool | None:
    return x if isinstance(x, bool) else None


_SAMPLE_SCHEMA = pa.schema([("sample_id", pa.string()), ("position", pa.int64()), ("input", pa.string()),
                            ("target", pa.string())])


def read_samples(run_dir: Path) -> pd.DataFrame:
    """samples.jsonl: sample_id, position (data order), input, target."""
    cols = _Columns(_SAMPLE_SCHEMA)
    for i, (_, obj) in enumerate(_lines(run_dir / SAMPLES_FILE)):
        cols.add(sample_id=_str(obj.get("id")), position=i, input=_str(obj.get("input")),
                 target=_str(obj.get("target")))
    return _to_pandas(cols.table())


_GENERATION_SCHEMA = pa.schema([
    ("sample_id", pa.string()), ("model", pa.string()), ("attempt", pa.int64()), ("model_id", pa.string()),
    ("output", pa.string()), ("error", pa.string()), ("latency_s", pa.float64()), ("ttft_s", pa.float64()),
    ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()), ("cost_usd", pa.float64()),
    ("cached", pa.bool_()), ("retries", pa.int64()),
])


def read_generations(run_dir: Path) -> pd.DataFrame:
    """generations.jsonl without the prompts; when a resumed run wrote a call twice, the last write wins."""
    cols = _Columns(_GENERATION_SCHEMA)
    for _, g in _lines(run_dir / GENERATIONS_FILE, tolerate_torn_tail=True):
        usage = g.get("usage") if isinstance(g.get("usage"), dict) else {}
        cols.add(sample_id=_str(g.get("sample_id")), model=_str(g.get("model")), attempt=_int(g.get("attempt")) or 0,
                 model_id=_str(g.get("model_id")), output=_str(g.get("output")), error=_str(g.get("error")),
                 latency_s=_num(g.get("latency_s")), ttft_s=_num(g.get("ttft_s")),
                 prompt_tokens=_int(usage.get("prompt_tokens")),
                 completion_tokens=_int(usage.get("completion_tokens")), cost_usd=_num(g.get("cost_usd")),
                 cached=bool(g.get("cached")), retries=_int(g.get("retries")) or 0)
    df = _to_pandas(cols.table())
    return df.drop_duplicates(["sample_id", "model", "attempt"], keep="last", ignore_index=True)


_SCORE_SCHEMA = pa.schema([("sample_id", pa.string()), ("model", pa.string()), ("score", pa.float64()),
                           ("label", pa.string()), ("correct", pa.bool_())])

_JUDGMENT_SCHEMA = pa.schema([
    ("sample_id", pa.string()), ("call", pa.int64()), ("judge_id", pa.string()), ("judge_version", pa.string()),
    ("template_sha256", pa.string()), ("judge_model", pa.string()), ("model", pa.string()),
    ("order", pa.string()), ("slot_1", pa.string()), ("slot_2", pa.string()), ("attempt", pa.int64()),
    ("status", pa.string()), ("verdict", pa.string()), ("parsed", pa.string()), ("raw_response", pa.string()),
    ("error", pa.string()), ("latency_s", pa.float64()), ("cost_usd", pa.float64()), ("cached", pa.bool_()),
])

_FREE_TEXT_KEYS = frozenset({"justification", "reasoning", "rationale", "explanation"})
"""Keys of a judge answer that hold its free-text reasons rather than its verdict."""


def _json(x: Any) -> str | None:
    return None if x is None else json.dumps(x, sort_keys=True, ensure_ascii=False)


def read_scores(run_dir: Path) -> pd.DataFrame:
    """results.jsonl's per-model scores: sample_id, model, score, label, correct."""
    cols = _Columns(_SCORE_SCHEMA)
    for lineno, r in _lines(run_dir / RESULTS_FILE):
        scores = r.get("scores")
        if not isinstance(scores, dict):
            raise DataError(f"{run_dir / RESULTS_FILE}:{lineno}: expected an object 'scores' keyed by model name")
        sid = _str(r.get("sample_id"))
        for model, s in scores.items():
            s = s if isinstance(s, dict) else {}
            cols.add(sample_id=sid, model=model, score=_num(s.get("value")), label=_str(s.get("label")),
                     correct=_bool(s.get("correct")))
    return _to_pandas(cols.table())


def read_judgments(run_dir: Path) -> pd.DataFrame:
    """results.jsonl's judge calls, one row per call, in file order (see docs/analysis.md for the columns)."""
    cols = _Columns(_JUDGMENT_SCHEMA)
    for _, r in _lines(run_dir / RESULTS_FILE):
        sid = _str(r.get("sample_id"))
        for call, j in enumerate(r.get("judgments") or ()):
            if not isinstance(j, dict):
                continue
            d = j.get("details") if isinstance(j.get("details"), dict) else {}
            parsed = j.get("parsed")
            verdict = ({k: v for k, v in parsed.items() if k not in _FREE_TEXT_KEYS}
                       if isinstance(parsed, dict) else None)
            cols.add(sample_id=sid, call=call, judge_id=_str(j.get("judge_id")),
                     judge_version=_str(j.get("judge_version")), template_sha256=_str(j.get("template_sha256")),
                     judge_model=_str(j.get("judge_model")), model=_str(d.get("model")), order=_str(d.get("order")),
                     slot_1=_str(d.get("slot_1")), slot_2=_str(d.get("slot_2")), attempt=_int(d.get("attempt")),
                     status=_str(d.get("status")), verdict=_json(verdict), parsed=_json(parsed),
                     raw_response=_str(j.get("raw_response")), error=_str(j.get("error")),
                     latency_s=_num(j.get("latency_s")), cost_usd=_num(j.get("cost_usd")),
                     cached=bool(d.get("cached")))
    return _to_pandas(cols.table())


def sample_keys(run_dir: Path) -> Iterator[tuple[str, str, str | None]]:
    """(id, input, target) of each sample, streamed: what identifies an item across runs."""
    for _, obj in _lines(run_dir / SAMPLES_FILE):
        yield str(obj.get("id")), str(obj.get("input")), _str(obj.get("target"))
