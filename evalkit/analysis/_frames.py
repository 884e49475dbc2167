"""The analysis DataFrames: runs, metrics, comparisons, samples (long and wide) and judgments.

Each frame has a fixed list of columns with fixed dtypes (the `*_COLUMNS` mappings, documented in
docs/analysis.md); a frame of several runs is the concatenation of the runs' frames. Values come from the run
directory unchanged: metrics, CIs and comparisons as results.json reports them, never recomputed here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.analysis import _read
from evalkit.records import RunInfo
from evalkit.store import find_run_dirs

STRING = pd.StringDtype("pyarrow")
"""Text columns: pandas strings held in Arrow buffers (a fraction of the memory of Python str objects)."""

RUN_COLUMNS: Mapping[str, Any] = {
    "run_id": STRING, "run_dir": STRING, "suite": STRING, "task": STRING, "status": "category",
    "started_at": "datetime64[ns, UTC]", "finished_at": "datetime64[ns, UTC]", "evalkit_version": STRING,
    "seed": "Int64", "limit": "Int64", "n_samples": "Int64", "reference": STRING, "offline_judge": "bool",
    "model": STRING, "model_position": "Int64", "is_reference": "bool", "provider": STRING, "model_id": STRING,
    "adapter": STRING, "prompt_profile": STRING, "prompt_sha256": STRING, "temperature": "float64",
    "max_tokens": "Int64", "generation_params": STRING, "judge_model": STRING, "metadata": STRING,
}
"""`load_runs`: one row per run and model. `meta.<key>` columns follow, one per metadata key (dtype inferred)."""

METRIC_COLUMNS: Mapping[str, Any] = {
    "run_id": STRING, "suite": STRING, "model": STRING, "metric": STRING, "value": "float64",
    "ci_low": "float64", "ci_high": "float64", "n": "Int64", "higher_is_better": "boolean", "unit": STRING,
    "kind": "category",
}
"""`load_metrics`: one row per run, model and metric (results.json `models.<name>.metrics`)."""

COMPARISON_COLUMNS: Mapping[str, Any] = {
    "run_id": STRING, "suite": STRING, "model": STRING, "reference": STRING, "metric": STRING,
    "delta": "float64", "ci_low": "float64", "ci_high": "float64", "p_value": "float64", "test": STRING,
    "n": "Int64", "significant": "bool", "verdict": "category", "note": STRING,
}
"""`load_comparisons`: one row per run, non-reference model and metric (results.json `comparisons`)."""

SAMPLE_COLUMNS: Mapping[str, Any] = {
    "run_id": "category", "sample_id": STRING, "position": "Int64", "model": "category", "attempt": "Int64",
    "model_id": STRING, "input": STRING, "target": STRING, "output": STRING, "error": STRING, "failed": "bool",
    "score": "float64", "label": STRING, "correct": "boolean", "latency_s": "float64", "ttft_s": "float64",
    "prompt_tokens": "Int64", "completion_tokens": "Int64", "cost_usd": "float64", "cached": "bool",
    "retries": "Int64",
}
"""`load_samples`: one row per run, sample, model and attempt (one attempt unless the run sampled several)."""

JUDGMENT_COLUMNS: Mapping[str, Any] = {
    "run_id": "category", "sample_id": STRING, "call": "Int64", "judge_id": STRING, "judge_version": STRING,
    "template_sha256": STRING, "judge_model": STRING, "model": STRING, "order": STRING, "slot_1": STRING,
    "slot_2": STRING, "attempt": "Int64", "status": "category", "verdict": STRING, "parsed": STRING,
    "raw_response": STRING, "error": STRING, "latency_s": "float64", "cost_usd": "float64", "cached": "bool",
}
"""`load_judgments`: one row per judge call (re-asks included), in the order the run stored them."""


def _conform(rows: pd.DataFrame | list[dict[str, Any]], columns: Mapping[str, Any],
             extra: Sequence[str] = ()) -> pd.DataFrame:
    """The frame with exactly `columns` (in order, with their dtypes), then the `extra` columns as they are."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, columns=[*columns, *extra])
    out = {}
    for name, dtype in columns.items():
        col = df[name] if name in df else pd.Series([None] * len(df), index=df.index, dtype=object)
        if dtype == "bool":
            col = col.fillna(False)
        if str(dtype).startswith("datetime64"):
            col = pd.to_datetime(col, utc=True, format="ISO8601")
        out[name] = col.astype(dtype)
    for name in extra:
        out[name] = df[name].infer_objects()
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


def _concat(frames: list[pd.DataFrame], columns: Mapping[str, Any]) -> pd.DataFrame:
    if not frames:
        return _conform([], columns)
    df = pd.concat(frames, ignore_index=True)
    # Categories of different runs differ: concat falls back to object, so set them again once.
    for name, dtype in columns.items():
        if dtype == "category" and df[name].dtype != "category":
            df[name] = df[name].astype("category")
    return df


def _each_run(path: Path | str, build: Callable[[_read.RunFiles], pd.DataFrame],
              columns: Mapping[str, Any]) -> pd.DataFrame:
    return _concat([build(_read.read_run_files(d)) for d in find_run_dirs(Path(path))], columns)


def _model_names(info: RunInfo) -> list[str]:
    return [str(m.get("name")) for m in info.models]


def prompt_sha256(style: str, system: str | None, template: str) -> str:
    """SHA-256 of a prompt profile: of the JSON `{"style", "system", "template"}` with sorted keys."""
    text = json.dumps({"style": style, "system": system, "template": template}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_sha256(run_dir: Path | str) -> str:
    """SHA-256 of a run's items: of each sample's `[id, input, target]` as JSON, one per line, in data order.

    Two runs with the same value asked the same questions with the same references.
    """
    digest = hashlib.sha256()
    for key in _read.sample_keys(Path(run_dir)):
        digest.update(json.dumps(list(key), ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


def _run_rows(rf: _read.RunFiles) -> pd.DataFrame:
    info = rf.info
    profiles = {m: p for p in info.prompts for m in p.models}
    params = info.generation_params
    n_samples = (rf.results or {}).get("run", {}).get("n_samples")
    judge_model = (info.judge or {}).get("model")
    rows, meta_keys = [], []
    for pos, spec in enumerate(info.models):
        name = str(spec.get("name"))
        prompt = profiles.get(name)
        meta = spec.get("metadata") or {}
        row = {
            "run_id": info.run_id, "run_dir": str(rf.path), "suite": info.suite, "task": info.task,
            "status": info.status, "started_at": info.started_at, "finished_at": info.finished_at,
            "evalkit_version": info.evalkit_version, "seed": info.seed, "limit": info.limit,
            "n_samples": n_samples, "reference": info.reference, "offline_judge": info.offline_judge,
            "model": name, "model_position": pos, "is_reference": name == info.reference,
            "provider": spec.get("provider"), "model_id": spec.get("model"), "adapter": spec.get("adapter"),
            "prompt_profile": prompt.profile if prompt else None,
            "prompt_sha256": prompt_sha256(prompt.style, prompt.system, prompt.template) if prompt else None,
            "temperature": params.get("temperature"), "max_tokens": params.get("max_tokens"),
            "generation_params": json.dumps(params, sort_keys=True, ensure_ascii=False),
            "judge_model": judge_model, "metadata": json.dumps(meta, sort_keys=True, ensure_ascii=False),
        }
        for key, value in meta.items():
            col = f"meta.{key}"
            if col not in meta_keys:
                meta_keys.append(col)
            row[col] = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
        rows.append(row)
    return _conform(rows, RUN_COLUMNS, meta_keys)


def load_runs(path: Path | str) -> pd.DataFrame:
    """One row per run and model: what ran, with which model, adapter, prompt and metadata (RUN_COLUMNS).

    `path` is a run directory or a folder holding run directories (searched recursively). Model metadata
    (`metadata:` of a model definition, e.g. learning_rate, checkpoint step) becomes `meta.<key>` columns.
    """
    frames = [_run_rows(_read.read_run_files(d)) for d in find_run_dirs(Path(path))]
    if not frames:
        return _conform([], RUN_COLUMNS)
    df = pd.concat(frames, ignore_index=True)
    df["status"] = df["status"].astype("category")
    return df


def _metric_rows(rf: _read.RunFiles) -> pd.DataFrame:
    doc = rf.results
    if doc is None:
        return _conform([], METRIC_COLUMNS)
    order = doc["run"].get("model_order") or list(doc["models"])
    rows = [{"run_id": rf.info.run_id, "suite": rf.info.suite, "model": model, "metric": name, **m}
            for model in order for name, m in doc["models"].get(model, {}).get("metrics", {}).items()]
    return _conform(rows, METRIC_COLUMNS)


def load_metrics(path: Path | str) -> pd.DataFrame:
    """One row per run, model and metric, with the value, its 95% CI and direction (METRIC_COLUMNS).

    Read from each run's results.json; a run that never wrote one (killed before its report) has no rows.
    """
    return _each_run(path, _metric_rows, METRIC_COLUMNS)


def _comparison_rows(rf: _read.RunFiles) -> pd.DataFrame:
    doc = rf.results
    if doc is None:
        return _conform([], COMPARISON_COLUMNS)
    rows = [{"run_id": rf.info.run_id, "suite": rf.info.suite, "model": model, "metric": name, **c}
            for model, by_metric in doc.get("comparisons", {}).items() for name, c in by_metric.items()]
    return _conform(rows, COMPARISON_COLUMNS)


def load_comparisons(path: Path | str) -> pd.DataFrame:
    """One row per run, compared model and metric: delta to the reference, its CI, p-value, test and
    verdict, as the run reported them (COMPARISON_COLUMNS)."""
    return _each_run(path, _comparison_rows, COMPARISON_COLUMNS)


def _sample_rows(rf: _read.RunFiles) -> pd.DataFrame:
    samples = _read.read_samples(rf.path)
    gens = _read.read_generations(rf.path)
    scores = _read.read_scores(rf.path) if (rf.path / _read.RESULTS_FILE).is_file() else None
    df = gens.merge(samples, on="sample_id", how="left")
    if scores is not None:
        df = df.merge(scores, on=["sample_id", "model"], how="left")
    df["failed"] = df["error"].notna() | df["output"].isna()
    models = _model_names(rf.info)
    extra = [m for m in df["model"].dropna().unique() if m not in models]
    df["model"] = pd.Categorical(df["model"], categories=[*models, *extra])
    df = df.sort_values(["position", "model", "attempt"], kind="stable", ignore_index=True)
    df["run_id"] = rf.info.run_id
    return _conform(df, SAMPLE_COLUMNS)


def load_samples(path: Path | str) -> pd.DataFrame:
    """One row per run, sample, model and attempt: input, target, output, score, label, correctness, latency,
    tokens, cost and error (SAMPLE_COLUMNS), in data order then model order.

    Streams the run's JSONL files; prompts are not kept (they are in generations.jsonl). A run killed before
    scoring has its rows with empty score columns.
    """
    return _each_run(path, _sample_rows, SAMPLE_COLUMNS)


def wide_samples(samples: pd.DataFrame, values: str | Sequence[str] = "score", attempt: int = 0) -> pd.DataFrame:
    """`samples` (a `load_samples` frame) with one column per model, indexed by (run_id, sample_id).

    `values` names one column (the result's columns are the models, in model order) or several (columns are
    (value, model) pairs). Only attempt `attempt` is kept, so each cell holds one value.
    """
    names = [values] if isinstance(values, str) else list(values)
    unknown = [v for v in names if v not in samples.columns]
    if unknown:
        raise ValueError(f"values must be columns of the samples frame. Got {unknown} instead; "
                         f"columns: {list(samples.columns)}")
    df = samples[samples["attempt"] == attempt]
    wide = df.pivot(index=["run_id", "sample_id"], columns="model", values=names)
    models = [m for m in df["model"].cat.categories if m in set(df["model"])] if isinstance(
        df["model"].dtype, pd.CategoricalDtype) else sorted(set(df["model"]))
    wide = wide.reindex(columns=pd.MultiIndex.from_product([names, models], names=[None, "model"]))
    position = df.groupby(["run_id", "sample_id"], observed=True)["position"].first()
    wide = wide.loc[position.sort_values(kind="stable").index]
    for name in names:
        for m in models:
            wide[(name, m)] = wide[(name, m)].astype(samples[name].dtype)
    return wide[names[0]] if isinstance(values, str) else wide


def load_samples_wide(path: Path | str, values: str | Sequence[str] = "score") -> pd.DataFrame:
    """`wide_samples(load_samples(path), values)`: one column per model for each sample."""
    return wide_samples(load_samples(path), values)


def _judgment_rows(rf: _read.RunFiles) -> pd.DataFrame:
    if not (rf.path / _read.RESULTS_FILE).is_file():
        return _conform([], JUDGMENT_COLUMNS)
    df = _read.read_judgments(rf.path)
    df["run_id"] = rf.info.run_id
    return _conform(df, JUDGMENT_COLUMNS)


def load_judgments(path: Path | str) -> pd.DataFrame:
    """One row per judge call: judge id, version and template hash, which model it graded (rubric) or which
    model sat in which slot (pairwise `order`, `slot_1`, `slot_2`), the re-ask `attempt`, `status`, the parsed
    `verdict` (JSON, free-text reasons left out), the whole `parsed` answer (JSON) and the raw answer
    (JUDGMENT_COLUMNS)."""
    return _each_run(path, _judgment_rows, JUDGMENT_COLUMNS)
