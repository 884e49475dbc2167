"""How numbers are shown in reports: one rule per kind of metric, shared by the HTML and Markdown views."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

from evalkit.records import MetricValue

Kind = Literal["fraction", "seconds", "usd", "tokens", "count", "relative", "number"]
"""How a number is shown; `relative` (a ratio minus one, shown as a signed %) is only used for deltas."""

MISSING = "—"
"""Shown for a value that was not computed (an empty metric, a CI that does not exist)."""

_FRACTION_UNITS = frozenset({"", "fraction", "proportion", "rate", "ratio"})
_SECOND_UNITS = frozenset({"s", "sec", "second", "seconds"})
_USD_UNITS = frozenset({"$", "usd", "USD", "dollar", "dollars"})
_COUNT_UNITS = frozenset({"items", "calls", "count", "samples"})
_COUNT_NAMES = frozenset({"n", "n_calls", "failed", "n_items"})


def finite(x: float | None) -> float | None:
    """`x` when it is a finite number, else None (NaN and infinities are never shown nor written)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def metric_kind(name: str, values: Iterable[MetricValue]) -> Kind:
    """The display kind of metric `name`, from its unit and name and the range of its values."""
    values = list(values)
    unit = values[0].unit if values else ""
    if name.endswith("_rel_change"):
        return "relative"
    if unit in _COUNT_UNITS or name in _COUNT_NAMES:
        return "count"
    if unit in _SECOND_UNITS or name.endswith("_s") or name.startswith("latency"):
        return "seconds"
    if unit in _USD_UNITS or name.startswith("cost"):
        return "usd"
    if unit == "tokens" or "tokens" in name:
        return "tokens"
    if unit in _FRACTION_UNITS:
        numbers = [finite(x) for v in values for x in (v.value, v.ci_low, v.ci_high)]
        present = [x for x in numbers if x is not None]
        # A metric is a rate only when everything seen lies in [0, 1]; a judge score of 7 is not 700 %.
        if present and all(0.0 <= x <= 1.0 for x in present):
            return "fraction"
    return "number"


def fmt_value(kind: Kind, x: float | None, unit: str = "") -> str:
    """One metric value, e.g. `81.2%`, `0.412 s`, `$0.0123`, `412`."""
    x = finite(x)
    if x is None:
        return "unknown" if kind == "usd" else MISSING
    if kind == "fraction":
        return f"{x * 100:.1f}%"
    if kind == "seconds":
        return f"{x:.3f} s" if abs(x) < 1 else f"{x:,.2f} s"
    if kind == "usd":
        return "$" + _usd_digits(x)
    if kind == "tokens":
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"
    if kind == "count":
        return f"{x:,.0f}" if x == int(x) else f"{x:,.1f}"
    if kind == "relative":
        return f"{x * 100:+.1f}%"
    text = f"{x:.3f}" if abs(x) < 1 else f"{x:,.2f}"
    return f"{text} {unit}" if unit else text


def fmt_delta(kind: Kind, x: float | None, unit: str = "") -> str:
    """A signed difference, e.g. `+3.1 pp`, `-0.052 s`, `+$0.0040`."""
    x = finite(x)
    if x is None:
        return MISSING
    if kind == "fraction":
        return f"{x * 100:+.1f} pp"
    if kind == "seconds":
        return f"{x:+.3f} s"
    if kind == "usd":
        return ("-" if x < 0 else "+") + "$" + _usd_digits(abs(x))
    if kind in ("tokens", "count"):
        return f"{x:+,.1f}"
    if kind == "relative":
        return f"{x * 100:+.1f}%"
    text = f"{x:+.3f}"
    return f"{text} {unit}" if unit else text


def fmt_ci(kind: Kind, low: float | None, high: float | None, *, signed: bool = False) -> str:
    """A confidence interval as `[low, high]`, or an empty string when it was not computed."""
    low, high = finite(low), finite(high)
    if low is None or high is None:
        return ""
    fmt = fmt_delta if signed else fmt_value
    return f"[{fmt(kind, low)}, {fmt(kind, high)}]"


def fmt_p(p: float | None) -> str:
    """A p-value with three decimals, `<0.001` below that."""
    p = finite(p)
    if p is None:
        return MISSING
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_p_clause(p: float | None) -> str:
    """A p-value as a clause: `p = 0.012`, `p < 0.001`, or `p —` when there is none."""
    text = fmt_p(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}" if text != MISSING else f"p {MISSING}"


def _usd_digits(x: float) -> str:
    """Dollars with cents above $1, else enough decimals for two significant digits (at least four)."""
    if abs(x) >= 1:
        return f"{x:,.2f}"
    if x == 0:
        return "0.00"
    decimals = min(8, max(4, 1 - math.floor(math.log10(abs(x)))))
    return f"{x:.{decimals}f}"


def fmt_cell(x: object) -> str:
    """A cell of a task's table: floats to four significant digits, missing and NaN as a dash."""
    if x is None:
        return MISSING
    if isinstance(x, float) or (hasattr(x, "dtype") and hasattr(x, "item")):
        try:
            f = float(x)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return str(x)
        if f.is_integer() and not isinstance(x, float):
            return str(int(f))
        return f"{f:.4g}" if math.isfinite(f) else MISSING
    return str(x)
