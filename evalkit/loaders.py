"""Read a suite's samples: local JSONL/CSV files, Hugging Face datasets, and the sources of evalkit.sources."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import DataError
from evalkit.records import Sample
from evalkit.suite import DataSpec


def _to_sample(row: Mapping[str, Any], fields: Mapping[str, str], where: str) -> Sample:
    """Map one row to a Sample; `where` names the file and line for errors."""
    id_col, input_col = fields.get("id", "id"), fields.get("input", "input")
    target_col = fields.get("target")
    missing = [c for c in (id_col, input_col) if c not in row]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(repr(c) for c in missing)}; "
                        f"the row has {', '.join(repr(c) for c in row) or 'no columns'}")
    if row[input_col] is None or not isinstance(row[input_col], str | int | float):
        raise DataError(f"{where}: column {input_col!r} must be text, got {type(row[input_col]).__name__}")
    target = row.get(target_col) if target_col else None
    used = {id_col, input_col, target_col}
    return Sample(
        id=str(row[id_col]),
        input=str(row[input_col]),
        target=None if target is None else str(target),
        fields={k: v for k, v in row.items() if k not in used},
    )


def _check_unique(samples: list[Sample], where: str) -> None:
    seen: dict[str, int] = {}
    for i, s in enumerate(samples, 1):
        if s.id in seen:
            raise DataError(f"{where}: duplicated id {s.id!r} (rows {seen[s.id]} and {i})")
        seen[s.id] = i


def read_jsonl(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; errors name the file and line."""
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
                if not isinstance(obj, dict):
                    raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
                yield lineno, obj
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def load_jsonl(path: Path, fields: Mapping[str, str]) -> list[Sample]:
    """Samples from a JSONL file, one object per line."""
    samples = [_to_sample(obj, fields, f"{path}:{lineno}") for lineno, obj in read_jsonl(path)]
    if not samples:
        raise DataError(f"{path}: no samples (the file is empty)")
    _check_unique(samples, str(path))
    return samples


def load_csv(path: Path, fields: Mapping[str, str], columns: Sequence[str] | None = None) -> list[Sample]:
    """Samples from a CSV file with a header row, or without one when `columns` names its columns."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, fieldnames=list(columns) if columns else None))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    # Line numbers count the header (when there is one) as line 1; a headerless row must fill every column.
    first = 1 if columns else 2
    if columns:
        for i, row in enumerate(rows):
            if None in row or any(v is None for v in row.values()):
                got = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or [])
                raise DataError(f"{path}:{i + first}: expected {len(columns)} values ({', '.join(columns)}), got {got}")
        id_col = fields.get("id", "id")
        if id_col not in columns:
            # A headerless file rarely has ids (MMLU's has none): its line numbers are stable ones.
            rows = [{id_col: f"line-{i + first}", **row} for i, row in enumerate(rows)]
    samples = [_to_sample(row, fields, f"{path}:{i + first}") for i, row in enumerate(rows)]
    if not samples:
        raise DataError(f"{path}: no samples (the file is empty or has only a header)")
    _check_unique(samples, str(path))
    return samples


def _rows_to_samples(rows: Iterable[Mapping[str, Any]], fields: Mapping[str, str], where: str) -> list[Sample]:
    samples = [_to_sample(row, fields, f"{where} row {i}") for i, row in enumerate(rows)]
    if not samples:
        raise DataError(f"{where}: no samples")
    _check_unique(samples, where)
    return samples


def load_hf(spec: DataSpec, base_dir: Path) -> list[Sample]:
    """Samples from a Hugging Face dataset: the hub (call inside hub_session), a generic builder over local
    `data_files`, or a local copy given by a data override (`copy_of` set; JSONL, CSV or Parquet)."""
    from evalkit.sources.hub import load_hub_split, load_local_rows

    if spec.copy_of:
        path = Path(spec.path)
        return _rows_to_samples(load_local_rows(path, what=f"local copy of {spec.copy_of!r}"), spec.fields, str(path))
    if not spec.data_files:
        return _rows_to_samples(load_hub_split(spec.path, spec.name, spec.split), spec.fields,
                                f"{spec.path}[{spec.split}]")
    import datasets  # heavy; only suites that ask for it pay the import

    files = Path(spec.data_files)
    try:
        ds = datasets.load_dataset(spec.path, spec.name, split=spec.split,
                                   data_files=str(files if files.is_absolute() else base_dir / files))
    except Exception as exc:  # datasets raises many types; all mean "could not load"
        raise DataError(f"Hugging Face dataset {spec.path!r} (config {spec.name!r}, split {spec.split!r}) "
                        f"could not be loaded: {exc}") from None
    return _rows_to_samples(ds, spec.fields, f"{spec.path}[{spec.split}]")


def resolve_data_path(spec: DataSpec, base_dir: Path, path: str | None = None) -> Path:
    """A data path relative to the suite folder, checked to exist."""
    given = path or spec.path
    p = Path(given)
    p = p if p.is_absolute() else base_dir / p
    if not p.is_file():
        where = "" if Path(given).is_absolute() else f" (data path {given!r}, relative to the suite folder {base_dir})"
        raise DataError(f"data file not found: {p.resolve()}{where}")
    return p


@dataclass(frozen=True)
class LoadedData:
    """A suite's samples, and warnings about data left out (e.g. skipped invalid lines), for the run's report."""

    samples: list[Sample]
    warnings: tuple[str, ...] = ()


def load_data(spec: DataSpec, base_dir: Path, *, split_path: str | None = None) -> LoadedData:
    """Like `load_samples`, with notes for the run's report: records a source skipped (invalid chat lines) and
    where a hub data set was read from when not from the hub itself (the local cache, offline)."""
    from evalkit.sources.hub import hub_dataset, hub_session

    hub = hub_dataset(spec, base_dir, split_path=split_path)
    if hub is None:
        return _load_local(spec, base_dir, split_path)
    with hub_session(hub, source=spec.source, config=spec.name, split=spec.split) as notes:
        samples = _load_source(spec, base_dir, split_path, hub=True)
    return LoadedData(samples, tuple(notes))


def load_samples(spec: DataSpec, base_dir: Path, *, split_path: str | None = None) -> list[Sample]:
    """Load the samples a DataSpec describes (`split_path` reads another local split, e.g. train)."""
    return load_data(spec, base_dir, split_path=split_path).samples


def _load_local(spec: DataSpec, base_dir: Path, split_path: str | None) -> LoadedData:
    if spec.source == "chat_jsonl":
        from evalkit.sources.chat_jsonl import load_chat_jsonl

        path = resolve_data_path(spec, base_dir, split_path)
        data = load_chat_jsonl(path)
        return LoadedData(list(data.samples), tuple(f"{path.name} {s} (skipped)" for s in data.skipped))
    return LoadedData(_load_source(spec, base_dir, split_path, hub=False))


def _load_source(spec: DataSpec, base_dir: Path, split_path: str | None, *, hub: bool) -> list[Sample]:
    """The samples of one source; `hub`: `spec.path` is a hub id and the caller holds a hub_session."""
    if spec.source == "bsard":
        from evalkit.sources.bsard import load_bsard  # joins two tables; imported only by suites that use it

        return load_bsard(spec, base_dir, questions_file=split_path)
    if spec.source == "eurlex":
        from evalkit.sources.eurlex import load_eurlex  # pairs two languages of one act; only its suites pay

        return load_eurlex(spec, base_dir, split_path=split_path, hub=hub)
    if spec.source == "mmlu":
        from evalkit.sources.mmlu import load_mmlu

        return load_mmlu(spec, base_dir, split_path=split_path, hub=hub)
    if spec.source == "pubmedqa":
        from evalkit.sources.pubmedqa import read_pubmedqa

        return read_pubmedqa(spec, base_dir, split_path=split_path, hub=hub)
    if spec.source == "hf" and split_path is None:
        return load_hf(spec, base_dir)
    path = resolve_data_path(spec, base_dir, split_path)
    if spec.source == "csv" or path.suffix == ".csv":
        return load_csv(path, spec.fields, spec.columns)
    return load_jsonl(path, spec.fields)
