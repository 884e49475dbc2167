"""iter_data: one pass, one sample at a time; errors when the pass reaches the bad row, duplicates naming both
rows, "no samples" at the end; load_data is the same pass into a list."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.loaders import iter_data, load_data
from evalkit.suite import DataSpec

FIELDS = {"id": "id", "input": "text", "target": "label"}


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_bad_line_is_raised_when_the_pass_reaches_it(tmp_path: Path) -> None:
    _jsonl(tmp_path / "d.jsonl", [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}, "{not json"])
    got = []
    with pytest.raises(DataError, match=r"d.jsonl:3: invalid JSON"):
        for sample in iter_data(DataSpec(path="d.jsonl", fields=FIELDS), tmp_path):
            got.append(sample.id)
    assert got == ["1", "2"]  # streamed: the first two came before the third line was read


def test_a_duplicate_names_both_rows_when_reached(tmp_path: Path) -> None:
    _jsonl(tmp_path / "d.jsonl", [{"id": "a", "text": "x"}, "", {"id": "b", "text": "y"}, {"id": "a", "text": "z"}])
    got = []
    with pytest.raises(DataError, match=r"d.jsonl: duplicated id 'a' \(rows 1 and 3\)"):
        for sample in iter_data(DataSpec(path="d.jsonl", fields=FIELDS), tmp_path):
            got.append(sample.id)
    assert got == ["a", "b"]


def test_an_empty_source_says_so_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"d.jsonl: no samples \(the file is empty\)"):
        list(iter_data(DataSpec(path="d.jsonl", fields=FIELDS), tmp_path))
    (tmp_path / "h.csv").write_text("id,text\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"h.csv: no samples \(the file is empty or has only a header\)"):
        list(iter_data(DataSpec(source="csv", path="h.csv", fields=FIELDS), tmp_path))


def test_headerless_csv_rows_stream_with_line_ids(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("q1,a,b,c,d,A\nq2,a,b,c,d,B\nq3,a,b\n", encoding="utf-8")
    spec = DataSpec(source="csv", path="m.csv", columns=["question", "A", "B", "C", "D", "answer"],
                    fields={"input": "question", "target": "answer"})
    stream = iter(iter_data(spec, tmp_path))
    assert [next(stream).id, next(stream).id] == ["line-1", "line-2"]
    with pytest.raises(DataError, match=r"m.csv:3: expected 6 values .* got 3"):
        next(stream)


def test_warnings_of_a_chat_file_and_load_data(tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    _jsonl(tmp_path / "c.jsonl", [good, {"messages": []}])
    spec = DataSpec(source="chat_jsonl", path="c.jsonl")
    stream = iter_data(spec, tmp_path)
    assert len(list(stream)) == 1 and len(stream.warnings) == 1 and stream.warnings[0].startswith("c.jsonl line 2")
    loaded = load_data(spec, tmp_path)
    assert [s.id for s in loaded.samples] == [s.id for s in iter_data(spec, tmp_path)]
    assert loaded.warnings == stream.warnings


def test_a_pass_over_20k_lines_holds_one_sample_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(20_000):
            fh.write(json.dumps({"id": i, "text": f"query number {i} " * 4, "label": "a"}) + "\n")
    spec = DataSpec(path="big.jsonl", fields=FIELDS)
    tracemalloc.start()
    count = sum(1 for _ in iter_data(spec, tmp_path))
    streamed_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    tracemalloc.start()
    listed = load_data(spec, tmp_path).samples
    listed_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == len(listed) == 20_000
    # Not a speed target: the list holds every sample, the pass only the id digests (ints in a set).
    assert streamed_peak < listed_peak / 4, (streamed_peak, listed_peak)
