"""The translation task: MT metrics and comparisons, glossary checks, failed calls, config errors, and the
pairwise preference judge as a labelled proxy."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from evalkit.errors import ConfigError, DataError
from evalkit.metrics.translation import corpus_scores
from evalkit.records import Generation, Prompt, Sample
from evalkit.tasks import ScoringContext, SummaryContext, create_task
from human.humanrun import MODEL_A, MODEL_B, SOURCES, a_output, b_output, make_run
from judging.fakejudge import judge_model, slots


def _samples() -> list[Sample]:
    return [Sample(id=f"s{i:02d}", input=fr, target=de) for i, (fr, de) in enumerate(SOURCES)]


def _gen(sample: Sample, model: str, output: str | None) -> Generation:
    return Generation(sample_id=sample.id, model=model, model_id=model, prompt=Prompt(text=sample.input),
                      output=output, error=None if output is not None else "boom")


def _task(tmp_path: Path, **args):
    (tmp_path / "glossary.csv").write_text("source,target\nvice de procédure,Verfahrensmangel\n"
                                           "mise en demeure,Mahnung\nforce majeure,höhere Gewalt\n", "utf-8")
    return create_task("translation", {"source_lang": "fr", "target_lang": "de", "glossary": "glossary.csv", **args},
                       tmp_path / "suite.yaml")


def _score_all(task, samples, outputs, judge=None):
    async def go():
        return [await task.score(s, {m: _gen(s, m, outs[i]) for m, outs in outputs.items()},
                                 ScoringContext(judge=judge)) for i, s in enumerate(samples)]
    return asyncio.run(go())


def test_run_end_to_end_metrics_comparisons_and_glossary(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    doc = json.loads((run_dir / "results.json").read_text())
    refs = [de for _, de in SOURCES]
    expected_a = corpus_scores([a_output(i, r).strip() for i, r in enumerate(refs)], refs)
    expected_b = corpus_scores([b_output(i, r).strip() for i, r in enumerate(refs)], refs)
    a, b = doc["models"][MODEL_A]["metrics"], doc["models"][MODEL_B]["metrics"]
    for k in ("bleu", "chrf", "ter"):
        assert a[k]["value"] == pytest.approx(expected_a[k]) and b[k]["value"] == pytest.approx(expected_b[k])
        assert a[k]["ci_low"] <= a[k]["value"] <= a[k]["ci_high"]
        c = doc["comparisons"][MODEL_A][k]
        assert c["delta"] == pytest.approx(expected_a[k] - expected_b[k]) and c["test"] == "sacrebleu-paired-bs"
        assert 0 < c["p_value"] <= 1
    assert a["ter"]["higher_is_better"] is False
    # Glossary: the three source terms occur in items 0, 1 and 10 (3 checks).
    # A misses item 0 (degraded: "Der Prozessirregularität."), has 1 and 10. B (reversed word order except on
    # items 0, 3, ...) keeps the one-word "Mahnung" of item 1 but splits "höhere Gewalt" of item 10.
    assert a["glossary_hit_rate"]["value"] == pytest.approx(2 / 3) and a["glossary_hit_rate"]["n"] == 3
    assert b["glossary_hit_rate"]["value"] == pytest.approx(2 / 3)
    tables = json.loads((run_dir / "summary.json").read_text())["tables"]
    rows = {r[0].split(" →")[0]: r[2:] for r in tables[0]["rows"]}
    assert rows == {"vice de procédure": [1, 0], "mise en demeure": [1, 1], "force majeure": [0, 1]}
    summary = json.loads((run_dir / "summary.json").read_text())
    table = next(t for t in summary["tables"] if t["title"].startswith("Glossary terms"))
    assert table["columns"] == ["term", "checks", MODEL_B, MODEL_A]
    assert any("reference translations score 3/3" in n for n in summary["notes"])
    html = (run_dir / "report.html").read_text("utf-8")
    assert "glossary_hit_rate" in html and "&lt;script&gt;" in html


def test_failed_calls_leave_the_segment_out_of_every_model(tmp_path: Path) -> None:
    task = _task(tmp_path)
    samples = _samples()
    refs = [s.target for s in samples]
    outs = {"base": list(refs), "ft": [None if i == 3 else r for i, r in enumerate(refs)]}
    results = _score_all(task, samples, outs)
    assert results[3].scores["ft"].details["failed"] and results[3].scores["ft"].value is None
    assert results[0].scores["base"].value == pytest.approx(100.0)
    summary = task.summarize(samples, results, SummaryContext(models=("base", "ft"), reference="base"))
    n = {m: next(v for v in vals if v.name == "n").value for m, vals in summary.metrics.items()}
    assert n == {"base": 11, "ft": 11}
    assert any("1 of 12 segments left out" in note and "ft 1" in note for note in summary.notes)
    with pytest.raises(ValueError, match="repeat"):
        task.summarize(samples, results + results[:1], SummaryContext(models=("base", "ft"), reference="base"))


def test_config_errors_name_the_suite_and_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"suite.yaml: task_args.source_lang"):
        create_task("translation", {"source_lang": "xx", "target_lang": "de"}, tmp_path / "suite.yaml")
    with pytest.raises(ConfigError, match=r"task_args.glosary: unknown field"):
        create_task("translation", {"source_lang": "fr", "target_lang": "de", "glosary": "g.csv"},
                    tmp_path / "suite.yaml")
    with pytest.raises(DataError, match="glossary file not found"):
        create_task("translation", {"source_lang": "fr", "target_lang": "de", "glossary": "nope.csv"},
                    tmp_path / "suite.yaml")
    task = _task(tmp_path)
    with pytest.raises(DataError, match="needs a reference translation"):
        _score_all(task, [Sample(id="x", input="a")], {"base": ["b"]})


def test_preference_judge_runs_as_a_labelled_proxy(tmp_path: Path) -> None:
    """The judging engineer's pairwise task, both orders; its metrics are renamed judge_proxy_*."""
    samples = _samples()
    refs = [s.target for s in samples]
    outs = {"base": [b_output(i, r) for i, r in enumerate(refs)], "ft": list(refs)}
    good = set(refs)

    def respond(prompt: str) -> str:
        first, second = slots(prompt)
        winner = "A" if first in good else "B" if second in good else "tie"
        return json.dumps({"justification": "terminology", "winner": winner})

    task = _task(tmp_path, judge="preference")
    assert task.needs_judge
    results = _score_all(task, samples, outs, judge=judge_model(respond))
    assert all(len(r.judgments) == 2 for r in results if r.sample_id != "s00")  # both orders
    summary = task.summarize(samples, results, SummaryContext(models=("base", "ft"), reference="base"))
    ft = {m.name: m for m in summary.metrics["ft"]}
    # Items 0, 3, 6, 9: base equals the reference too, so both answers are "good": A wins each order -> a flip.
    assert ft["judge_proxy_wins"].value == 8 and ft["judge_proxy_ties"].value == 4
    assert "judge_proxy_preference_score" in ft and "bleu" in ft
    assert any(t.title.startswith("LLM judge (a cheap proxy") for t in summary.tables)
    assert any(c.metric == "judge_proxy_net_win_rate" for c in summary.comparisons)
    assert not _task(tmp_path).needs_judge
