"""Reference-based machine-translation metrics (BLEU, chrF, TER) with sacrebleu's paired bootstrap. Pure functions.

Choices made once, here:

- Scores are sacrebleu's *corpus* scores with its default settings (BLEU: 13a tokenisation, exp smoothing;
  chrF: character 6-grams, beta 2; TER: default options), so every number equals what the `sacrebleu` command
  prints for the same files. The signatures are returned so a report can say exactly what was computed.
- The p-value of a delta is sacrebleu's own paired bootstrap test (`sacrebleu.significance.PairedTest`,
  `test_type="bs"`, the Moses `bootstrap-hypothesis-difference-significance.pl` algorithm): the same number as
  `sacrebleu REF -i BASELINE SYSTEM --paired-bs` for the same seed and resample count.
- Confidence intervals (per model and for the delta) are *percentile* intervals over the very resamples that
  test drew: sacrebleu seeds `numpy.random.default_rng(seed)` and draws one `(n_resamples, n_segments)` index
  matrix; the same matrix is rebuilt here and each resample is re-scored from sacrebleu's per-segment
  sufficient statistics. (sacrebleu itself reports `mean ± half-width`; a percentile interval matches how
  evalkit reports every other metric.)
- sacrebleu reads its seed from the `SACREBLEU_SEED` environment variable; evalkit's seed 0 maps to
  sacrebleu's default 12345, so default runs reproduce the command line's numbers exactly.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MT_METRICS",
    "MtComparison",
    "MtScore",
    "corpus_scores",
    "paired_mt_bootstrap",
    "sacrebleu_seed",
]

MT_METRICS: tuple[tuple[str, bool], ...] = (("bleu", True), ("chrf", True), ("ter", False))
"""(evalkit metric name, higher is better) of each sacrebleu metric, in report order."""

_SACREBLEU_DEFAULT_SEED = 12345


@dataclass(frozen=True)
class MtScore:
    """One model's corpus score on one metric, with its percentile bootstrap interval."""

    metric: str
    score: float
    ci_low: float | None
    ci_high: float | None
    n: int


@dataclass(frozen=True)
class MtComparison:
    """A model minus the baseline on one metric: paired bootstrap CI and sacrebleu's paired-bs p-value."""

    metric: str
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int


def sacrebleu_seed(seed: int) -> int:
    """The sacrebleu seed used for evalkit seed `seed` (0 -> sacrebleu's default 12345; sacrebleu treats 0 as
    'unseeded', which would make results irreproducible)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int. Got {seed!r} instead.")
    return _SACREBLEU_DEFAULT_SEED if seed == 0 else abs(seed)


@contextlib.contextmanager
def _seed_env(seed: int) -> Iterator[None]:
    """Set SACREBLEU_SEED for the duration of one test (sacrebleu reads it when a test is built)."""
    old = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SACREBLEU_SEED", None)
        else:
            os.environ["SACREBLEU_SEED"] = old


def _metrics() -> dict[str, object]:
    from sacrebleu.metrics import BLEU, CHRF, TER

    return {"bleu": BLEU(), "chrf": CHRF(), "ter": TER()}


def _check(hypotheses: Mapping[str, Sequence[str]], references: Sequence[str]) -> None:
    if not references:
        raise ValueError("references must not be empty. Got 0 segments.")
    for name, hyps in hypotheses.items():
        if len(hyps) != len(references):
            raise ValueError(f"system {name!r} must have one hypothesis per reference ({len(references)}). "
                             f"Got {len(hyps)} instead.")
        bad = [i for i, h in enumerate(hyps) if not isinstance(h, str)]
        if bad:
            raise ValueError(f"system {name!r}: hypotheses must be strings. Got {type(hyps[bad[0]]).__name__} "
                             f"at segment {bad[0]}.")


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU, chrF and TER of one system (sacrebleu defaults).

    >>> s = corpus_scores(["Das Gericht hat entschieden."], ["Das Gericht hat entschieden."])
    >>> s["bleu"], s["chrf"], s["ter"]
    (100.00000000000004, 100.0, 0.0)
    """
    _check({"system": hypotheses}, references)
    return {k: float(m.corpus_score(list(hypotheses), [list(references)]).score)  # type: ignore[attr-defined]
            for k, m in _metrics().items()}


def paired_mt_bootstrap(systems: Mapping[str, Sequence[str]], references: Sequence[str], baseline: str, *,
                        n_resamples: int = 1000, confidence: float = 0.95,
                        seed: int = 0) -> tuple[dict[str, dict[str, MtScore]], dict[str, dict[str, MtComparison]],
                                                dict[str, str]]:
    """Scores of every system, and each non-baseline system's paired comparison with `baseline`.

    Returns (scores[system][metric], comparisons[system][metric], signatures[metric]). Below two segments no
    interval exists: the CI fields are None and no comparison is made.
    """
    from sacrebleu.significance import PairedTest

    if baseline not in systems:
        raise ValueError(f"baseline must be among {list(systems)}. Got {baseline!r} instead.")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive int. Got {n_resamples!r} instead.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in the open interval (0, 1). Got {confidence!r} instead.")
    _check(systems, references)
    n = len(references)
    refs = [list(references)]
    order = [baseline, *(s for s in systems if s != baseline)]
    metrics = _metrics()
    sb_seed = sacrebleu_seed(seed)

    # Per-segment sufficient statistics: corpus scores and every resample are computed from these.
    stats = {name: {k: np.asarray(m._extract_corpus_statistics(list(systems[name]), refs),  # type: ignore[attr-defined]
                                  dtype="float32") for k, m in metrics.items()} for name in order}
    point = {name: {k: float(m.corpus_score(list(systems[name]), refs).score)  # type: ignore[attr-defined]
                    for k, m in metrics.items()} for name in order}

    if n < 2:
        scores = {name: {k: MtScore(k, point[name][k], None, None, n) for k in metrics} for name in order}
        return scores, {}, {k: str(m.get_signature()) for k, m in metrics.items()}  # type: ignore[attr-defined]

    p_values: dict[str, dict[str, float]] = {}
    signatures: dict[str, str] = {}
    if len(order) > 1:
        by_sb_name = {}
        with _seed_env(sb_seed):
            test = PairedTest([(name, list(systems[name])) for name in order], metrics={k.upper(): m for k, m in
                                                                                       metrics.items()},
                              references=refs, test_type="bs", n_samples=n_resamples)
            sigs, results = test()
        # sacrebleu names its result columns after each metric's score name ("BLEU", "chrF2", "TER").
        for sb_name in results:
            if sb_name == "System":
                continue
            key = next(k for k in metrics if sb_name.lower().startswith(k))
            by_sb_name[key] = sb_name
            signatures[key] = str(sigs[sb_name])
        for i, name in enumerate(order[1:], start=1):
            p_values[name] = {k: float(results[by_sb_name[k]][i].p_value) for k in metrics}
    else:
        signatures = {k: str(m.get_signature()) for k, m in metrics.items()}  # type: ignore[attr-defined]

    # The resamples sacrebleu drew (same generator, same call), re-scored per system.
    idx = np.random.default_rng(sb_seed).choice(n, size=(n_resamples, n), replace=True)
    resampled = {name: {k: np.array([m._compute_score_from_stats(s.sum(0)).score  # type: ignore[attr-defined]
                                     for s in stats[name][k][idx]]) for k, m in metrics.items()} for name in order}
    alpha = 1.0 - confidence
    scores = {}
    comparisons: dict[str, dict[str, MtComparison]] = {}
    for name in order:
        scores[name] = {}
        for k in metrics:
            low, high = np.quantile(resampled[name][k], [alpha / 2, 1 - alpha / 2])
            scores[name][k] = MtScore(k, point[name][k], float(low), float(high), n)
        if name == baseline:
            continue
        comparisons[name] = {}
        for k in metrics:
            diff = resampled[name][k] - resampled[baseline][k]
            low, high = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
            comparisons[name][k] = MtComparison(k, point[name][k] - point[baseline][k], float(low), float(high),
                                                p_values[name][k], n)
    return scores, comparisons, signatures
