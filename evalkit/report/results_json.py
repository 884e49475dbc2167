"""results.json: the machine-readable result of a run, for CI gates and other tools.

The layout is documented field by field in docs/results-schema.md and checked by results.schema.json.
Versioning: additive changes keep `schema_version`; renaming, removing or changing the meaning of a field
bumps it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.records import Comparison, MetricValue, RunResult
from evalkit.report._data import ReportData, report_data
from evalkit.report._format import finite
from evalkit.report._headline import verdict
from evalkit.report._metrics import is_operational, metrics_by_model

SCHEMA_VERSION = "1"
SCHEMA_PATH = Path(__file__).with_name("results.schema.json")
"""The JSON Schema (draft 2020-12) every results document validates against."""


def results_document(run: RunResult, data: ReportData | None = None) -> dict[str, Any]:
    """The content of results.json for `run`: plain JSON types only, never NaN or infinity."""
    info = run.info
    data = data if data is not None else report_data(run)
    models = data.models
    metrics = metrics_by_model(run, models)
    calls = data.calls
    comparisons: dict[str, dict[str, Any]] = {}
    for c in run.summary.comparisons:
        comparisons.setdefault(c.model, {})[c.metric] = _comparison(c)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "run_id": info.run_id,
            "suite": info.suite,
            "task": info.task,
            "description": info.description,
            "status": info.status,
            "started_at": info.started_at,
            "finished_at": info.finished_at,
            "seed": info.seed,
            "limit": info.limit,
            "reference": info.reference,
            "evalkit_version": info.evalkit_version,
            "offline_judge": info.offline_judge,
            "n_samples": data.n_items,
            "model_order": list(models),
            "models": [dict(m) for m in info.models],
            "generation_params": dict(info.generation_params),
        },
        "models": {
            m: {
                "metrics": {name: _metric(mv) for name, mv in metrics[m].items()},
                "calls": {"total": calls[m].total, "failed": calls[m].failed, "cached": calls[m].cached,
                          "retries": calls[m].retries},
            }
            for m in models
        },
        "comparisons": {m: comparisons[m] for m in models if m in comparisons},
        "confusion_matrices": [
            {"model": cm.model, "labels": list(cm.labels), "predicted_labels": list(cm.predicted_labels),
             "counts": [list(r) for r in cm.counts]}
            for cm in run.summary.confusion_matrices
        ],
        "tables": [{"title": t.title, "columns": list(t.columns), "rows": [list(r) for r in t.rows]}
                   for t in run.summary.tables],
        "notes": list(run.summary.notes),
        "prompts": [p.model_dump(mode="json") for p in info.prompts],
    }
    if run.sequential is not None:
        # The stop rule's record as stored in sequential.json, plus the items it saved.
        doc["sequential"] = {**run.sequential.model_dump(mode="json"), "items_saved": run.sequential.items_saved}
    return _jsonable(doc)


def dumps(doc: Mapping[str, Any]) -> str:
    """Serialise a results document; refuses NaN and infinity rather than writing invalid JSON."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _metric(mv: MetricValue) -> dict[str, Any]:
    return {"value": finite(mv.value), "ci_low": finite(mv.ci_low), "ci_high": finite(mv.ci_high), "n": mv.n,
            "higher_is_better": mv.higher_is_better, "unit": mv.unit,
            "kind": "operational" if is_operational(mv.name) else "task"}


def _comparison(c: Comparison) -> dict[str, Any]:
    return {"reference": c.reference, "delta": finite(c.delta), "ci_low": finite(c.ci_low),
            "ci_high": finite(c.ci_high), "p_value": finite(c.p_value), "test": c.test, "n": c.n,
            "significant": verdict(c) == "significant", "verdict": verdict(c), "note": c.note}


def _jsonable(x: Any) -> Any:
    """Plain JSON types: NaN/inf become None, numpy scalars Python numbers, anything else its string."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item"):  # numpy scalars, from task tables built with numpy or pandas
        return _jsonable(x.item())
    return str(x)
