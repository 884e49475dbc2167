"""Charts for the HTML report, each returned as an SVG `data:` URI to embed in an <img>.

An <img> cannot run script, so an SVG is safe there even though its labels come from untrusted data.
Figures are built with the object-oriented API (matplotlib.figure.Figure), never pyplot: nothing is kept
in pyplot's global registry, so there is no figure to close and no memory growth over many reports, and
the caller's matplotlib backend is left alone.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from evalkit.records import ConfusionMatrix, MetricValue
from evalkit.report._format import finite

_RC = {
    "svg.fonttype": "none",      # text stays text: far smaller files, selectable labels
    "svg.hashsalt": "evalkit",   # stable element ids, so the same run gives the same report
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "text.usetex": False,
}
_MAX_LABEL = 28
_ANNOTATE_MAX_CLASSES = 20
_ECDF_POINTS = 200


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """A distinct colour per model, stable across charts (tab10, then tab20, then an even spread)."""
    n = len(models)
    if n <= 10:
        cmap, xs = mpl.colormaps["tab10"], range(n)
        return {m: mpl.colors.to_hex(cmap(i)) for m, i in zip(models, xs)}
    if n <= 20:
        cmap = mpl.colormaps["tab20"]
        return {m: mpl.colors.to_hex(cmap(i)) for i, m in enumerate(models)}
    cmap = mpl.colormaps["turbo"]
    return {m: mpl.colors.to_hex(cmap(i / max(n - 1, 1))) for i, m in enumerate(models)}


def metric_bars(metrics: Mapping[str, Mapping[str, MetricValue]], names: Sequence[str]) -> str | None:
    """Grouped bars with CI whiskers: one group per metric in `names` (all in [0, 1]), one bar per model."""
    models = [m for m in metrics if any(n in metrics[m] for n in names)]
    if not models or not names:
        return None
    colors = model_colors(list(metrics))
    k = len(models)
    with mpl.rc_context(_RC):
        # Many models: legend beside the plot (a row of legends above would squeeze the axes away).
        side_legend = k > 4
        width = min(max(4.5, 0.9 + len(names) * (0.35 + 0.22 * k)), 16) + (2.2 if side_legend else 0)
        fig = Figure(figsize=(width, max(3.8, 0.5 + 0.22 * k)), layout="constrained")
        ax = fig.add_subplot()
        x = np.arange(len(names))
        bar = 0.8 / k
        for i, m in enumerate(models):
            vals, lo_err, hi_err = [], [], []
            for name in names:
                mv = metrics[m].get(name)
                v = finite(mv.value) if mv else None
                vals.append(np.nan if v is None else v)
                lo, hi = (finite(mv.ci_low), finite(mv.ci_high)) if mv else (None, None)
                lo_err.append(0.0 if v is None or lo is None else max(v - lo, 0.0))
                hi_err.append(0.0 if v is None or hi is None else max(hi - v, 0.0))
            pos = x - 0.4 + bar * (i + 0.5)
            ax.bar(pos, vals, bar * 0.92, color=colors[m], label=_text(m),
                   yerr=[lo_err, hi_err], capsize=min(3.0, 12.0 / k), error_kw={"elinewidth": 0.9})
            if k * len(names) <= 24:
                for px, v in zip(pos, vals):
                    if not math.isnan(v):
                        ax.text(px, 0.01, f"{v * 100:.0f}", ha="center", va="bottom", fontsize=7, color="white")
        ax.set_xticks(x, [_text(n) for n in names], rotation=20 if len(names) > 4 else 0, ha="right"
                      if len(names) > 4 else "center")
        ax.set_ylim(0, 1.05)
        ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
        ax.grid(axis="x", visible=False)
        if side_legend:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), ncols=1 if k <= 16 else 2, frameon=False,
                      fontsize=8)
        else:
            ax.legend(loc="lower left", bbox_to_anchor=(0, 1.01), ncols=k, frameon=False, fontsize=8)
        return _svg(fig)


def confusion_matrices(cms: Sequence[ConfusionMatrix]) -> str | None:
    """Confusion matrices side by side (wrapping after three), counts annotated while legible."""
    cms = [cm for cm in cms if cm.counts and cm.labels]
    if not cms:
        return None
    ncols = min(len(cms), 3)
    nrows = math.ceil(len(cms) / ncols)
    n_classes = max(len(cm.predicted_labels) for cm in cms)
    cell = 0.42 if n_classes <= 10 else max(0.12, 4.5 / n_classes)
    side = max(2.6, 1.4 + cell * n_classes)
    with mpl.rc_context({**_RC, "axes.grid": False}):
        fig = Figure(figsize=(min(ncols * side + 0.5, 18), nrows * (side + 0.4)), layout="constrained")
        for i, cm in enumerate(cms):
            ax = fig.add_subplot(nrows, ncols, i + 1)
            counts = np.array(cm.counts, dtype=float).reshape(len(cm.labels), len(cm.predicted_labels))
            row_sums = counts.sum(axis=1, keepdims=True)
            # Colour by share of the true class, so rare and common classes read alike; text shows counts.
            share = np.divide(counts, row_sums, out=np.zeros_like(counts), where=row_sums > 0)
            ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
            if max(len(cm.labels), len(cm.predicted_labels)) <= _ANNOTATE_MAX_CLASSES:
                for (r, c), v in np.ndenumerate(counts):
                    ax.text(c, r, f"{int(v)}", ha="center", va="center", fontsize=7 if n_classes > 8 else 8,
                            color="white" if share[r, c] > 0.6 else "#1f2937")
            show_ticks = len(cm.predicted_labels) <= 60
            ax.set_xticks(range(len(cm.predicted_labels)),
                          [_text(p) for p in cm.predicted_labels] if show_ticks else [""] * len(cm.predicted_labels),
                          rotation=45, ha="right", fontsize=7)
            ax.set_yticks(range(len(cm.labels)),
                          [_text(p) for p in cm.labels] if show_ticks else [""] * len(cm.labels), fontsize=7)
            if "invalid" in cm.predicted_labels:
                j = cm.predicted_labels.index("invalid")
                ax.axvline(j - 0.5, color="#b91c1c", linewidth=1.2)
                ax.get_xticklabels()[j].set_color("#b91c1c")
            ax.set_title(_text(cm.model), fontsize=9)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
        return _svg(fig)


def latency_distribution(latencies: Mapping[str, Sequence[float]], xlabel: str = "latency (s)") -> str | None:
    """Per-model latency (or any duration, named by `xlabel`): an ECDF (left) and a 5–95 % box plot (right)."""
    data = {m: np.sort(np.asarray(v, dtype=float)) for m, v in latencies.items() if len(v)}
    if not data:
        return None
    colors = model_colors(list(latencies))
    k = len(data)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(10, max(3.0, 1.2 + 0.35 * k)), layout="constrained")
        ecdf, box = fig.subplots(1, 2, width_ratios=[3, 2])
        for m, v in data.items():
            # A few hundred quantiles draw the same curve as 10,000 steps at a fraction of the SVG size.
            qs = np.linspace(0, 1, min(_ECDF_POINTS, v.size))
            ecdf.step(np.quantile(v, qs), qs, where="post", color=colors[m], label=_text(m), linewidth=1.4)
        # A few slow calls (retries, a cold start) would squash every curve into the left edge on a linear
        # axis: a log axis keeps both the bulk and the tail readable when they are an order of magnitude apart.
        lowest = min(float(v[0]) for v in data.values())
        log = lowest > 0 and max(float(v[-1]) for v in data.values()) / lowest >= 8
        if log:
            ecdf.set_xscale("log")
            ecdf.xaxis.set_major_locator(mpl.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            ecdf.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda x, _: f"{x:g}"))
            ecdf.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
        ecdf.set_xlabel(xlabel + (" (log scale)" if log else ""))
        ecdf.set_ylabel("share of calls ≤ x")
        ecdf.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
        if k <= 6:  # beyond that the legend hides the curves; the box plot's labels name the colours
            ecdf.legend(loc="lower right", fontsize=7, frameon=False)
        names = list(data)[::-1]  # first model on top
        # `orientation=` arrived in matplotlib 3.10, which deprecated `vert=`; the project allows >= 3.8.
        horizontal = {"orientation": "horizontal"} if mpl.__version_info__ >= (3, 10) else {"vert": False}
        parts = box.boxplot([data[m] for m in names], whis=(5, 95), showfliers=False, patch_artist=True,
                            widths=0.6, medianprops={"color": "#111827"}, **horizontal)
        for patch, m in zip(parts["boxes"], names):
            patch.set_facecolor(colors[m])
            patch.set_alpha(0.75)
        box.set_yticks(range(1, k + 1), [_text(m) for m in names])
        box.set_xlabel(f"{xlabel}, whiskers 5–95 %")
        return _svg(fig)


def accuracy_latency(metrics: Mapping[str, Mapping[str, MetricValue]], accuracy: str = "accuracy",
                     latency: str = "latency_mean_s") -> str | None:
    """Accuracy against mean latency per call, one labelled point per model with its CI whiskers (the AmiRA
    case study's two plots in one: is the fine-tuned small model both better and faster?)."""
    points = {}
    for m, per in metrics.items():
        acc, lat = per.get(accuracy), per.get(latency)
        if acc is not None and lat is not None and finite(acc.value) is not None and finite(lat.value) is not None:
            points[m] = (acc, lat)
    if not points:
        return None
    colors = model_colors(list(metrics))
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(5.5, 3.8), layout="constrained")
        ax = fig.add_subplot()
        for m, (acc, lat) in points.items():
            x, y = float(lat.value), float(acc.value)

            def err(mv: MetricValue, v: float) -> list[list[float]]:
                lo, hi = finite(mv.ci_low), finite(mv.ci_high)
                return [[0.0 if lo is None else max(v - lo, 0.0)], [0.0 if hi is None else max(hi - v, 0.0)]]

            ax.errorbar([x], [y], xerr=err(lat, x), yerr=err(acc, y), fmt="o", color=colors[m], capsize=3,
                        elinewidth=0.9, markersize=7)
            ax.annotate(_text(m), (x, y), textcoords="offset points", xytext=(6, 5), fontsize=8)
        ax.set_xlabel("mean latency per call (s)")
        ax.set_ylabel(accuracy.replace("_", " "))
        ax.set_xlim(left=0)
        ax.set_ylim(-0.02, 1.05)
        ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
        return _svg(fig)


def _text(s: str) -> str:
    """Untrusted text made safe for matplotlib: no mathtext (`$`), bounded length."""
    s = str(s).replace("\n", " ")
    if len(s) > _MAX_LABEL:
        s = s[: _MAX_LABEL - 1] + "…"
    return s.replace("$", r"\$")


def _svg(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
