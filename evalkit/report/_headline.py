"""The headline table as plain data: one row per metric, one cell per model, deltas against the reference.

Both the HTML and the Markdown report render this same view, so they can never disagree on a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from evalkit.operational import OPERATIONAL_COMPARISONS, OPERATIONAL_METRICS
from evalkit.records import Comparison, MetricValue, RunResult
from evalkit.report._format import (
    Kind,
    finite,
    fmt_ci,
    fmt_delta,
    fmt_p_clause,
    fmt_value,
    metric_kind,
)
from evalkit.report._metrics import (
    is_operational,
    metric_names,
    metrics_by_model,
    model_order,
)

Verdict = Literal["significant", "not significant", "too few items", "not computed"]
Direction = Literal["better", "worse", "neutral"]


@dataclass(frozen=True)
class DeltaCell:
    """A model's paired difference from the reference model on one metric."""

    delta: str
    ci: str
    p: str
    test: str
    n: int
    verdict: Verdict
    direction: Direction
    """`better`/`worse` only for a significant delta; which way is better comes from the metric."""
    note: str
    """The comparison's note when it says more than the verdict."""
    sign: int
    """+1, 0 or -1: which way the delta points (drawn as an arrow)."""


@dataclass(frozen=True)
class Cell:
    """One model's value of one metric, with its CI and, for non-reference models, the delta."""

    value: str
    ci: str
    n: int
    delta: DeltaCell | None


@dataclass(frozen=True)
class Row:
    """One metric across all models."""

    metric: str
    kind: Kind
    operational: bool
    higher_is_better: bool | None
    cells: tuple[Cell | None, ...]
    """In model order; None where a model has no value for this metric."""


@dataclass(frozen=True)
class Headline:
    """The headline table of a run."""

    models: tuple[str, ...]
    reference: str
    rows: tuple[Row, ...]


HIDDEN_METRICS = frozenset({"n_calls", "failed"})
"""Shown in the headline's own Calls row (with cache hits and retries) rather than as metric rows."""


def verdict(c: Comparison) -> Verdict:
    """The marker shown for a comparison: the note wins when it says the test could not be run."""
    if "too few" in c.note.lower():
        return "too few items"
    if finite(c.delta) is None:
        return "not computed"
    if finite(c.p_value) is None and (finite(c.ci_low) is None or finite(c.ci_high) is None):
        return "not computed"
    return "significant" if c.significant else "not significant"


def direction(c: Comparison, higher_is_better: bool | None) -> Direction:
    """Whether a comparison shows a significant improvement, a significant regression, or neither."""
    delta = finite(c.delta)
    if higher_is_better is None or delta is None or delta == 0 or verdict(c) != "significant":
        return "neutral"
    return "better" if (delta > 0) == higher_is_better else "worse"


def build_headline(run: RunResult, metrics: dict[str, dict[str, MetricValue]] | None = None,
                   models: Sequence[str] | None = None) -> Headline:
    """The headline table of `run`: task metrics first, then operational ones.

    A comparison of a quantity that is not itself a metric (`latency_p50_delta_s`,
    `prompt_tokens_rel_change`) is shown on the row of the metric it is about, else on a row of its own.
    `metrics` is metrics_by_model(run) and `models` the model order, when the caller has them already.
    """
    models = tuple(models) if models is not None else model_order(run)
    metrics = metrics_by_model(run, models) if metrics is None else metrics
    reference = run.info.reference
    names = [n for n in metric_names(metrics) if n not in HIDDEN_METRICS]
    comparisons: dict[tuple[str, str], Comparison] = {}
    for c in run.summary.comparisons:
        row = _row_for(c.metric, names)
        if row is None:
            names.append(c.metric)
            row = c.metric
        comparisons.setdefault((c.model, row), c)
    names = [n for n in names if not is_operational(n)] + [n for n in names if is_operational(n)]
    rows = []
    for name in names:
        present = [metrics[m][name] for m in models if name in metrics[m]]
        kind = metric_kind(name, present)
        hib = present[0].higher_is_better if present else _comparison_hib(name)
        if kind == "count" and not is_operational(name):
            hib = None  # a number of items is context, not a score: no "better" direction
        unit = present[0].unit if present else ""
        cells = tuple(_cell(metrics[m].get(name), comparisons.get((m, name)) if m != reference else None,
                            kind, unit, hib) for m in models)
        rows.append(Row(metric=name, kind=kind, operational=is_operational(name), higher_is_better=hib,
                        cells=cells))
    return Headline(models=models, reference=reference, rows=tuple(rows))


def _row_for(metric: str, names: list[str]) -> str | None:
    """The metric row a comparison belongs on, by the naming rule of operational comparisons."""
    if metric in names:
        return metric
    row = OPERATIONAL_COMPARISONS.get(metric)
    if row is not None and row.about in names:
        return row.about
    return None


def _comparison_hib(metric: str) -> bool | None:
    """Which way is better for a comparison without a metric of its own (the operational table says)."""
    row = OPERATIONAL_COMPARISONS.get(metric) or OPERATIONAL_METRICS.get(metric)
    return row.higher_is_better if row is not None else None


def _cell(mv: MetricValue | None, c: Comparison | None, kind: Kind, unit: str,
          hib: bool | None) -> Cell | None:
    if mv is None and c is None:
        return None
    delta = None
    if c is not None:
        v = verdict(c)
        note = "" if v == "too few items" and "too few" in c.note.lower() else c.note
        dkind = metric_kind(c.metric, []) if c.metric.endswith("_rel_change") else kind
        text = fmt_delta(dkind, c.delta, unit)
        if dkind == "relative" and finite(c.delta) is not None:
            text += " (relative)"
        delta = DeltaCell(delta=text, ci=fmt_ci(dkind, c.ci_low, c.ci_high, signed=True),
                          p=fmt_p_clause(c.p_value), test=c.test, n=c.n, verdict=v, direction=direction(c, hib),
                          note=note, sign=_sign(c.delta))
    if mv is None:
        return Cell(value=fmt_value(kind, None), ci="", n=0, delta=delta)
    return Cell(value=fmt_value(kind, mv.value, unit), ci=fmt_ci(kind, mv.ci_low, mv.ci_high), n=mv.n,
                delta=delta)


def _sign(x: float | None) -> int:
    x = finite(x)
    return 0 if not x else (1 if x > 0 else -1)
