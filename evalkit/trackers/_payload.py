"""A finished run directory as a tracker payload: flat parameters, flat metric keys, tables and artifacts.

Key scheme (one tracked run per evalkit run, each model distinguishable by its key prefix):

    <model>/<metric>, <model>/<metric>_ci_low, <model>/<metric>_ci_high
    <model>_vs_<reference>/<metric>_delta, ..._delta_ci_low, ..._delta_ci_high, ..._p_value, ..._significant

A model name is the one given to `--models`, so `ft/accuracy` is the fine-tuned model's accuracy.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.analysis import (
    data_sha256,
    load_comparisons,
    load_judgments,
    load_metrics,
    load_runs,
    load_samples,
)
from evalkit.errors import DataError
from evalkit.trackers.base import RunPayload

ARTIFACTS = ("report.html", "results.json", "summary.md")

SAMPLE_TABLE_COLUMNS = ("sample_id", "model", "attempt", "input", "target", "output", "error", "score", "label",
                        "correct", "latency_s", "prompt_tokens", "completion_tokens", "cost_usd")
"""Columns of the logged per-sample table (a subset of evalkit.analysis.SAMPLE_COLUMNS)."""


def _text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _finite(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def plain(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with plain Python values (None for missing), which every tracker's table type accepts."""
    out = table.astype(object)
    return out.where(table.notna(), None)


def build_payload(run_dir: Path) -> RunPayload:
    """The payload of a finished run directory; DataError when the run never wrote results.json."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file():
        raise DataError(f"{run_dir}: not an evalkit run directory (no run.json)")
    runs = load_runs(run_dir)
    if len(runs) == 0 or not (run_dir / "results.json").is_file():
        raise DataError(f"{run_dir}: no results.json: only a run that reached its report can be logged "
                        f"(`evalkit report {run_dir}` writes it from the stored results)")
    first = runs.iloc[0]
    params: dict[str, str] = {
        "suite": first["suite"], "task": first["task"], "run_id": first["run_id"],
        "evalkit_version": first["evalkit_version"], "seed": _text(first["seed"]), "limit": _text(first["limit"]),
        "n_samples": _text(first["n_samples"]), "reference": first["reference"],
        "models": ",".join(runs["model"]), "offline_judge": _text(bool(first["offline_judge"])),
        "data_sha256": data_sha256(run_dir),
    }
    for key, value in sorted(json.loads(first["generation_params"]).items()):
        params[f"generation.{key}"] = _text(value)
    for row in runs.itertuples(index=False):
        prefix = f"model.{row.model}."
        for col in ("provider", "model_id", "adapter", "prompt_profile", "prompt_sha256"):
            params[prefix + col] = _text(getattr(row, col))
        for key, value in json.loads(row.metadata).items():
            params[f"{prefix}meta.{key}"] = _text(value)
    judges = load_judgments(run_dir)
    if len(judges):
        for j in judges[["judge_id", "judge_version", "template_sha256", "judge_model"]].drop_duplicates() \
                .itertuples(index=False):
            params[f"judge.{j.judge_id}.version"] = _text(j.judge_version)
            params[f"judge.{j.judge_id}.template_sha256"] = _text(j.template_sha256)
            params[f"judge.{j.judge_id}.model"] = _text(j.judge_model)

    metrics_df = load_metrics(run_dir)
    comps_df = load_comparisons(run_dir)
    metrics: dict[str, float] = {}
    for m in metrics_df.itertuples(index=False):
        for suffix, value in (("", m.value), ("_ci_low", m.ci_low), ("_ci_high", m.ci_high)):
            if (v := _finite(value)) is not None:
                metrics[f"{m.model}/{m.metric}{suffix}"] = v
    for c in comps_df.itertuples(index=False):
        base = f"{c.model}_vs_{c.reference}/{c.metric}"
        for suffix, value in (("_delta", c.delta), ("_delta_ci_low", c.ci_low), ("_delta_ci_high", c.ci_high),
                              ("_p_value", c.p_value)):
            if (v := _finite(value)) is not None:
                metrics[base + suffix] = v
        metrics[base + "_significant"] = 1.0 if c.significant else 0.0

    samples = load_samples(run_dir)[list(SAMPLE_TABLE_COLUMNS)]
    tables = {"samples": plain(samples), "metrics": plain(metrics_df), "comparisons": plain(comps_df)}
    tags = {"evalkit.run_id": first["run_id"], "evalkit.suite": first["suite"], "evalkit.status": first["status"],
            "evalkit.run_dir": str(run_dir.resolve())}
    return RunPayload(run_dir=run_dir, run_id=first["run_id"], suite=first["suite"], status=str(first["status"]),
                      params=params, metrics=metrics, tags=tags, tables=tables,
                      artifacts=tuple(run_dir / a for a in ARTIFACTS if (run_dir / a).is_file()))
