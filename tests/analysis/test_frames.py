"""Each analysis loader on real run directories: columns, dtypes and values checked against results.json and
the JSONL files evalkit wrote."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.runmaker import HOSTILE, N_LEGAL, N_NEWS, news_items
from evalkit.analysis import (
    COMPARISON_COLUMNS,
    JUDGMENT_COLUMNS,
    METRIC_COLUMNS,
    RUN_COLUMNS,
    SAMPLE_COLUMNS,
    find_run_dirs,
    load_comparisons,
    load_judgments,
    load_metrics,
    load_runs,
    load_samples,
    load_samples_wide,
    prompt_sha256,
    wide_samples,
)
from evalkit.errors import DataError


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text(encoding="utf-8"))


def assert_schema(df: pd.DataFrame, columns: dict) -> None:
    assert list(df.columns)[: len(columns)] == list(columns)
    for name, dtype in columns.items():
        if dtype == "category":
            assert isinstance(df[name].dtype, pd.CategoricalDtype), f"{name}: {df[name].dtype} is not a category"
        else:
            assert df[name].dtype == pd.api.types.pandas_dtype(dtype), f"{name}: {df[name].dtype} != {dtype}"


def same(a: object, b: object) -> bool:
    """Equal, with None/NaN/NA all meaning unknown."""
    if b is None:
        return a is None or a is pd.NA or (isinstance(a, float) and math.isnan(a))
    return a == pytest.approx(b) if isinstance(b, float) else a == b


def test_runs_frame_has_one_row_per_model_with_specs_prompts_and_metadata(news_run: Path) -> None:
    doc = results(news_run)
    runs = load_runs(news_run)
    assert_schema(runs, RUN_COLUMNS)
    assert list(runs.columns[len(RUN_COLUMNS):]) == ["meta.learning_rate", "meta.step"]
    assert list(runs["model"]) == doc["run"]["model_order"] == ["base", "ft", "ft2"]
    assert list(runs["model_id"]) == [m["model"] for m in doc["run"]["models"]] == ["cautious", "oracle", "sloppy"]
    ft = runs.set_index("model").loc["ft"]
    assert ft["adapter"].endswith("adapters/news-oracle.gguf") and ft["meta.learning_rate"] == 0.0002
    assert ft["meta.step"] == 100 and json.loads(ft["metadata"]) == {"learning_rate": 0.0002, "step": 100}
    assert runs["meta.step"].isna().tolist() == [True, False, True]
    assert list(runs["is_reference"]) == [True, False, False] and set(runs["reference"]) == {"base"}
    assert set(runs["status"]) == {"complete"} and set(runs["n_samples"]) == {doc["run"]["n_samples"]} == {N_NEWS}
    assert runs["started_at"].iloc[0] == pd.Timestamp(doc["run"]["started_at"])
    assert runs["finished_at"].iloc[0] >= runs["started_at"].iloc[0]
    # base uses the default profile (with instructions); ft and ft2 the bare `ft` profile.
    prompts = {p["profile"]: p for p in doc["prompts"]}
    assert list(runs["prompt_profile"]) == ["default", "ft", "ft"]
    p = prompts["default"]
    assert runs["prompt_sha256"].iloc[0] == prompt_sha256(p["style"], p["system"], p["template"])
    assert runs["prompt_sha256"].iloc[1] == runs["prompt_sha256"].iloc[2] != runs["prompt_sha256"].iloc[0]
    assert set(runs["temperature"]) == {0.0} and set(runs["max_tokens"]) == {8}


def test_metrics_frame_matches_results_json(news_run: Path) -> None:
    doc = results(news_run)
    metrics = load_metrics(news_run)
    assert_schema(metrics, METRIC_COLUMNS)
    expected = [(model, name, m) for model in doc["run"]["model_order"]
                for name, m in doc["models"][model]["metrics"].items()]
    assert len(metrics) == len(expected)
    for (model, name, m), row in zip(expected, metrics.itertuples(index=False), strict=True):
        assert (row.model, row.metric) == (model, name)
        for field in ("value", "ci_low", "ci_high", "n", "unit", "kind", "higher_is_better"):
            assert same(getattr(row, field), m[field]), (model, name, field)
    by = metrics.set_index(["model", "metric"])
    assert by.loc[("ft", "accuracy"), "value"] == 1.0
    assert by.loc[("base", "accuracy"), "ci_low"] < by.loc[("base", "accuracy"), "value"]
    assert math.isnan(by.loc[("base", "cost_usd"), "value"])  # unknown price: NaN, never 0
    assert by.loc[("ft", "cost_usd"), "value"] > 0


def test_comparisons_frame_matches_results_json(news_run: Path) -> None:
    doc = results(news_run)
    comps = load_comparisons(news_run)
    assert_schema(comps, COMPARISON_COLUMNS)
    expected = [(model, name, c) for model, by in doc["comparisons"].items() for name, c in by.items()]
    assert len(comps) == len(expected) > 0 and set(comps["model"]) == {"ft", "ft2"}
    for (model, name, c), row in zip(expected, comps.itertuples(index=False), strict=True):
        assert (row.model, row.metric, row.reference) == (model, name, "base")
        for field in ("delta", "ci_low", "ci_high", "p_value", "test", "n", "significant", "verdict", "note"):
            assert same(getattr(row, field), c[field]), (model, name, field)
    acc = comps.set_index(["model", "metric"]).loc[("ft", "accuracy")]
    assert acc["test"] == "mcnemar-exact" and acc["verdict"] == "significant" and acc["delta"] > 0


def test_samples_frame_joins_inputs_outputs_scores_and_calls(news_run: Path) -> None:
    doc = results(news_run)
    samples = load_samples(news_run)
    assert_schema(samples, SAMPLE_COLUMNS)
    models = doc["run"]["model_order"]
    assert len(samples) == N_NEWS * len(models)
    assert list(samples["model"].cat.categories) == models
    items = news_items()
    # Data order, then model order; inputs and targets verbatim (hostile markup included: it is data).
    assert list(samples["sample_id"][:: len(models)]) == [r["id"] for r in items]
    assert list(samples["input"][:: len(models)]) == [r["text"] for r in items]
    assert list(samples["target"][:: len(models)]) == [r["label"] for r in items]
    assert HOSTILE in samples["input"].iloc[4 * len(models)]
    # Exactly one call failed (the queued 400): no output, an error, counted as results.json counts it.
    failed = samples[samples["failed"]]
    assert len(failed) == 1 == sum(doc["models"][m]["calls"]["failed"] for m in models)
    assert failed["output"].isna().all() and failed["error"].str.contains("400").all()
    for model in models:
        rows = samples[samples["model"] == model]
        m = doc["models"][model]["metrics"]
        ok = rows[~rows["failed"]]
        # A failed call is not scored: accuracy is over the answered items, as the task computes it.
        assert ok["correct"].mean() == pytest.approx(m["accuracy"]["value"]) and len(ok) == m["accuracy"]["n"]
        assert ok["prompt_tokens"].mean() == pytest.approx(m["prompt_tokens_mean"]["value"])
        assert ok["latency_s"].median() == pytest.approx(m["latency_p50_s"]["value"], rel=0.05)
        assert (rows["label"] == rows["output"]).sum() == len(ok)
    ft = samples[samples["model"] == "ft"]
    assert ft["cost_usd"].sum() == pytest.approx(doc["models"]["ft"]["metrics"]["cost_usd"]["value"])
    assert samples.loc[samples["model"] == "base", "cost_usd"].isna().all()
    assert set(samples["model_id"]) == {"cautious", "oracle", "sloppy"} and set(samples["attempt"]) == {0}


def test_wide_samples_one_column_per_model(news_run: Path) -> None:
    samples = load_samples(news_run)
    wide = wide_samples(samples, "correct")
    assert list(wide.columns) == ["base", "ft", "ft2"] and len(wide) == N_NEWS
    assert wide.index.names == ["run_id", "sample_id"]
    assert list(wide.index.get_level_values("sample_id")) == [r["id"] for r in news_items()]
    assert str(wide["ft"].dtype) == "boolean"
    long = samples.set_index(["sample_id", "model"])["correct"]
    for sid in ("q000", "q006", "q007"):
        for m in ("base", "ft", "ft2"):
            assert same(wide.xs(sid, level="sample_id")[m].iloc[0], None if long[(sid, m)] is pd.NA else long[(sid, m)])
    # ft2 is wrong on items 6, 7 and 8 (unless that call is the failed one): those are the items it loses.
    losses = wide.index.get_level_values("sample_id")[(wide["ft"] == True) & (wide["ft2"] == False)]
    assert set(losses) <= {"q006", "q007", "q008"} and len(losses) >= 2
    multi = load_samples_wide(news_run, ["output", "latency_s"])
    assert list(multi.columns) == [(v, m) for v in ("output", "latency_s") for m in ("base", "ft", "ft2")]
    assert str(multi[("output", "ft")].dtype) == "string" and multi[("latency_s", "ft")].dtype == "float64"
    with pytest.raises(ValueError, match="values must be columns"):
        wide_samples(samples, "nope")


def test_judgments_frame_one_row_per_judge_call(legal_run: Path) -> None:
    lines = [json.loads(x) for x in (legal_run / "results.jsonl").read_text("utf-8").splitlines()]
    stored = [(r["sample_id"], j) for r in lines for j in r["judgments"]]
    judg = load_judgments(legal_run)
    assert_schema(judg, JUDGMENT_COLUMNS)
    assert len(judg) == len(stored) >= N_LEGAL
    for (sid, j), row in zip(stored, judg.itertuples(index=False), strict=True):
        assert (row.sample_id, row.judge_id, row.judge_version, row.template_sha256, row.judge_model) == (
            sid, j["judge_id"], j["judge_version"], j["template_sha256"], j["judge_model"])
        assert row.raw_response == j["raw_response"] and json.loads(row.parsed) == j["parsed"]
        assert row.order == j["details"]["order"] and row.slot_1 == row.order.split("|")[0]
    assert set(judg["judge_id"]) == {"legal_quality"} and set(judg["status"]) == {"ok"}
    assert set(judg["order"]) == {"base|ft", "ft|base"}  # both orders, against position bias
    verdicts = judg["verdict"].map(json.loads)
    assert all({"score_answer_1", "score_answer_2", "citation_answer_1"} <= set(v) for v in verdicts)
    assert not any("justification" in v for v in verdicts)  # the free-text reasons are left out
    # The fake judge gives 3 to the answer citing an article: ft's, whichever slot it is in.
    ft_first = judg["slot_1"] == "ft"
    assert (verdicts[ft_first].map(lambda v: v["score_answer_1"]) == 3).all()
    assert (verdicts[~ft_first].map(lambda v: v["score_answer_2"]) == 3).all()
    assert judg["cost_usd"].isna().all() and (judg["latency_s"] > 0).all()


def test_a_folder_of_runs_concatenates_them(news_run: Path, legal_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "all"
    for run in (news_run, legal_run):
        shutil.copytree(run, folder / "nested" / run.name)
    assert [p.name for p in find_run_dirs(folder)] == sorted([news_run.name, legal_run.name])
    metrics = load_metrics(folder)
    assert_schema(metrics, METRIC_COLUMNS)
    assert set(metrics["suite"]) == {"news-mini", "legal-mini"}
    samples = load_samples(folder)
    assert samples["run_id"].dtype == "category" and samples["model"].dtype == "category"
    assert len(samples) == N_NEWS * 3 + N_LEGAL * 2
    runs = load_runs(folder)
    assert len(runs) == 5 and "meta.learning_rate" in runs.columns
    assert len(load_judgments(folder)) == len(load_judgments(legal_run))


def test_resumed_and_torn_generation_files_read_like_the_store(news_run: Path, tmp_path: Path) -> None:
    run = shutil.copytree(news_run, tmp_path / "run")
    gens = run / "generations.jsonl"
    first = json.loads(gens.read_text("utf-8").splitlines()[0])
    again = {**first, "output": "rewritten on resume"}
    with gens.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(again) + "\n" + '{"sample_id": "q0')  # a resumed call, then a torn last line
    samples = load_samples(run)
    assert len(samples) == N_NEWS * 3
    row = samples[(samples["sample_id"] == first["sample_id"]) & (samples["model"] == first["model"])]
    assert list(row["output"]) == ["rewritten on resume"]  # the last write wins


def test_bad_run_directories_name_the_file_and_line(news_run: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_runs(tmp_path / "missing")
    assert load_runs(tmp_path).empty and list(load_metrics(tmp_path).columns) == list(METRIC_COLUMNS)
    run = shutil.copytree(news_run, tmp_path / "run")
    lines = (run / "results.jsonl").read_text("utf-8").splitlines()
    lines[2] = "{not json"
    (run / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"results\.jsonl:3: not valid JSON"):
        load_samples(run)
    (run / "results.json").write_text(json.dumps({"schema_version": "9"}), encoding="utf-8")
    with pytest.raises(DataError, match="schema_version '9'"):
        load_metrics(run)
