"""Records read back in passes: RecordFile (a JSONL file of a run directory) and GenerationIndex (a sample's
generations found by offset), which is all the statistics and the report hold of a run."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.records import (
    Generation,
    ModelScore,
    Prompt,
    RunInfo,
    Sample,
    SampleResult,
    TaskSummary,
)
from evalkit.run_items import GenerationIndex, iter_run_items
from evalkit.store import RecordFile, RunStore


def gen(sid: str, model: str, attempt: int = 0, output: str = "x") -> Generation:
    return Generation(sample_id=sid, model=model, model_id=model, attempt=attempt, prompt=Prompt(text=sid),
                      output=output)


def write(path: Path, records) -> None:  # type: ignore[no-untyped-def]
    path.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")


def test_every_pass_reads_the_file_again_and_limit_cuts_it(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    write(path, [Sample(id=f"s{i}", input=str(i)) for i in range(5)])
    records = RecordFile(path, Sample)
    assert len(records) == 5 and [s.id for s in records] == [f"s{i}" for i in range(5)]
    assert [s.id for s in records] == [s.id for s in records]  # re-iterable
    assert [s.id for s in RecordFile(path, Sample, limit=2)] == ["s0", "s1"] and len(RecordFile(path, Sample,
                                                                                                 limit=2)) == 2


def test_offsets_and_lengths_read_the_same_records_back(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    gens = [gen(f"s{i}", "m", output="é" * i) for i in range(6)]  # multi-byte text: offsets are bytes
    write(path, gens)
    records = RecordFile(path, Generation)
    located = list(records.with_offsets(lengths=True))
    assert [g for _, _, g in located] == gens
    assert list(records.read_at(o for o, _, _ in reversed(located))) == gens[::-1]
    third = located[3][0]
    assert [g.sample_id for _, g in records.with_offsets(start=third)] == ["s3", "s4", "s5"]


def test_a_torn_last_line_is_skipped_only_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    write(path, [gen("s0", "m"), gen("s1", "m")])
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"sample_id": "s2", "mod')  # a process killed mid-write
    records = RecordFile(path, Generation, tolerate_torn_tail=True)
    assert [g.sample_id for g in records] == ["s0", "s1"] and len(records) == 2
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n" + gen("s3", "m").model_dump_json() + "\n")  # ... but it is not the last line any more
    with pytest.raises(DataError, match=r"g.jsonl:3: not a valid Generation record"):
        list(RecordFile(path, Generation, tolerate_torn_tail=True))
    with pytest.raises(DataError, match=r"g.jsonl:3: not a valid Generation record"):
        list(RecordFile(path, Generation))


def test_a_missing_file_names_the_run_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="results.jsonl: missing; is .* an evalkit run directory"):
        list(RecordFile(tmp_path / "results.jsonl", SampleResult))


def test_the_index_groups_each_samples_generations_whatever_the_file_order(tmp_path: Path) -> None:
    samples = [f"s{i}" for i in range(50)]
    gens = [gen(s, m, a, output=f"{s}/{m}/{a}") for m in ("a", "b") for s in samples for a in range(2)]
    rng = random.Random(4)
    rng.shuffle(gens)  # calls finish in any order; one model after the other is just another order
    gens.append(gen("s7", "b", 1, output="s7/b/1 again"))  # a resumed call stored twice: the last one wins
    gens.append(gen("elsewhere", "a"))  # a generation of no sample of the run is ignored
    path = tmp_path / "g.jsonl"
    write(path, gens)
    records = RecordFile(path, Generation)
    index = GenerationIndex(samples)
    for offset, length, g in records.with_offsets(lengths=True):
        index.add(offset, g, length)
    groups = list(index.groups(records, ["a", "b"]))
    assert len(groups) == 50
    for s, group in zip(samples, groups):
        assert list(group) == ["a", "b"]
        for m in ("a", "b"):
            expected = [f"{s}/{m}/0", f"{s}/{m}/1 again" if (s, m) == ("s7", "b") else f"{s}/{m}/1"]
            assert [g.output for g in group[m]] == expected


def test_a_sample_without_generations_gets_an_empty_group(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    write(path, [gen("s1", "a")])
    index = GenerationIndex(["s0", "s1", "s2"])
    for offset, g in RecordFile(path, Generation).with_offsets():
        index.add(offset, g)  # no line lengths: read back with a seek and readline
    assert [list(group) for group in index.groups(RecordFile(path, Generation), ["a"])] == [[], ["a"], []]


def test_read_run_keeps_the_records_on_disk_and_covers_the_scored_samples(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.write_info(RunInfo(run_id="r", suite="s", suite_path="s.yaml", task="classification",
                             models=({"name": "a"},), reference="a", seed=0, started_at="t", evalkit_version="0"))
    store.write_records("samples.jsonl", [Sample(id=f"s{i}", input="q") for i in range(10)])
    store.write_records("generations.jsonl", [gen(f"s{i}", "a") for i in range(4)])
    store.write_records("results.jsonl", [SampleResult(sample_id=f"s{i}", scores={"a": ModelScore(value=1.0)})
                                          for i in range(4)])  # a run that stopped after 4 items
    store.write_json("summary.json", TaskSummary(task="classification", metrics={"a": ()}))
    run = store.read_run()
    assert all(isinstance(x, RecordFile) for x in (run.samples, run.generations, run.results))
    assert len(run.samples) == 4 and [s.id for s in run.samples] == ["s0", "s1", "s2", "s3"]
    items = list(iter_run_items(run, ["a"]))
    assert [(i.sample.id, i.result.sample_id, len(i.generations["a"])) for i in items] == \
        [(f"s{i}", f"s{i}", 1) for i in range(4)]


def test_raw_passes_give_the_lines_as_dicts_with_the_same_rules(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    write(path, [gen("s0", "m"), gen("s1", "m")])
    records = RecordFile(path, Generation, tolerate_torn_tail=True)
    located = list(records.raw(offsets=True))
    assert [d["sample_id"] for _, _, d in located] == ["s0", "s1"]
    assert [(o, n) for o, n, _ in located] == [(o, n) for o, n, _ in records.with_offsets(lengths=True)]
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"sample_id": "s2", "mod')
    assert [d["sample_id"] for d in records.raw()] == ["s0", "s1"]  # a torn tail is skipped
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n" + gen("s3", "m").model_dump_json() + "\n")
    with pytest.raises(DataError, match=r"g.jsonl:3: not a valid Generation record"):
        list(records.raw())
