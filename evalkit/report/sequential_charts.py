"""The chart of a sequential run: each comparison's anytime-valid confidence sequence over the items drawn, as an
SVG `data:` URI like evalkit.report.charts (same style)."""

from __future__ import annotations

import math
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure

from evalkit.report.charts import _RC, _svg, _text

__all__ = ["confidence_sequences"]


def confidence_sequences(result: Any) -> str | None:
    """One panel per comparison of `result` (an evalkit.sequential.SequentialResult): the running estimate of
    the mean difference and its interval at every look, over items drawn; zero, the gate bounds (dashed) and
    the equivalence margin (dotted) as lines; the deciding look marked."""
    comps = [c for c in result.comparisons if c.sequence.looks]
    if not comps:
        return None
    ncols = min(len(comps), 2)
    nrows = math.ceil(len(comps) / ncols)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(min(5.2 * ncols, 12), 3.3 * nrows + 0.3), layout="constrained")
        for i, c in enumerate(comps):
            ax = fig.add_subplot(nrows, ncols, i + 1)
            looks = c.sequence.looks
            x = [lk.drawn for lk in looks]
            est = [math.nan if lk.estimate is None else lk.estimate for lk in looks]
            ax.fill_between(x, [lk.low for lk in looks], [lk.high for lk in looks], step="post", alpha=0.25,
                            color="#1d4ed8", label="confidence sequence")
            ax.plot(x, est, marker="o", markersize=3, color="#1d4ed8", linewidth=1.2, label="estimate")
            ax.axhline(0.0, color="#374151", linewidth=1)
            for b in c.spec.bounds:
                ax.axhline(b, color="#b91c1c", linestyle="--", linewidth=1)
            margin = result.plan.margin_of(c.spec)
            if margin is not None:
                for m in (-margin, margin):
                    ax.axhline(m, color="#047857", linestyle=":", linewidth=1)
            d = c.decision
            if d.decided and d.drawn is not None:
                ax.axvline(d.drawn, color="#111827", linestyle="-.", linewidth=0.9, label=f"decided: {d.kind}")
            span = c.spec.span
            ax.set_ylim(-span * 1.02, span * 1.02)
            ax.set_xlabel("items drawn")
            ax.set_ylabel(_text(f"{c.spec.metric}: {c.spec.model} - {c.spec.reference}"))
            ax.set_title(_text(c.spec.key), fontsize=9)
            ax.legend(fontsize=7, frameon=False, loc="upper right")
        return _svg(fig)
