"""results.json: validates against its schema, round-trips, never holds NaN, and keeps the right numbers."""

from __future__ import annotations

import json
import math

import jsonschema
import pytest
from report_fixtures import make_run

from evalkit.report import SCHEMA_PATH, results_document, write_report
from evalkit.report.results_json import dumps


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def test_document_validates_and_round_trips(run3, schema) -> None:
    doc = results_document(run3)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    assert json.loads(dumps(doc)) == doc


def test_numbers_and_keys(run3) -> None:
    doc = json.loads(dumps(results_document(run3)))
    assert doc["schema_version"] == "1"
    assert list(doc["models"]) == ["base", "ft", "ft-lr1e-5"] == doc["run"]["model_order"]
    acc = doc["models"]["ft"]["metrics"]["accuracy"]
    assert acc == {"value": pytest.approx(0.6), "ci_low": pytest.approx(0.4), "ci_high": pytest.approx(0.8),
                   "n": 3, "higher_is_better": True, "unit": "", "kind": "task"}
    assert doc["models"]["base"]["metrics"]["cost_usd"]["value"] is None  # unpriced: unknown, not zero
    assert doc["models"]["ft"]["metrics"]["latency_p50_s"]["kind"] == "operational"
    assert doc["models"]["ft-lr1e-5"]["calls"] == {"total": 3, "failed": 1, "cached": 1, "retries": 0}
    assert "base" not in doc["comparisons"]
    c = doc["comparisons"]["ft-lr1e-5"]["accuracy"]
    assert c["reference"] == "base" and c["delta"] == pytest.approx(0.2) and c["p_value"] == 0.012
    assert c["significant"] is True and c["verdict"] == "significant" and c["test"] == "mcnemar-exact"
    few = doc["comparisons"]["ft"]["macro_f1"]
    assert few["significant"] is False and few["verdict"] == "too few items"
    assert doc["confusion_matrices"][0]["predicted_labels"][-1] == "invalid"
    assert doc["prompts"][0]["template"] == "Ticket: {{ input }}\nLabel:"


def test_nan_and_infinity_become_null(run3) -> None:
    text = dumps(results_document(run3))
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text)
    inv = doc["comparisons"]["ft"]["invalid_rate"]
    assert inv["delta"] is None and inv["ci_low"] is None and inv["ci_high"] is None and inv["p_value"] is None
    assert doc["tables"][0]["rows"][1] == ["refund|x", None, 1]


def test_dumps_refuses_nan() -> None:
    with pytest.raises(ValueError):
        dumps({"x": math.nan})


def test_write_report_writes_three_files_atomically_and_the_items(tmp_path, run3, schema) -> None:
    paths = write_report(run3, tmp_path / "out")
    assert paths.html.read_text().startswith("<!DOCTYPE html>")
    assert paths.markdown.read_text().startswith("# support-intents")
    jsonschema.validate(json.loads(paths.json.read_text()), schema)
    # No temporary file is left behind; the explorer's items sit in their own folder.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report-items", "report.html", "results.json",
                                                                   "summary.md"]
    assert sorted(p.name for p in paths.items.iterdir()) == ["charts.json", "items-00001.js"]
    text = (paths.items / "items-00001.js").read_text()
    assert text.startswith("evalkitItems(1, [") and text.rstrip().endswith("]);")
    items = json.loads(text[len("evalkitItems(1, "):text.rstrip().rindex(")")])
    assert [(it["i"], it["id"]) for it in items] == [(0, "s1"), (1, "s2"), (2, "s3")]
    # Untrusted text is data: markup characters are escaped in the JavaScript source, intact once parsed.
    assert "<" not in text and ">" not in text
    assert "<script>alert(1)</script>" in items[1]["input"]


def test_one_model_and_incomplete_runs_validate(schema) -> None:
    for run in (make_run(("base",)), make_run(status="running")):
        jsonschema.validate(results_document(run), schema)
    assert results_document(make_run(status="running"))["run"]["finished_at"] is None


def test_charts_are_drawn_once_and_again_when_what_they_show_changes(tmp_path, run3, monkeypatch) -> None:
    from evalkit.report import charts

    drawn: list[str] = []
    original = charts.metric_bars

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append("bars")
        return original(*args, **kwargs)

    monkeypatch.setattr(charts, "metric_bars", counting)
    first = write_report(run3, tmp_path / "out").html.read_text()
    again = write_report(run3, tmp_path / "out").html.read_text()
    assert drawn == ["bars"] and again == first  # the second render reused every chart, and says the same
    changed = run3.model_copy(update={"summary": run3.summary.model_copy(update={"notes": ("changed",)})})
    write_report(changed, tmp_path / "out")
    assert drawn == ["bars", "bars"]
    # A damaged cache is only a missed one.
    (tmp_path / "out" / "report-items" / "charts.json").write_text("{not json")
    write_report(changed, tmp_path / "out")
    assert drawn == ["bars", "bars", "bars"]
