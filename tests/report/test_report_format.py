"""Number formatting, verdicts and charts on edge cases."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest

from evalkit.records import Comparison, ConfusionMatrix, MetricValue
from evalkit.report import charts
from evalkit.report._format import (
    fmt_cell,
    fmt_ci,
    fmt_delta,
    fmt_p_clause,
    fmt_value,
    metric_kind,
)
from evalkit.report._headline import direction, verdict
from evalkit.report.results_json import _jsonable


@pytest.mark.parametrize(("kind", "value", "text"), [
    ("fraction", 0.8123, "81.2%"), ("seconds", 0.41234, "0.412 s"), ("seconds", 12.345, "12.35 s"),
    ("usd", 0.0123, "$0.0123"), ("usd", 0.000123, "$0.00012"), ("usd", 12.5, "$12.50"), ("usd", None, "unknown"),
    ("tokens", 412.4, "412"), ("count", 24.0, "24"), ("number", math.nan, "—"), ("fraction", None, "—"),
])
def test_fmt_value(kind, value, text) -> None:
    assert fmt_value(kind, value) == text


def test_deltas_cis_and_p() -> None:
    assert fmt_delta("fraction", 0.031) == "+3.1 pp"
    assert fmt_delta("usd", -0.004) == "-$0.0040"
    assert fmt_delta("relative", -0.34) == "-34.0%"
    assert fmt_ci("fraction", 0.1, 0.2) == "[10.0%, 20.0%]"
    assert fmt_ci("fraction", 0.1, math.inf) == ""
    assert (fmt_p_clause(0.0001), fmt_p_clause(0.0123), fmt_p_clause(None)) == ("p < 0.001", "p = 0.012", "p —")


def test_metric_kind_uses_range_unit_and_name() -> None:
    def mv(v: float, unit: str = "") -> MetricValue:
        return MetricValue(name="x", value=v, unit=unit)
    assert metric_kind("accuracy", [mv(0.5), mv(0.9)]) == "fraction"
    assert metric_kind("judge_score", [mv(0.5), mv(7.0)]) == "number"  # 7 is not 700 %
    assert metric_kind("cost_usd", [mv(0.5, "USD")]) == "usd"
    assert metric_kind("latency_p50_s", [mv(0.5, "s")]) == "seconds"
    assert metric_kind("n", [mv(24, "items")]) == "count"


def test_verdicts_and_directions() -> None:
    base = dict(metric="accuracy", model="ft", reference="base", n=50)
    sig = Comparison(**base, delta=-0.1, ci_low=-0.2, ci_high=-0.05, p_value=0.01)
    assert verdict(sig) == "significant" and direction(sig, True) == "worse" and direction(sig, False) == "better"
    ns = Comparison(**base, delta=0.1, ci_low=-0.05, ci_high=0.2, p_value=0.3)
    assert verdict(ns) == "not significant" and direction(ns, True) == "neutral"
    assert verdict(Comparison(**base, delta=0.1, ci_low=0.05, ci_high=0.2, note="too few items")) == "too few items"
    assert verdict(Comparison(**base, delta=None, note="undefined: the reference's value is zero")) == "not computed"
    assert verdict(Comparison(**base, delta=0.1, note="no interval")) == "not computed"


def test_table_cells_and_json_values() -> None:
    assert [fmt_cell(v) for v in (0.123456, math.nan, None, "a|b", np.int64(3), 2)] == \
        ["0.1235", "—", "—", "a|b", "3", "2"]
    assert _jsonable({"a": np.float64("nan"), "b": np.int64(3), "c": (1.5, math.inf), 4: object}) == \
        {"a": None, "b": 3, "c": [1.5, None], "4": str(object)}


def test_many_class_confusion_matrix_stays_small() -> None:
    labels = tuple(f"intent_{i}" for i in range(150))
    counts = tuple(tuple(int(i == j) * 3 for j in range(151)) for i in range(150))
    cm = ConfusionMatrix(model="ft", labels=labels, predicted_labels=(*labels, "invalid"), counts=counts)
    uri = charts.confusion_matrices([cm, cm.model_copy(update={"model": "base"})])
    svg = base64.b64decode(uri.split(",", 1)[1])
    assert svg.startswith(b"<?xml") and len(svg) < 2_000_000
    assert svg.count(b"<text") < 500  # 22,650 cells: no per-cell counts, no tick labels


def test_charts_escape_mathtext_and_handle_empty_inputs() -> None:
    assert charts.latency_distribution({"a$b$": [0.1, 0.2], "empty": []}) is not None
    assert charts.latency_distribution({"a": []}) is None
    assert charts.confusion_matrices([]) is None
    assert charts.metric_bars({}, []) is None
    bars = charts.metric_bars({"$\\frac{1}{0}$": {"acc": MetricValue(name="acc", value=0.5)}}, ["acc"])
    assert bars is not None


def test_accuracy_latency_scatter_edge_cases() -> None:
    acc = MetricValue(name="accuracy", value=0.8, ci_low=0.7, ci_high=0.9)
    lat = MetricValue(name="latency_mean_s", value=0.4, ci_low=None, ci_high=None)
    assert charts.accuracy_latency({"ft$x$": {"accuracy": acc, "latency_mean_s": lat}, "base": {"accuracy": acc}})
    # No model with both values (e.g. batch answers have no latency): no chart.
    assert charts.accuracy_latency({"m": {"accuracy": acc}}) is None
    assert charts.accuracy_latency({"m": {"accuracy": acc.model_copy(update={"value": None}),
                                          "latency_mean_s": lat}}) is None
