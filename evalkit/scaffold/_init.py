"""`evalkit init`'s work: profile the data, draft the suite, write it (and a clean copy of the data when rows
had to be skipped), and check that what was written loads as a suite with its data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import ConfigError
from evalkit.loaders import load_data
from evalkit.scaffold._data import DataProfile, read_data
from evalkit.scaffold._draft import (
    SuiteDraft,
    build_draft,
    clean_rows,
    default_name,
    render_suite,
)
from evalkit.store import write_atomic
from evalkit.suite import SUITE_FILE, load_suite

CLEAN_DATA_FILE = "data.jsonl"


@dataclass(frozen=True)
class InitResult:
    """What `evalkit init` wrote."""

    suite_path: Path
    data_copy: Path | None
    """The clean copy of the valid rows, when the table had rows to skip."""
    profile: DataProfile
    draft: SuiteDraft
    command: str
    """The `evalkit run` command to use."""


def init_suite(data: Path, *, out: Path | None = None, name: str | None = None, models: str = "base,ft",
               force: bool = False, input_column: str | None = None, reference_column: str | None = None,
               id_column: str | None = None) -> InitResult:
    """Draft and write a suite for the data file `data` (default: benchmarks/<name>/suite.yaml)."""
    profile = read_data(Path(data), input_column=input_column, reference_column=reference_column,
                        id_column=id_column)
    name = name or default_name(profile.path)
    suite_path = Path(out) if out is not None else Path("benchmarks") / name / SUITE_FILE
    if suite_path.is_dir():
        suite_path = suite_path / SUITE_FILE
    if suite_path.exists() and not force:
        raise ConfigError(f"{suite_path}: already exists; choose another --out or pass --force to replace it")
    suite_path.parent.mkdir(parents=True, exist_ok=True)
    copy = None
    if profile.needs_clean_copy:
        copy = suite_path.parent / CLEAN_DATA_FILE
        if copy.resolve() == profile.path.resolve():
            raise ConfigError(f"{copy}: the clean copy of the data would replace the data file; choose another --out")
        write_atomic(copy, clean_rows(profile))
    draft = build_draft(profile, suite_path.parent, name, copy)
    command = f"evalkit run {suite_path} --models {models}"
    write_atomic(suite_path, render_suite(draft, command))
    # What was written must load, with its data, exactly as `evalkit run` will load it.
    spec = load_suite(str(suite_path))
    load_data(spec.data, spec.directory)
    return InitResult(suite_path=suite_path, data_copy=copy, profile=profile, draft=draft, command=command)
