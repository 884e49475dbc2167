"""The runs in a folder, one entry each: what ran, its status, and a headline metric per model.

Read from each run's two small files (run.json and results.json) with the json module: `evalkit run` rewrites
the folder's index.html after every run, so listing must cost a few milliseconds, not pandas (+0.5 s and
+76 MiB per run when it went through evalkit.analysis). What an entry needs from a run is remembered in
`.evalkit-runs.json` at the top of the folder, keyed by run directory and the size and modification time of
both files: a run is read again only when one of its files changed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit.store import (
    RESULTS_JSON,
    RUN_FILE,
    RunStore,
    find_run_dirs,
    read_results_json,
    write_atomic,
)

CACHE_FILE = ".evalkit-runs.json"
"""What list_runs read from each run, kept at the top of the folder listed (see the module docstring)."""
_CACHE_VERSION = 1


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
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _metric_rows(results: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(model, metric, row) of results.json's metrics, models in the run's order (as evalkit.analysis reads
    them: a model missing from `model_order` is not listed)."""
    models = results.get("models") or {}
    for model in results.get("run", {}).get("model_order") or list(models):
        for name, row in (models.get(model) or {}).get("metrics", {}).items():
            yield model, name, row


def headline_metric(results: Mapping[str, Any], reference: str, wanted: str | None = None) -> str | None:
    """The headline metric of a run whose results.json document is `results`: `wanted` when some model reports
    it, else the first task metric with a value and a direction that the reference model reports."""
    if wanted is not None:
        return wanted if any(name == wanted for _, name, _ in _metric_rows(results)) else None
    for model, name, row in _metric_rows(results):
        value = row.get("value")
        if (model == reference and row.get("kind") == "task" and _num(value) is not None
                and isinstance(row.get("higher_is_better"), bool)):
            return name
    return None


def _utc_iso(text: str) -> str:
    """A run's start time as ISO 8601 in UTC (a time without a zone is taken as UTC)."""
    t = datetime.fromisoformat(text)
    return (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)).isoformat()


def _read(run_dir: Path) -> dict[str, Any]:
    """What an entry needs from one run: a few fields of run.json, and of results.json when there is one."""
    info = RunStore(run_dir).read_info()
    out: dict[str, Any] = {
        "run_id": info.run_id, "suite": info.suite, "task": info.task, "status": info.status,
        "started_at": _utc_iso(info.started_at), "reference": info.reference,
        "models": [{"name": str(m.get("name")), "model": m.get("model"), "adapter": m.get("adapter")}
                   for m in info.models],
        "results": None,
    }
    rfile = run_dir / RESULTS_JSON
    if rfile.is_file():
        results = read_results_json(rfile)
        keep = ("value", "ci_low", "ci_high", "higher_is_better", "kind")
        out["results"] = {
            "run": {"model_order": results.get("run", {}).get("model_order")},
            "models": {m: {"metrics": {n: {k: row.get(k) for k in keep} for n, row in v.get("metrics", {}).items()}}
                       for m, v in (results.get("models") or {}).items()},
            "comparisons": {m: {n: {k: c.get(k) for k in ("delta", "significant", "verdict")}
                                for n, c in by_metric.items()}
                            for m, by_metric in (results.get("comparisons") or {}).items()},
        }
    return out


def _entry(run_dir: Path, run: Mapping[str, Any], metric: str | None) -> RunEntry:
    results = run["results"]
    reference = run["reference"]
    name = headline_metric(results, reference, metric) if results is not None else None
    chosen: dict[str, Mapping[str, Any]] = {}
    if name is not None:
        for model, metric_name, row in _metric_rows(results):
            if metric_name == name:
                chosen.setdefault(model, row)
    deltas = {m: by[name] for m, by in (results or {}).get("comparisons", {}).items() if name in by}
    directions = [row["higher_is_better"] for row in chosen.values() if isinstance(row.get("higher_is_better"), bool)]
    models = []
    for spec in run["models"]:
        model = spec["name"]
        v, d = chosen.get(model), deltas.get(model)
        models.append(ModelHeadline(
            model=model, model_id=spec["model"] or "", adapter=spec["adapter"],
            value=_num(v.get("value")) if v is not None else None,
            ci_low=_num(v.get("ci_low")) if v is not None else None,
            ci_high=_num(v.get("ci_high")) if v is not None else None,
            delta=_num(d.get("delta")) if d is not None else None,
            significant=bool(d.get("significant")) if d is not None else False,
            verdict="reference" if model == reference else (str(d.get("verdict")) if d is not None else "")))
    return RunEntry(path=run_dir, run_id=run["run_id"], suite=run["suite"], task=run["task"], status=run["status"],
                    started_at=run["started_at"], reference=reference, metric=name,
                    higher_is_better=directions[0] if directions else None, models=tuple(models))


def _stamp(run_dir: Path) -> list[int]:
    """Size and modification time (ns) of run.json and results.json (zeros for a missing one)."""
    out = []
    for name in (RUN_FILE, RESULTS_JSON):
        try:
            st = os.stat(run_dir / name)
            out += [st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            out += [0, 0]
    return out


def _load_cache(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or damaged: a missed cache only means reading the runs again
    if not isinstance(doc, dict) or doc.get("version") != _CACHE_VERSION or not isinstance(doc.get("runs"), dict):
        return {}
    return doc["runs"]


def list_runs(path: Path | str, metric: str | None = None) -> list[RunEntry]:
    """Every run directory under `path` (or `path` itself), newest first.

    A folder of runs keeps what was read in its `.evalkit-runs.json`, so only runs whose run.json or
    results.json changed since are read again; a run directory given itself is always read."""
    path = Path(path)
    dirs = find_run_dirs(path)
    folder = path.is_dir() and not (path / RUN_FILE).is_file()
    cache_path = path / CACHE_FILE
    cached = _load_cache(cache_path) if folder else {}
    kept: dict[str, Any] = {}
    entries = []
    for run_dir in dirs:
        key = os.path.relpath(run_dir, path)
        stamp = _stamp(run_dir)
        hit = cached.get(key)
        run = hit["run"] if isinstance(hit, dict) and hit.get("stamp") == stamp else _read(run_dir)
        kept[key] = {"stamp": stamp, "run": run}
        if run["models"]:  # a run without models has nothing to list (as evalkit.analysis.load_runs)
            entries.append(_entry(run_dir, run, metric))
    if folder and kept != cached:
        try:
            write_atomic(cache_path, json.dumps({"version": _CACHE_VERSION, "runs": kept}, separators=(",", ":")))
        except OSError:
            pass  # a read-only folder is listed all the same, only not remembered
    return sorted(entries, key=lambda e: (e.started_at, e.run_id), reverse=True)
