"""Human label files for `evalkit judge calibrate`: CSV, JSONL or a JSON array, one answer pair per row.

Each row has a question, two answers and which one a human preferred. Column names are matched against a few
common spellings (LLMBar's `input`/`output_1`/`output_2`/`label` included); labels `1`/`a`, `2`/`b` and
`tie`/`0` are accepted in any case.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from evalkit.errors import DataError
from evalkit.judging import LabeledPair, parse_label
from evalkit.loaders import read_jsonl

__all__ = ["COLUMNS", "load_labels"]

COLUMNS: Mapping[str, tuple[str, ...]] = {
    "question": ("question", "input", "prompt", "instruction"),
    "answer_1": ("answer_1", "output_1", "response_1", "answer_a"),
    "answer_2": ("answer_2", "output_2", "response_2", "answer_b"),
    "label": ("label", "human_label", "human", "preference", "winner"),
}
"""Accepted column names per field, first match wins; `id` is optional (default: the row number)."""


def _rows(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for lineno, obj in read_jsonl(path):
            yield f"{path}:{lineno}", obj
    elif suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON array of objects, got {type(data).__name__}")
        for i, obj in enumerate(data):
            if not isinstance(obj, dict):
                raise DataError(f"{path}: item {i}: expected a JSON object, got {type(obj).__name__}")
            yield f"{path}: item {i}", obj
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            for lineno, row in enumerate(csv.DictReader(fh), 2):
                yield f"{path}:{lineno}", dict(row)
    else:
        raise DataError(f"{path}: unknown label file type {path.suffix!r}; allowed: .csv, .jsonl, .json")


def _column(row: Mapping[str, Any], field: str, where: str) -> Any:
    for name in COLUMNS[field]:
        if name in row:
            return row[name]
    raise DataError(f"{where}: no column for {field!r}: expected one of {list(COLUMNS[field])}; "
                    f"the row has {sorted(row)}")


def load_labels(path: Path) -> list[LabeledPair]:
    """Read labelled pairs; a DataError names the file, the row and the field at fault."""
    if not path.is_file():
        raise DataError(f"label file not found: {path}")
    pairs: list[LabeledPair] = []
    seen: set[str] = set()
    try:
        for i, (where, row) in enumerate(_rows(path), 1):
            raw_label = _column(row, "label", where)
            label = parse_label(raw_label)
            if label is None:
                raise DataError(f"{where}: field 'label': received {raw_label!r}; allowed: 1 (or a, answer_1), "
                                f"2 (or b, answer_2), tie (or 0, draw)")
            texts = {f: _column(row, f, where) for f in ("question", "answer_1", "answer_2")}
            bad = [f for f, v in texts.items() if not isinstance(v, str)]
            if bad:
                raise DataError(f"{where}: field(s) {bad} must be text; received "
                                f"{[type(texts[f]).__name__ for f in bad]}")
            pair_id = str(row.get("id", i))
            if pair_id in seen:
                raise DataError(f"{where}: duplicated id {pair_id!r}")
            seen.add(pair_id)
            pairs.append(LabeledPair(id=pair_id, human=label, **texts))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not pairs:
        raise DataError(f"{path}: no labelled pair")
    return pairs
