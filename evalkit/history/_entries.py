"""The runs in a folder, one entry each: what ran, its status, and a headline metric per model."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evalkit.analysis import load_comparisons, load_metrics, load_runs


@dataclass(frozen=True)
class ModelHeadline:
    """One model's headline value in a run, with its CI and its comparison with the reference."""

    model: str
    model_id: str
    adapter: str | None
    value: float | None
    ci_low: float | None
    ci_high: float | None
    delta: float | None
    """Model minus the run's reference; None for the reference itself or when not compared."""
    significant: bool
    verdict: str
    """The comparison's verdict (`significant`, ...), `reference` for the reference, else empty."""


@dataclass(frozen=True)
class RunEntry:
    """One run directory as the history lists it."""

    path: Path
    run_id: str
    suite: str
    task: str
    status: str
    started_at: str
    """ISO 8601, UTC."""
    reference: str
    metric: str | None
    """The headline metric: the first task metric the reference model reports (or the one asked for)."""
    higher_is_better: bool | None
    models: tuple[ModelHeadline, ...]
    """In `--models` order."""


def _num(x: object) -> float | None:
    if x is None or x is pd.NA:
        return None
    v = float(x)  # type: ignore[arg-type]
    return v if math.isfinite(v) else None


def headline_metric(metrics: pd.DataFrame, reference: str, wanted: str | None = None) -> str | None:
    """`wanted` when the run has it, else the first task metric with a direction the reference reports."""
    if wanted is not None:
        return wanted if (metrics["metric"] == wanted).any() else None
    ref = metrics[(metrics["model"] == reference) & (metrics["kind"] == "task") & metrics["value"].notna()
                  & metrics["higher_is_better"].notna()]
    return str(ref["metric"].iloc[0]) if len(ref) else None


def list_runs(path: Path | str, metric: str | None = None) -> list[RunEntry]:
    """Every run directory under `path` (or `path` itself), newest first."""
    runs = load_runs(path)
    if runs.empty:
        return []
    metrics = load_metrics(path)
    comps = load_comparisons(path)
    entries = []
    for run_id, rows in runs.groupby("run_id", sort=False):
        first = rows.iloc[0]
        m = metrics[metrics["run_id"] == run_id]
        c = comps[comps["run_id"] == run_id]
        name = headline_metric(m, first["reference"], metric) if len(m) else None
        chosen = m[m["metric"] == name].set_index("model") if name else pd.DataFrame()
        delta = c[c["metric"] == name].set_index("model") if name else pd.DataFrame()
        hib = chosen["higher_is_better"].dropna() if len(chosen) else pd.Series(dtype=object)
        models = []
        for r in rows.itertuples(index=False):
            v = chosen.loc[r.model] if r.model in chosen.index else None
            d = delta.loc[r.model] if r.model in delta.index else None
            models.append(ModelHeadline(
                model=r.model, model_id=r.model_id or "", adapter=None if r.adapter is pd.NA else r.adapter,
                value=_num(v["value"]) if v is not None else None,
                ci_low=_num(v["ci_low"]) if v is not None else None,
                ci_high=_num(v["ci_high"]) if v is not None else None,
                delta=_num(d["delta"]) if d is not None else None,
                significant=bool(d["significant"]) if d is not None else False,
                verdict="reference" if r.model == first["reference"] else (str(d["verdict"]) if d is not None else "")))
        entries.append(RunEntry(path=Path(first["run_dir"]), run_id=str(run_id), suite=first["suite"],
                                task=first["task"], status=str(first["status"]),
                                started_at=first["started_at"].isoformat(), reference=first["reference"],
                                metric=name, higher_is_better=bool(hib.iloc[0]) if len(hib) else None,
                                models=tuple(models)))
    return sorted(entries, key=lambda e: (e.started_at, e.run_id), reverse=True)
