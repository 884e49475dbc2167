"""Headerless CSV files with named columns (MMLU's layout), and the message for a missing data file."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.loaders import load_csv, load_samples
from evalkit.suite import DataSpec

COLUMNS = ["question", "A", "B", "C", "D", "answer"]
FIELDS = {"input": "question", "target": "answer"}


def test_headerless_csv_with_named_columns(tmp_path: Path) -> None:
    path = tmp_path / "mmlu.csv"
    path.write_text('"Fusion occurs at the:",telomeres.,centromeres.,histones.,"ends, long arms.",B\n'
                    "Zinc fingers are,DNA-binding,translation,ribosomes,hemoglobin,A\n", encoding="utf-8")
    samples = load_csv(path, FIELDS, COLUMNS)
    assert [s.target for s in samples] == ["B", "A"] and [s.id for s in samples] == ["line-1", "line-2"]
    assert samples[0].fields == {"A": "telomeres.", "B": "centromeres.", "C": "histones.", "D": "ends, long arms."}


@pytest.mark.parametrize(("row", "got"), [("q,a,b,c,d\n", 5), ("q,a,b,c,d,A,extra\n", 7)])
def test_rows_of_the_wrong_width_name_the_line(tmp_path: Path, row: str, got: int) -> None:
    path = tmp_path / "mmlu.csv"
    path.write_text("q0,a,b,c,d,A\n" + row, encoding="utf-8")
    with pytest.raises(DataError, match=rf"mmlu.csv:2: expected 6 values \(question, A, B, C, D, answer\), got {got}"):
        load_csv(path, FIELDS, COLUMNS)


def test_missing_file_names_the_resolved_path_and_the_suite_folder(tmp_path: Path) -> None:
    suite_dir = tmp_path / "repo" / "benchmarks" / "mmlu-genetics"
    suite_dir.mkdir(parents=True)
    spec = DataSpec(source="csv", path="../../../shared/data/mmlu/medical_genetics_test.csv", columns=COLUMNS)
    with pytest.raises(DataError) as info:
        load_samples(spec, suite_dir)
    message = str(info.value)
    assert f"data file not found: {tmp_path / 'shared/data/mmlu/medical_genetics_test.csv'}" in message
    assert f"relative to the suite folder {suite_dir}" in message
