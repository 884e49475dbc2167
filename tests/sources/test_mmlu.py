"""MMLU questions as samples: the hub's rows and the original CSV give the same samples (and ids)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.loaders import load_samples
from evalkit.sources.mmlu import mmlu_sample
from evalkit.suite import DataSpec

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "mmlu" / "medical_genetics_test.csv"


def test_hub_row_and_csv_row_are_the_same_sample() -> None:
    hub = mmlu_sample(1, "test", "Which?", ["a", "b", "c", "d"], 2, "medical_genetics", "hub row 1")
    original = mmlu_sample(1, "test", "Which? ", ("a", "b", "c", "d "), "C", "medical_genetics", "f.csv:1")
    assert hub == original
    assert (hub.id, hub.input, hub.target, hub.fields) == ("test-001", "Which?", "C",
                                                           {"options": ["a", "b", "c", "d"], "subject": "medical_genetics"})


@pytest.mark.parametrize(("question", "choices", "answer", "message"), [
    ("", ["a", "b", "c", "d"], 0, "'question' must be a non-empty string"),
    ("Q", ["a", "b", "c"], 0, r"'choices' must be 4 option texts, got \['a', 'b', 'c'\]"),
    ("Q", "abcd", 0, "'choices' must be 4 option texts"),
    ("Q", ["a", "b", "c", "d"], 4, "'answer' must be one of A, B, C, D \\(or 0-3\\), got 4"),
    ("Q", ["a", "b", "c", "d"], "E", "'answer' must be one of A, B, C, D \\(or 0-3\\), got 'E'"),
    ("Q", ["a", "b", "c", "d"], True, "'answer' must be one of"),
])
def test_malformed_values_name_the_row_and_field(question, choices, answer, message) -> None:
    with pytest.raises(DataError, match=rf"where: {message}"):
        mmlu_sample(1, "test", question, choices, answer, "s", "where")


def test_a_short_csv_row_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "x_test.csv"
    path.write_text("Q1,a,b,c,d,A\nQ2,a,b,c,d\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"x_test.csv:2: expected 6 values \(question, A, B, C, D, answer\), got 5"):
        load_samples(DataSpec(source="mmlu", path=str(path), name="x"), tmp_path)


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared/data is not beside the repository")
def test_the_real_csv_and_the_same_rows_in_the_hub_schema_agree(tmp_path: Path) -> None:
    from_csv = load_samples(DataSpec(source="mmlu", path=str(SHARED), name="medical_genetics"), tmp_path)
    assert len(from_csv) == 100 and [s.id for s in from_csv][:2] == ["test-001", "test-002"]
    assert from_csv[-1].id == "test-100" and {s.target for s in from_csv} == {"A", "B", "C", "D"}
    # The hub's schema: choices as a list, the answer as a class-label index.
    with SHARED.open(newline="", encoding="utf-8") as fh:
        rows = [{"question": q, "subject": "medical_genetics", "choices": [a, b, c, d], "answer": "ABCD".index(ans)}
                for q, a, b, c, d, ans in csv.reader(fh)]
    hub_copy = tmp_path / "test.jsonl"
    hub_copy.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    from_rows = load_samples(DataSpec(source="mmlu", path=str(hub_copy), name="medical_genetics"), tmp_path)
    assert from_rows == from_csv
