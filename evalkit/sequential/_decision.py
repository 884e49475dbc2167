"""Decision rules over a confidence sequence: when does a paired comparison need no more items?

A comparison with gate bounds b_1..b_k (besides zero) and an optional equivalence margin m is decided at the
first look where either

- its interval lies wholly inside [-m, +m]  ("equivalent": no difference larger than m), or
- its interval lies wholly above or below zero *and* wholly above or below every b_j  ("above"/"below" is the
  side of zero; each bound gets its own side, which is what a gate reads).

Because the interval is anytime-valid and intersected over looks, it only shrinks: a side, once settled, stays
settled, and every statement above is wrong with probability at most alpha (all of them at once, for one
comparison). Pure functions over arrays: the last axis is the looks, leading axes are independent runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evalkit.sequential._records import BoundVerdict, Decision, Look

__all__ = ["KIND_ABOVE", "KIND_BELOW", "KIND_EQUIVALENT", "KIND_UNDECIDED", "decide", "first_decision"]

KIND_UNDECIDED, KIND_ABOVE, KIND_BELOW, KIND_EQUIVALENT = 0, 1, 2, 3
_KIND_NAMES = {KIND_UNDECIDED: "undecided", KIND_ABOVE: "above", KIND_BELOW: "below",
               KIND_EQUIVALENT: "equivalent"}


def _settled(low: np.ndarray, high: np.ndarray, bound: float) -> np.ndarray:
    return (low > bound) | (high < bound)


def first_decision(low: np.ndarray, high: np.ndarray, bounds: Sequence[float] = (),
                   margin: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first deciding look of each sequence, and its kind.

    `low` and `high` have shape (..., looks). Returns (look, kind) of shape (...): `look` is the 0-based index
    of the first look that decided (-1 if none did) and `kind` one of KIND_ABOVE, KIND_BELOW, KIND_EQUIVALENT
    (KIND_UNDECIDED where look is -1). Equivalence is checked first: an interval inside [-m, m] that also
    excludes zero is reported as equivalent, since that is the stronger statement for a margin the user chose.

    >>> look, kind = first_decision(np.array([-0.2, 0.01, 0.02]), np.array([0.3, 0.2, 0.1]))
    >>> int(look), int(kind) == KIND_ABOVE
    (1, True)
    """
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    if low.shape != high.shape or low.ndim < 1:
        raise ValueError(f"low and high must have one equal shape with a looks axis. Got {low.shape}, {high.shape}")
    if margin is not None and not margin > 0:
        raise ValueError(f"margin must be positive or None. Got {margin!r}")
    sides = _settled(low, high, 0.0)
    for b in bounds:
        sides &= _settled(low, high, float(b))
    equivalent = (low >= -margin) & (high <= margin) if margin is not None else np.zeros_like(sides)
    decided = sides | equivalent
    any_decided = decided.any(axis=-1)
    look = np.where(any_decided, decided.argmax(axis=-1), -1)
    at = np.maximum(look, 0)[..., None]
    eq_at = np.take_along_axis(equivalent, at, axis=-1)[..., 0]
    above_at = np.take_along_axis(low, at, axis=-1)[..., 0] > 0
    kind = np.where(~any_decided, KIND_UNDECIDED,
                    np.where(eq_at, KIND_EQUIVALENT, np.where(above_at, KIND_ABOVE, KIND_BELOW)))
    return look, kind


def decide(looks: Sequence[Look], bounds: Sequence[float] = (), margin: float | None = None) -> Decision:
    """The Decision record of one comparison's looks (see the module docstring for the rule)."""
    if not looks:
        return Decision(kind="undecided", bounds=tuple(BoundVerdict(bound=b, side="undecided")
                                                       for b in (0.0, *bounds)))
    low = np.array([lk.low for lk in looks])
    high = np.array([lk.high for lk in looks])
    look, kind = first_decision(low, high, bounds, margin)
    verdicts = []
    for b in (0.0, *bounds):
        settled = _settled(low, high, float(b))
        if settled.any():
            i = int(settled.argmax())
            verdicts.append(BoundVerdict(bound=b, side="above" if low[i] > b else "below", n=looks[i].n))
        else:
            verdicts.append(BoundVerdict(bound=b, side="undecided"))
    i = int(look)
    if i < 0:
        return Decision(kind="undecided", bounds=tuple(verdicts))
    return Decision(kind=_KIND_NAMES[int(kind)], look=i, n=looks[i].n, drawn=looks[i].drawn,
                    bounds=tuple(verdicts))
