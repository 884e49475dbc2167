"""The Multi-EURLEX source on real rows (../shared/data/multi_eurlex, the hub's all_languages schema)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import ConfigError, DataError
from evalkit.loaders import load_samples
from evalkit.metrics.terminology import load_glossary
from evalkit.sources.eurlex import EurlexOptions, eurlex_pairs
from evalkit.suite import DataSpec, load_suite

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "multi_eurlex"
GLOSSARY = REPO / "benchmarks" / "eurlex" / "glossary.csv"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"needs the shared Multi-EURLEX sample in {SHARED}")


def _rows(split: str) -> list[dict]:
    return [json.loads(line) for line in (SHARED / f"{split}.jsonl").read_text("utf-8").splitlines() if line]


def test_paragraph_pairs_are_aligned_lines_of_the_same_act() -> None:
    rows = _rows("train")
    samples, stats = eurlex_pairs(rows, EurlexOptions(min_chars=1, max_chars=None))
    by_id = {r["celex_id"]: r for r in rows}
    assert stats.documents == 10 and stats.missing_language == 0
    # Three acts have one more German line than French (21/22, 170/171, 21/22): skipped, never guessed at.
    assert stats.misaligned == 3 and stats.pairs == sum(
        len([x for x in r["text"]["fr"].splitlines() if x.strip()]) for r in rows
        if len([x for x in r["text"]["fr"].splitlines() if x.strip()])
        == len([x for x in r["text"]["de"].splitlines() if x.strip()]))
    for s in samples:
        celex, idx = s.id.split("#")
        fr = [x.strip() for x in by_id[celex]["text"]["fr"].splitlines() if x.strip()]
        de = [x.strip() for x in by_id[celex]["text"]["de"].splitlines() if x.strip()]
        assert len(fr) == len(de)
        assert (s.input, s.target) == (fr[int(idx) - 1], de[int(idx) - 1])
        assert s.fields["celex_id"] == celex and s.fields["paragraph"] == int(idx)
    assert len({s.id for s in samples}) == len(samples)


def test_length_caps_and_glossary_selection_through_datasets() -> None:
    spec = DataSpec(source="eurlex", path="json", data_files=str(SHARED / "test.jsonl"), split="train",
                    options={"glossary": str(GLOSSARY), "require_glossary_term": True, "min_chars": 40,
                             "max_chars": 600})
    samples = load_samples(spec, REPO)
    glossary = load_glossary(GLOSSARY)
    assert samples and all(40 <= len(s.input) <= 600 for s in samples)
    assert all(s.fields["glossary_terms"] for s in samples)
    terms = {t for s in samples for t in s.fields["glossary_terms"]}
    assert "État membre" in terms and terms <= {e.source for e in glossary}
    # The same rows without the filter give more pairs; the filter only removes.
    spec_all = spec.model_copy(update={"options": {"min_chars": 40, "max_chars": 600}})
    everything = {s.id for s in load_samples(spec_all, REPO)}
    assert {s.id for s in samples} < everything
    assert isinstance(samples[0].fields["publication_date"], str)


def test_document_mode_and_missing_languages() -> None:
    rows = _rows("dev")
    rows[0] = {**rows[0], "text": {**rows[0]["text"], "de": None}}
    rows[1] = {**rows[1], "text": {"fr": rows[1]["text"]["fr"], "en": "x"}}
    samples, stats = eurlex_pairs(rows, EurlexOptions(segment="document", max_chars=None))
    assert stats.missing_language == 2 and stats.pairs == 8
    assert samples[0].id == rows[2]["celex_id"] and samples[0].target.startswith("DURCHFÜHRUNGSVERORDNUNG")


def test_option_errors_name_the_field() -> None:
    spec = DataSpec(source="eurlex", path="json", data_files=str(SHARED / "dev.jsonl"), options={"segmnt": "x"})
    with pytest.raises(ConfigError, match=r"data.options.segmnt: unknown option"):
        load_samples(spec, REPO)
    spec = DataSpec(source="eurlex", path="json", data_files=str(SHARED / "dev.jsonl"),
                    options={"require_glossary_term": True})
    with pytest.raises(ConfigError, match="needs data.options.glossary"):
        load_samples(spec, REPO)
    spec = DataSpec(source="eurlex", path="json", data_files=str(SHARED / "dev.jsonl"),
                    options={"source_lang": "it"})
    with pytest.raises(DataError, match=r"no it->de pair left of 10 acts \(10 without both languages"):
        load_samples(spec, REPO)


def test_hub_suite_reads_the_hub_config() -> None:
    suite = load_suite(str(REPO / "benchmarks" / "eurlex" / "hub.yaml"))
    assert (suite.data.source, suite.data.path, suite.data.name) == ("eurlex", "coastalcph/multi_eurlex",
                                                                     "all_languages")
    bundled = load_suite("eurlex")
    assert suite.prompts == bundled.prompts and suite.task_args == bundled.task_args
