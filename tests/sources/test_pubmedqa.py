"""PubMedQA records as multiple-choice samples, on rows and on the real file in ../shared/data when present; the
hub's row schema gives the same samples as the original file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.loaders import load_samples
from evalkit.sources.pubmedqa import OPTIONS, hub_record, load_pubmedqa, pubmedqa_sample
from evalkit.suite import DataSpec

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


def _hub_row(pmid: str, record: dict) -> dict:
    """A record of ori_pqal.json in the hub's `pqa_labeled` schema."""
    return {"pubid": int(pmid), "question": record["QUESTION"],
            "context": {"contexts": record["CONTEXTS"], "labels": record["LABELS"], "meshes": record.get("MESHES", []),
                        "reasoning_required_pred": record.get("reasoning_required_pred", ""),
                        "reasoning_free_pred": record.get("reasoning_free_pred", "")},
            "long_answer": record["LONG_ANSWER"], "final_decision": record["final_decision"]}


def test_hub_row_to_record() -> None:
    pmid, record = hub_record(_hub_row("21645374", RECORD), "row 1")
    s = pubmedqa_sample(pmid, record, "hub")
    assert (s.id, s.target, s.fields["contexts"], s.fields["labels"]) == ("21645374", "yes", RECORD["CONTEXTS"],
                                                                          RECORD["LABELS"])
    with pytest.raises(DataError, match="row 1: 'context' must be an object"):
        hub_record({**_hub_row("1", RECORD), "context": "text"}, "row 1")


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared/data is not beside the repository")
def test_the_real_file_in_the_hub_schema_gives_the_same_samples(tmp_path: Path) -> None:
    raw = json.loads(SHARED.read_text(encoding="utf-8"))
    copy = tmp_path / "pqa_labeled.jsonl"
    copy.write_text("".join(json.dumps(_hub_row(k, v)) + "\n" for k, v in raw.items()), encoding="utf-8")
    spec = DataSpec(source="pubmedqa", path=str(copy), name="pqa_labeled", split="train")
    from_rows = load_samples(spec, tmp_path)
    from_file = load_samples(spec.model_copy(update={"path": str(SHARED)}), tmp_path)
    # The hub has no year (an empty one); everything else is the same, in the same order.
    assert {s.fields["year"] for s in from_rows} == {""} and {s.fields["year"] for s in from_file} != {""}
    assert len(from_rows) == 1000 and from_rows == [s.model_copy(update={"fields": {**s.fields, "year": ""}})
                                                    for s in from_file]
