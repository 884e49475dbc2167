"""PubMedQA records as multiple-choice samples, on rows and on the real file in ../shared/data when present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.sources.pubmedqa import OPTIONS, load_pubmedqa, pubmedqa_sample

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "pubmedqa" / "ori_pqal.json"
RECORD = {"QUESTION": "Do mitochondria play a role?", "CONTEXTS": ["Background.", "Results."],
          "LABELS": ["BACKGROUND", "RESULTS"], "LONG_ANSWER": "They do.", "final_decision": "yes", "YEAR": "2011"}


def test_record_to_sample() -> None:
    s = pubmedqa_sample("21645374", RECORD, "f.json")
    assert (s.id, s.input, s.target) == ("21645374", "Do mitochondria play a role?", "yes")
    assert s.fields["contexts"] == ["Background.", "Results."] and s.fields["options"] == list(OPTIONS)
    assert s.fields["long_answer"] == "They do."


@pytest.mark.parametrize(("change", "message"), [
    ({"QUESTION": ""}, "record '1': 'QUESTION' must be a non-empty string"),
    ({"CONTEXTS": "text"}, "record '1': 'CONTEXTS' must be a non-empty list of strings"),
    ({"final_decision": "probably"}, "record '1': 'final_decision' must be one of yes, no, maybe, got 'probably'"),
])
def test_malformed_records_name_the_pmid_and_field(change, message) -> None:
    with pytest.raises(DataError, match=message):
        pubmedqa_sample("1", {**RECORD, **change}, "f.json")


def test_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text("[]", encoding="utf-8")
    with pytest.raises(DataError, match="expected a non-empty JSON object keyed by PMID"):
        load_pubmedqa(bad)
    bad.write_text('{"1": ', encoding="utf-8")
    with pytest.raises(DataError, match=r"p.json:1: invalid JSON"):
        load_pubmedqa(bad)
    bad.write_text(json.dumps({"1": RECORD, "2": RECORD}), encoding="utf-8")
    assert [s.id for s in load_pubmedqa(bad)] == ["1", "2"]


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared/data is not beside the repository")
def test_the_real_file() -> None:
    samples = load_pubmedqa(SHARED)
    assert len(samples) == 1000 and len({s.id for s in samples}) == 1000
    counts = {o: sum(s.target == o for s in samples) for o in OPTIONS}
    assert counts == {"yes": 552, "no": 338, "maybe": 110}
