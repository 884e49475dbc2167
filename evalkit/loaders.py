"""Read a suite's samples: local JSONL/CSV files, Hugging Face datasets, and the sources of evalkit.sources."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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


def _id_key(sample_id: str) -> int:
    """An 8-byte digest of an id: what the duplicate check keeps per sample (not the id), so a million-item
    stream holds a set of ints, not a million strings."""
    return int.from_bytes(hashlib.blake2b(sample_id.encode("utf-8"), digest_size=8).digest(), "big")


@dataclass
class DataStream:
    """One pass over a suite's samples, one Sample at a time.

    A bad row raises its DataError (file:line) when the pass reaches it; a duplicated id raises one naming both
    rows (1-based, in sample order); a source with no sample raises "no samples" at the end. `warnings` (records
    a source skipped, where hub data came from) is complete once the pass is over.
    """

    rows: Callable[[], Iterator[Sample]]
    """A fresh iteration over the source: once for the pass, again only to name the first row of a duplicate."""
    where: str
    """The source, for the duplicate and empty-source messages."""
    empty: str = "no samples"
    notes: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Notes for the run's report (complete once iterated)."""
        return tuple(self.notes)

    def __iter__(self) -> Iterator[Sample]:
        seen: set[int] = set()
        count = 0
        for count, sample in enumerate(self.rows(), 1):
            key = _id_key(sample.id)
            if key in seen:
                first = next((i for i, s in enumerate(self.rows(), 1) if s.id == sample.id), count)
                if first < count:  # else two ids share a digest: not a duplicate
                    raise DataError(f"{self.where}: duplicated id {sample.id!r} (rows {first} and {count})")
            seen.add(key)
            yield sample
        if count == 0:
            raise DataError(f"{self.where}: {self.empty}")


def _listed(samples: Sequence[Sample], where: str, empty: str = "no samples",
            notes: Sequence[str] = ()) -> DataStream:
    return DataStream(lambda: iter(samples), where, empty, list(notes))


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


def stream_jsonl(path: Path, fields: Mapping[str, str]) -> DataStream:
    """Samples from a JSONL file, one object per line, read line by line."""
    def rows() -> Iterator[Sample]:
        for lineno, obj in read_jsonl(path):
            yield _to_sample(obj, fields, f"{path}:{lineno}")

    return DataStream(rows, str(path), "no samples (the file is empty)")


def load_jsonl(path: Path, fields: Mapping[str, str]) -> list[Sample]:
    """Samples from a JSONL file, one object per line."""
    return list(stream_jsonl(path, fields))


def stream_csv(path: Path, fields: Mapping[str, str], columns: Sequence[str] | None = None) -> DataStream:
    """Samples from a CSV file with a header row, or without one when `columns` names its columns; row by row."""
    # Line numbers count the header (when there is one) as line 1; a headerless row must fill every column.
    first = 1 if columns else 2
    id_col = fields.get("id", "id")

    def rows() -> Iterator[Sample]:
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                for i, row in enumerate(csv.DictReader(fh, fieldnames=list(columns) if columns else None)):
                    where = f"{path}:{i + first}"
                    if columns:
                        if None in row or any(v is None for v in row.values()):
                            got = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or [])
                            raise DataError(f"{where}: expected {len(columns)} values ({', '.join(columns)}), "
                                            f"got {got}")
                        if id_col not in columns:
                            # A headerless file rarely has ids (MMLU's has none): its line numbers are stable ones.
                            row = {id_col: f"line-{i + first}", **row}
                    yield _to_sample(row, fields, where)
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None

    return DataStream(rows, str(path), "no samples (the file is empty or has only a header)")


def load_csv(path: Path, fields: Mapping[str, str], columns: Sequence[str] | None = None) -> list[Sample]:
    """Samples from a CSV file with a header row, or without one when `columns` names its columns."""
    return list(stream_csv(path, fields, columns))


def _rows_to_samples(rows: Iterable[Mapping[str, Any]], fields: Mapping[str, str], where: str) -> list[Sample]:
    return list(_listed([_to_sample(row, fields, f"{where} row {i}") for i, row in enumerate(rows)], where))


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


def iter_data(spec: DataSpec, base_dir: Path, *, split_path: str | None = None) -> DataStream:
    """The samples a DataSpec describes, as one pass (`split_path` reads another local split, e.g. train).

    JSONL and CSV files are read row by row, so a run over a million items never holds them all; the other
    sources (hub data sets, BSARD's join, chat files) are read whole when this is called and then iterated.
    Reading the hub happens here, inside hub_session: offline and uncached, this call is the one error line.
    """
    from evalkit.sources.hub import hub_dataset, hub_session

    hub = hub_dataset(spec, base_dir, split_path=split_path)
    if hub is not None:
        with hub_session(hub, source=spec.source, config=spec.name, split=spec.split) as notes:
            samples = _load_source(spec, base_dir, split_path, hub=True)
        return _listed(samples, f"{spec.source} data set {hub!r}", notes=notes)
    if spec.source == "chat_jsonl":
        from evalkit.sources.chat_jsonl import load_chat_jsonl

        path = resolve_data_path(spec, base_dir, split_path)
        data = load_chat_jsonl(path)
        return _listed(list(data.samples), str(path), notes=[f"{path.name} {s} (skipped)" for s in data.skipped])
    if spec.source in ("jsonl", "csv") or (spec.source == "hf" and split_path is not None):
        path = resolve_data_path(spec, base_dir, split_path)
        if spec.source == "csv" or path.suffix == ".csv":
            return stream_csv(path, spec.fields, spec.columns)
        return stream_jsonl(path, spec.fields)
    return _listed(_load_source(spec, base_dir, split_path, hub=False), f"{spec.source} data {spec.path!r}")


def load_data(spec: DataSpec, base_dir: Path, *, split_path: str | None = None) -> LoadedData:
    """All the samples of `iter_data`, with its notes for the run's report: records a source skipped (invalid
    chat lines) and where a hub data set was read from when not from the hub itself (the local cache)."""
    stream = iter_data(spec, base_dir, split_path=split_path)
    return LoadedData(list(stream), stream.warnings)


def load_samples(spec: DataSpec, base_dir: Path, *, split_path: str | None = None) -> list[Sample]:
    """Load the samples a DataSpec describes (`split_path` reads another local split, e.g. train)."""
    return list(iter_data(spec, base_dir, split_path=split_path))


def _load_source(spec: DataSpec, base_dir: Path, split_path: str | None, *, hub: bool) -> list[Sample]:
    """The samples of a source read whole; `hub`: `spec.path` is a hub id and the caller holds a hub_session."""
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
    if spec.source == "hf":
        return load_hf(spec, base_dir)
    raise DataError(f"unknown data source {spec.source!r}")  # DataSpec's Literal lists every source above
