"""Reading the data file `evalkit init` drafts a suite for: a fine-tuning file in Mistral's chat format
(validated line by line by evalkit.sources.chat_jsonl, as the fine-tuning guide describes), or a CSV / JSONL
table with an input column and a reference column.

A line that cannot be used is skipped with its line number and reason, never half-used; a file with no
usable line is an error.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evalkit.errors import ConfigError, DataError
from evalkit.records import Sample
from evalkit.sources.chat_jsonl import SkippedLine, load_chat_jsonl
from evalkit.user_errors import unknown_name

INPUT_COLUMNS = ("input", "prompt", "question", "query", "text", "source", "instruction")
"""Column names taken as the input, first match wins (case-insensitive)."""
REFERENCE_COLUMNS = ("reference", "target", "answer", "label", "output", "completion", "expected", "response")
"""Column names taken as the reference answer, first match wins (case-insensitive)."""
ID_COLUMNS = ("id", "sample_id", "uid", "key")


@dataclass(frozen=True)
class DataProfile:
    """What `evalkit init` learned from the data file."""

    path: Path
    format: Literal["chat", "jsonl", "csv"]
    samples: tuple[Sample, ...]
    skipped: tuple[SkippedLine, ...]
    n_lines: int
    fields: dict[str, str]
    """For jsonl/csv: the suite's `data.fields` mapping (id, input, target to column names)."""
    system: str | None
    """The system message most chat lines share (the instructions the data was written with), if any."""
    multi_turn: bool
    """True when some chat line holds more than one user turn before its reference."""
    needs_clean_copy: bool
    """True when the table had lines to skip: the suite then reads a copy of the valid rows."""


def _is_chat(path: Path) -> bool:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(obj, dict) and "messages" in obj
    return False


def _pick(columns: Sequence[str], wanted: str | None, candidates: Sequence[str], what: str, path: Path,
          flag: str) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise unknown_name("column", wanted, columns, where=f"{path}: {flag}")
        return wanted
    lower = {c.lower(): c for c in columns}
    for name in candidates:
        if name in lower:
            return lower[name]
    if what == "id":
        return None
    raise ConfigError(f"{path}: no {what} column (looked for {', '.join(candidates)}; the file has "
                      f"{', '.join(columns) or 'no columns'}); name it with {flag}")


def _read_rows(path: Path, fmt: str) -> tuple[list[tuple[int, dict[str, object]]], list[SkippedLine], int]:
    rows: list[tuple[int, dict[str, object]]] = []
    skipped: list[SkippedLine] = []
    n = 0
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            if fmt == "csv":
                reader = csv.DictReader(fh)
                for row in reader:
                    n += 1
                    if None in row or any(v is None for v in row.values()):
                        skipped.append(SkippedLine(reader.line_num, f"expected {len(reader.fieldnames or [])} "
                                                                    "values as in the header row"))
                        continue
                    rows.append((reader.line_num, dict(row)))
            else:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    n += 1
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError as exc:
                        skipped.append(SkippedLine(lineno, f"invalid JSON ({exc.msg} at column {exc.colno})"))
                        continue
                    if not isinstance(obj, dict):
                        skipped.append(SkippedLine(lineno, f"expected a JSON object, got {type(obj).__name__}"))
                        continue
                    rows.append((lineno, obj))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return rows, skipped, n


def _table(path: Path, fmt: Literal["jsonl", "csv"], input_column: str | None, reference_column: str | None,
           id_column: str | None) -> DataProfile:
    rows, skipped, n = _read_rows(path, fmt)
    columns: list[str] = []
    for _, row in rows:
        columns += [c for c in row if c not in columns]
    inp = _pick(columns, input_column, INPUT_COLUMNS, "input", path, "--input-column")
    ref = _pick(columns, reference_column, REFERENCE_COLUMNS, "reference", path, "--reference-column")
    sid = _pick(columns, id_column, ID_COLUMNS, "id", path, "--id-column")
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for lineno, row in rows:
        text, target = row.get(inp), row.get(ref)
        if not isinstance(text, str) or not text.strip():
            skipped.append(SkippedLine(lineno, f"empty or missing input {inp!r}"))
            continue
        if target is None or (isinstance(target, str) and not target.strip()):
            skipped.append(SkippedLine(lineno, f"empty or missing reference {ref!r}"))
            continue
        if not isinstance(target, (str, int, float, bool)):
            skipped.append(SkippedLine(lineno, f"reference {ref!r} must be text, got {type(target).__name__}"))
            continue
        raw_id = row.get(sid) if sid else None
        sample_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else f"line-{lineno}"
        if sample_id in seen:
            skipped.append(SkippedLine(lineno, f"id {sample_id!r} repeats line {seen[sample_id]}"))
            continue
        seen[sample_id] = lineno
        samples.append(Sample(id=sample_id, input=text, target=str(target)))
    if not samples:
        shown = "; ".join(str(s) for s in skipped[:3])
        raise DataError(f"{path}: no usable line ({n} read){': ' + shown if shown else ''}")
    skipped.sort(key=lambda s: s.line)
    fields = {"id": sid or "id", "input": inp, "target": ref}
    return DataProfile(path=path, format=fmt, samples=tuple(samples), skipped=tuple(skipped), n_lines=n,
                       fields=fields, system=None, multi_turn=False,
                       needs_clean_copy=bool(skipped) or sid is None)


def _chat(path: Path) -> DataProfile:
    data = load_chat_jsonl(path)
    systems = Counter(m["content"] for s in data.samples for m in s.fields["messages"][:1] if m["role"] == "system")
    system = None
    if systems:
        text, count = systems.most_common(1)[0]
        system = text if count * 2 >= len(data.samples) else None
    multi = any(sum(m["role"] == "user" for m in s.fields["messages"]) > 1 for s in data.samples)
    return DataProfile(path=path, format="chat", samples=data.samples, skipped=data.skipped, n_lines=data.n_lines,
                       fields={}, system=system, multi_turn=multi, needs_clean_copy=False)


def read_data(path: Path, *, input_column: str | None = None, reference_column: str | None = None,
              id_column: str | None = None) -> DataProfile:
    """Profile the data file at `path` (format from its suffix and first line)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--data: file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _table(path, "csv", input_column, reference_column, id_column)
    if suffix not in (".jsonl", ".json", ".ndjson"):
        raise ConfigError(f"--data {path}: expected a .jsonl (chat fine-tuning format or one object per line) or "
                          f".csv file, got {suffix or 'no suffix'}")
    if _is_chat(path) and input_column is None and reference_column is None:
        return _chat(path)
    return _table(path, "jsonl", input_column, reference_column, id_column)
