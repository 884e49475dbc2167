"""The Hugging Face `datasets` loading path, offline, with a generic builder over a local file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.loaders import load_samples
from evalkit.suite import DataSpec


def test_hf_json_builder_maps_fields(tmp_path: Path) -> None:
    rows = [{"qid": i, "question": f"q{i}", "answer": "yes" if i % 2 else "no", "ctx": f"c{i}"} for i in range(5)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    spec = DataSpec(source="hf", path="json", data_files="d.jsonl", split="train",
                    fields={"id": "qid", "input": "question", "target": "answer"})
    samples = load_samples(spec, tmp_path)
    assert [s.id for s in samples] == ["0", "1", "2", "3", "4"]
    assert samples[1].target == "yes" and samples[1].fields == {"ctx": "c1"}


def test_hf_missing_dataset_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = DataSpec(source="hf", path="json", data_files="missing.jsonl", split="train")
    with pytest.raises(DataError, match=r"Hugging Face dataset 'json'.*could not be loaded"):
        load_samples(spec, tmp_path)
