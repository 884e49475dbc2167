"""Charts for runs with several related models: time to first token, each metric against a hyperparameter
from the models' metadata (a learning-rate or step sweep), and the fine-tuning curves of models whose metadata
names a `job_id`. Each chart is an SVG `data:` URI, like evalkit.report.charts (same style, same colours)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from evalkit.records import MetricValue, RunResult, TrainingCurve
from evalkit.report._format import finite, metric_kind
from evalkit.report._metrics import model_order
from evalkit.report.charts import _RC, _svg, _text, latency_distribution, model_colors

__all__ = ["extra_charts", "hyperparameters", "metric_vs_hyperparameter", "training_curves"]

_MAX_METRICS = 6
_SKIP_KEYS = frozenset({"job_id", "seed"})
"""Numeric metadata that is not a hyperparameter worth plotting against."""


def extra_charts(run: RunResult, metrics: Mapping[str, Mapping[str, MetricValue]],
                 task_metrics: Sequence[str], ttfts: Mapping[str, Sequence[float]] | None = None,
                 models: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(caption, URI) of every chart below that has data in `run`; `ttfts` (times to first token of successful
    calls per model) and `models` (the model order) come from the report's one pass over the generations."""
    out = []
    order = tuple(models) if models is not None else model_order(run)
    if ttfts is None:
        ttfts = {m: [float(g.ttft_s) for g in run.generations
                     if g.model == m and g.ok and g.ttft_s is not None and math.isfinite(g.ttft_s)] for m in order}
    ttft = {m: ttfts.get(m, ()) for m in order}
    uri = latency_distribution(ttft, xlabel="time to first token (s)") if any(len(v) for v in ttft.values()) else None
    if uri:
        out.append(("Time to first token of successful streamed calls per model", uri))
    specs = [dict(m) for m in run.info.models]
    for key in hyperparameters(specs):
        uri = metric_vs_hyperparameter(metrics, specs, key, task_metrics, run.info.reference)
        if uri:
            out.append((f"Metrics against {key} (models' metadata), with 95% confidence intervals; dashed: "
                        f"models without {key}", uri))
    if run.training:
        uri = training_curves({m: run.training[m] for m in order if m in run.training})
        if uri:
            out.append(("Fine-tuning curves of the models whose metadata names a job_id (train and validation "
                        "loss; validation mean token accuracy on the right axis)", uri))
    return out


def _number(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def hyperparameters(specs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Metadata keys with a numeric value on at least two models, taking at least two distinct values."""
    values: dict[str, set[float]] = {}
    counts: dict[str, int] = {}
    for spec in specs:
        meta = spec.get("metadata") or {}
        if not isinstance(meta, Mapping):
            continue
        for k, v in meta.items():
            x = _number(v)
            if x is not None and k not in _SKIP_KEYS:
                values.setdefault(str(k), set()).add(x)
                counts[str(k)] = counts.get(str(k), 0) + 1
    return [k for k in values if counts[k] >= 2 and len(values[k]) >= 2]


def metric_vs_hyperparameter(metrics: Mapping[str, Mapping[str, MetricValue]], specs: Sequence[Mapping[str, Any]],
                             key: str, names: Sequence[str], reference: str) -> str | None:
    """One panel per metric: its value (with CI) for each model against the model's `key`; models without
    `key` (usually the base model) as dashed horizontal lines."""
    at: dict[str, float] = {}
    for spec in specs:
        meta = spec.get("metadata") or {}
        x = _number(meta.get(key)) if isinstance(meta, Mapping) else None
        if x is not None:
            at[str(spec.get("name"))] = x
    names = [n for n in names if _varies(metrics, list(at), n)][:_MAX_METRICS]
    if len(at) < 2 or not names:
        return None
    colors = model_colors(list(metrics))
    others = [m for m in metrics if m not in at]
    xs = np.array(list(at.values()))
    log = bool(np.all(xs > 0) and xs.max() / xs.min() >= 10)
    ncols = min(len(names), 3)
    nrows = math.ceil(len(names) / ncols)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(min(4.2 * ncols, 14), 3.2 * nrows + 0.4), layout="constrained")
        for i, name in enumerate(names):
            ax = fig.add_subplot(nrows, ncols, i + 1)
            pts = sorted((x, m) for m, x in at.items())
            line_x, line_y = [], []
            for x, m in pts:
                mv = metrics.get(m, {}).get(name)
                v = finite(mv.value) if mv else None
                if v is None:
                    continue
                lo, hi = (finite(mv.ci_low), finite(mv.ci_high)) if mv else (None, None)
                err = [[v - lo if lo is not None else 0.0], [hi - v if hi is not None else 0.0]]
                ax.errorbar([x], [v], yerr=np.maximum(err, 0.0), fmt="o", color=colors[m], capsize=3, zorder=3)
                ax.annotate(_text(m), (x, v), textcoords="offset points", xytext=(4, 4), fontsize=7)
                line_x.append(x)
                line_y.append(v)
            if len(set(line_x)) == len(line_x) > 1:  # one model per value: join them to show the trend
                ax.plot(line_x, line_y, color="#9ca3af", linewidth=1, zorder=2)
            for m in others:
                mv = metrics.get(m, {}).get(name)
                v = finite(mv.value) if mv else None
                if v is not None:
                    ax.axhline(v, color=colors[m], linestyle="--", linewidth=1.2,
                               label=_text(m) + (" (reference)" if m == reference else ""))
            if log:
                ax.set_xscale("log")
            shown = [metrics[m][name] for m in metrics if name in metrics[m]]
            if metric_kind(name, shown) == "fraction":
                ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
            ax.set_xlabel(_text(key))
            ax.set_title(_text(name), fontsize=9)
            if any(ax.get_legend_handles_labels()[1]):
                ax.legend(fontsize=7, frameon=False, loc="best")
        return _svg(fig)


def _varies(metrics: Mapping[str, Mapping[str, MetricValue]], models: Sequence[str], name: str) -> bool:
    """True when the swept models have at least two distinct known values of `name` (else nothing to plot)."""
    values = {finite(metrics[m][name].value) for m in models if name in metrics.get(m, {})} - {None}
    return len(values) >= 2


def training_curves(curves: Mapping[str, TrainingCurve]) -> str | None:
    """Per model: train and validation loss by step, validation mean token accuracy on a second axis."""
    curves = {m: c for m, c in curves.items() if c.checkpoints}
    if not curves:
        return None
    colors = model_colors(list(curves))
    ncols = min(len(curves), 3)
    nrows = math.ceil(len(curves) / ncols)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(min(4.6 * ncols, 14), 3.6 * nrows + 0.3), layout="constrained")
        for i, (model, curve) in enumerate(curves.items()):
            ax = fig.add_subplot(nrows, ncols, i + 1)
            steps = [c.step for c in curve.checkpoints]
            for field, style, label in (("train_loss", "-", "train loss"), ("valid_loss", "--", "valid loss")):
                ys = [finite(getattr(c, field)) for c in curve.checkpoints]
                pts = [(s, y) for s, y in zip(steps, ys) if y is not None]
                if pts:
                    ax.plot(*zip(*pts), style, color=colors[model], marker="o", markersize=3, label=label)
            acc = [(s, finite(c.valid_mean_token_accuracy)) for s, c in zip(steps, curve.checkpoints)]
            acc = [(s, y) for s, y in acc if y is not None]
            if acc:
                right = ax.twinx()
                right.plot(*zip(*acc), ":", color="#111827", marker="s", markersize=3, label="valid token accuracy")
                right.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
                right.grid(False)
                right.spines["right"].set_visible(True)
                handles, labels = ax.get_legend_handles_labels()
                h2, l2 = right.get_legend_handles_labels()
                # Below the axes: inside, it would sit on the curves (loss falls, accuracy rises to the corner).
                ax.legend(handles + h2, labels + l2, fontsize=7, frameon=False, loc="upper center",
                          bbox_to_anchor=(0.5, -0.2), ncols=3)
            elif ax.get_legend_handles_labels()[1]:
                ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
            ax.set_xlabel("step")
            ax.set_ylabel("loss")
            ax.set_title(f"{_text(model)} · job {_text(curve.job_id)}", fontsize=9)
        return _svg(fig)
