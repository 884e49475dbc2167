"""What a finished (pilot) run says about the comparisons a plan is for: discordance, variance, observed
difference and n of each model against the reference, from the stored per-sample scores. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from evalkit.records import SampleResult

__all__ = ["PilotEstimate", "pilot_estimates"]


@dataclass(frozen=True)
class PilotEstimate:
    """One `model - reference` comparison, estimated from the paired per-sample scores of a run."""

    model: str
    reference: str
    kind: Literal["binary", "continuous"]
    """binary: every score is 0 or 1 (McNemar applies); continuous: any other scores (paired t)."""
    n: int
    """Samples where both models have a score."""
    missing: int
    """Samples where either model has no score (failed call or judgment); left out."""
    delta: float
    """Observed mean difference, model - reference."""
    sd: float
    """Standard deviation of the per-item differences (ddof=1; 0 with fewer than 2 items)."""
    discordance: float | None
    """binary only: the share of items on which exactly one model is right."""


def _estimate(results: Sequence[SampleResult], model: str, reference: str) -> PilotEstimate:
    pairs, missing = [], 0
    for r in results:
        a, b = r.scores.get(model), r.scores.get(reference)
        if a is None or b is None or a.value is None or b.value is None:
            missing += 1
        else:
            pairs.append((float(a.value), float(b.value)))
    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    d = x - y
    binary = bool(pairs) and bool(np.all(np.isin(x, (0.0, 1.0))) and np.all(np.isin(y, (0.0, 1.0))))
    return PilotEstimate(model=model, reference=reference, kind="binary" if binary else "continuous",
                         n=len(pairs), missing=missing, delta=float(d.mean()) if pairs else 0.0,
                         sd=float(d.std(ddof=1)) if len(pairs) > 1 else 0.0,
                         discordance=float(np.mean(d != 0)) if binary else None)


def pilot_estimates(results: Sequence[SampleResult], models: Sequence[str], reference: str) -> list[PilotEstimate]:
    """One estimate per model other than `reference`, in the order of `models`."""
    if reference not in models:
        raise ValueError(f"reference must be among {list(models)}. Got {reference!r}")
    return [_estimate(results, m, reference) for m in models if m != reference]
