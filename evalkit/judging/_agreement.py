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
from typing import Any, Literal

__all__ = ["AGREEMENT_WARN_BELOW", "KAPPA_WARN_BELOW", "LABELS", "VERDICTS", "Agreement", "JudgeAgreement", "Label",
           "Verdict", "agreement", "judge_agreement"]

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


# ---------------------------------------------------------------------------------------------------------
# Agreement between two judges (e.g. an LLM judge and a check judge) on the same items

Verdict = Literal["win", "tie", "loss"]
VERDICTS: tuple[Verdict, ...] = ("win", "tie", "loss")

AGREEMENT_WARN_BELOW = 0.70
"""Raw agreement under which a report warns that the LLM judge disagrees with the objective check."""
KAPPA_WARN_BELOW = 0.40
"""Cohen's kappa under which a report warns (below "moderate" agreement on the Landis-Koch scale)."""


@dataclass(frozen=True)
class JudgeAgreement:
    """How often two judges give the same item verdict (win, tie, loss), with 95% intervals."""

    n: int
    agree: int
    agreement_ci: tuple[float, float] | None
    """Wilson interval of the raw agreement; None without items."""
    kappa: float | None
    """Cohen's kappa on the labels win, tie, loss; None when undefined (both judges gave one same label)."""
    kappa_ci: tuple[float, float] | None
    """Percentile bootstrap interval over items (seeded); None when kappa is None or there are too few items."""

    @property
    def agreement(self) -> float | None:
        """Share of items with the same verdict from both judges."""
        return self.agree / self.n if self.n else None

    @property
    def low(self) -> bool:
        """True when agreement is under AGREEMENT_WARN_BELOW or kappa under KAPPA_WARN_BELOW."""
        a = self.agreement
        return (a is not None and a < AGREEMENT_WARN_BELOW) or (self.kappa is not None and
                                                                self.kappa < KAPPA_WARN_BELOW)


def _kappa_rows(a: Any, b: Any) -> Any:
    """Cohen's kappa of each row of two (resamples, items) arrays of codes 0..2; 1.0 where both are constant
    and equal (perfect agreement, where the formula divides by zero)."""
    import numpy as np

    po = (a == b).mean(axis=-1)
    pe = sum((a == k).mean(axis=-1) * (b == k).mean(axis=-1) for k in range(len(VERDICTS)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pe < 1.0, (po - pe) / np.where(pe < 1.0, 1.0 - pe, 1.0), 1.0)


def judge_agreement(a: Sequence[Verdict], b: Sequence[Verdict], *, seed: int = 0, n_bootstrap: int = 2000,
                    confidence: float = 0.95) -> JudgeAgreement:
    """Agreement of two judges' verdicts on the same items, in the same order.

    >>> r = judge_agreement(["win", "win", "tie", "loss"], ["win", "tie", "tie", "loss"])
    >>> r.agreement, round(r.kappa, 4)
    (0.75, 0.6364)
    """
    import numpy as np

    from evalkit.stats import has_enough_items, paired_bootstrap, wilson_interval

    if len(a) != len(b):
        raise ValueError(f"both judges must give a verdict on the same items. Got {len(a)} and {len(b)} verdicts.")
    bad = sorted({repr(x) for x in (*a, *b) if x not in VERDICTS})
    if bad:
        raise ValueError(f"verdicts must be among {list(VERDICTS)}. Got {', '.join(bad[:3])} instead.")
    n = len(a)
    if n == 0:
        return JudgeAgreement(n=0, agree=0, agreement_ci=None, kappa=None, kappa_ci=None)
    codes_a = np.array([VERDICTS.index(x) for x in a])
    codes_b = np.array([VERDICTS.index(x) for x in b])
    agree = int((codes_a == codes_b).sum())
    pe = sum(float((codes_a == k).mean() * (codes_b == k).mean()) for k in range(len(VERDICTS)))
    kappa = None if pe >= 1.0 else float(_kappa_rows(codes_a[None, :], codes_b[None, :])[0])
    kappa_ci = None
    if kappa is not None and has_enough_items(n):
        boot = paired_bootstrap(_kappa_rows, codes_a, codes_b, n_resamples=n_bootstrap, confidence=confidence,
                                seed=seed, vectorized=True)
        kappa_ci = (boot.ci_low, boot.ci_high)
    return JudgeAgreement(n=n, agree=agree, agreement_ci=wilson_interval(agree, n, confidence), kappa=kappa,
                          kappa_ci=kappa_ci)
