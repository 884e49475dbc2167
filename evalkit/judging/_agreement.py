"""Agreement of a judge's verdicts with human labels on the same pairs. Pure functions, no I/O.

Definitions (docs/judging.md): agreement *with ties* is over every pair the judge gave a valid verdict on,
`tie` being a label like the others; agreement *without ties* is over the pairs where neither the human nor
the judge said `tie`. Cohen's kappa is over the same pairs as agreement with ties, on the labels 1, 2, tie.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["LABELS", "Agreement", "Label", "agreement"]

Label = Literal["1", "2", "tie"]
"""Which answer of a pair is better: the first (`1`), the second (`2`), or neither (`tie`)."""
LABELS: tuple[Label, ...] = ("1", "2", "tie")


@dataclass(frozen=True)
class Agreement:
    """How often a judge agrees with humans, and Cohen's kappa."""

    n: int
    """Pairs with a valid judge verdict (the base of `with_ties` and `kappa`)."""
    n_invalid: int
    """Pairs without a valid judge verdict: left out, and reported."""
    agree: int
    n_without_ties: int
    agree_without_ties: int
    kappa: float | None
    """None when undefined (e.g. both raters used a single, identical label throughout)."""

    @property
    def with_ties(self) -> float | None:
        """Share of pairs where the judge's label equals the human's, ties included."""
        return self.agree / self.n if self.n else None

    @property
    def without_ties(self) -> float | None:
        """Share of agreement over pairs where neither rater said tie."""
        return self.agree_without_ties / self.n_without_ties if self.n_without_ties else None


def _check(name: str, labels: Sequence[str | None], allow_none: bool) -> None:
    bad = sorted({repr(x) for x in labels if x not in LABELS and not (allow_none and x is None)})
    if bad:
        allowed = f"{list(LABELS)}{' or None' if allow_none else ''}"
        raise ValueError(f"{name} must hold labels among {allowed}. Got {', '.join(bad[:3])} among its values.")


def agreement(human: Sequence[Label], judge: Sequence[Label | None]) -> Agreement:
    """Agreement of `judge` (None: no valid verdict) with `human`, pair by pair.

    >>> a = agreement(["1", "2", "1", "tie"], ["1", "2", "2", "tie"])
    >>> a.with_ties, a.without_ties, round(a.kappa, 4)
    (0.75, 0.6666666666666666, 0.6364)
    """
    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import cohen_kappa_score

    if len(human) != len(judge):
        raise ValueError(f"human and judge must label the same pairs. Got {len(human)} and {len(judge)} labels.")
    _check("human", human, allow_none=False)
    _check("judge", judge, allow_none=True)
    pairs = [(h, j) for h, j in zip(human, judge) if j is not None]
    decisive = [(h, j) for h, j in pairs if h != "tie" and j != "tie"]
    kappa = None
    if pairs:
        with warnings.catch_warnings():
            # sklearn warns and returns NaN when kappa is undefined; that is reported as None.
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            value = float(cohen_kappa_score([h for h, _ in pairs], [j for _, j in pairs], labels=list(LABELS)))
        kappa = value if math.isfinite(value) else None
    return Agreement(n=len(pairs), n_invalid=len(human) - len(pairs), agree=sum(h == j for h, j in pairs),
                     n_without_ties=len(decisive), agree_without_ties=sum(h == j for h, j in decisive),
                     kappa=kappa)
