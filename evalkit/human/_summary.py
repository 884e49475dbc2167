"""Statistics of imported human verdicts: wins/ties/losses, sign test, Wilson intervals, inter-rater agreement,
and agreement of an LLM judge with the humans. Pure functions over unblinded labels, no I/O.

Labels are unblinded before anything is counted: `a` (model_a preferred), `b` (model_b preferred), `tie`, so
raters who saw different left/right orders are compared on what they meant, not on which side they clicked.

- Per rater, and (with several raters) for the per-item `majority` label (the most frequent label among the
  raters of an item; no single most frequent label counts as a tie): wins, ties, losses of model_a; the
  "at least as good" rate (wins + ties) / n and the win rate wins / n, each with a Wilson 95% interval; the
  exact two-sided sign test of wins against losses, ties excluded.
- Inter-rater agreement on items rated by at least two raters: Cohen's kappa (scikit-learn) for two raters,
  Krippendorff's alpha (nominal; the `krippendorff` package, missing ratings allowed) for more; and the plain
  share of agreeing rater pairs.
- Judge–human agreement where an LLM pairwise judge ran on the same samples (a `pairs` entry in the run's
  results, as the pairwise_judge and translation tasks store it): evalkit.judging.agreement between the human
  label (the single rater's, else the majority) and the judge's both-orders verdict (a flip counts as a tie).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Literal

import numpy as np

from evalkit.human._records import (
    AgreementResult,
    ImportRecord,
    JudgeAgreementResult,
    PacketKey,
    PacketSummary,
    RaterResult,
)
from evalkit.records import SampleResult
from evalkit.stats import sign_test, wilson_interval

__all__ = ["HumanLabel", "cohen_kappa", "krippendorff_alpha_nominal", "latest_labels", "rater_result",
           "summarize_packet"]

HumanLabel = Literal["a", "b", "tie"]
_LABELS: tuple[HumanLabel, ...] = ("a", "b", "tie")


def latest_labels(key: PacketKey, imports: Sequence[ImportRecord]) -> dict[str, dict[str, HumanLabel]]:
    """rater -> sample id -> label; a later import of the same rater's item replaces the earlier verdict."""
    out: dict[str, dict[str, HumanLabel]] = {}
    for rec in imports:
        if rec.packet_id != key.packet_id:
            continue
        per = out.setdefault(rec.rater, {})
        for v in rec.verdicts:
            per[v.sample_id] = "tie" if v.preferred == "tie" else ("a" if v.preferred == key.model_a else "b")
    return out


def rater_result(rater: str, labels: Sequence[HumanLabel], confidence: float = 0.95) -> RaterResult:
    """Wins/ties/losses of model_a over `labels`, with rates, Wilson intervals and the sign test."""
    c = Counter(labels)
    n, wins, ties, losses = len(labels), c["a"], c["tie"], c["b"]
    ag = win = ag_ci = win_ci = None
    if n:
        ag, win = (wins + ties) / n, wins / n
        ag_ci, win_ci = wilson_interval(wins + ties, n, confidence), wilson_interval(wins, n, confidence)
    return RaterResult(rater=rater, n=n, wins=wins, ties=ties, losses=losses, at_least_as_good=ag,
                       at_least_as_good_ci=ag_ci, win_rate=win, win_rate_ci=win_ci,
                       sign_test_p=sign_test(wins, losses))


def _majority(labels: Sequence[HumanLabel]) -> HumanLabel:
    counts = Counter(labels).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return "tie"
    return counts[0][0]


def cohen_kappa(x: Sequence[str], y: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters on the same items (scikit-learn); None when undefined.

    >>> round(cohen_kappa(["a", "a", "b", "tie"], ["a", "b", "b", "tie"]), 4)
    0.6364
    """
    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import cohen_kappa_score

    if len(x) != len(y) or not x:
        raise ValueError(f"two equally long, non-empty label lists are needed. Got {len(x)} and {len(y)}.")
    if len(set(x) | set(y)) < 2:
        return None  # one label throughout: chance agreement is 1, kappa is undefined
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        value = float(cohen_kappa_score(list(x), list(y), labels=sorted(set(x) | set(y))))
    return value if math.isfinite(value) else None


def krippendorff_alpha_nominal(ratings: Sequence[Sequence[str | None]]) -> float | None:
    """Krippendorff's alpha (nominal) of a raters x items table; None marks a missing rating.

    Uses the `krippendorff` package; None when alpha is undefined (fewer than two pairable ratings, or a single
    value throughout). Checked against Krippendorff's own worked example (tests/human/test_summary.py).
    """
    import krippendorff

    values = sorted({v for row in ratings for v in row if v is not None})
    if not values:
        return None
    code = {v: float(i) for i, v in enumerate(values)}
    data = np.array([[np.nan if v is None else code[v] for v in row] for row in ratings], dtype=float)
    pairable = np.sum(np.sum(~np.isnan(data), axis=0) >= 2)
    if pairable == 0 or len(values) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    return value if math.isfinite(value) else None


def _agreement(raters: Sequence[str], labels: Mapping[str, Mapping[str, HumanLabel]]) -> AgreementResult | None:
    if len(raters) < 2:
        return None
    items = sorted({sid for r in raters for sid in labels[r]})
    shared = [sid for sid in items if sum(sid in labels[r] for r in raters) >= 2]
    if not shared:
        return AgreementResult(raters=tuple(raters), n_items=0, method="cohen_kappa" if len(raters) == 2 else
                               "krippendorff_alpha", value=None, percent_agreement=None)
    agree = total = 0
    for sid in shared:
        got = [labels[r][sid] for r in raters if sid in labels[r]]
        for x, y in combinations(got, 2):
            total += 1
            agree += x == y
    if len(raters) == 2:
        r1, r2 = raters
        both = [sid for sid in shared if sid in labels[r1] and sid in labels[r2]]
        value = cohen_kappa([labels[r1][s] for s in both], [labels[r2][s] for s in both])
        method: Literal["cohen_kappa", "krippendorff_alpha"] = "cohen_kappa"
    else:
        value = krippendorff_alpha_nominal([[labels[r].get(sid) for sid in shared] for r in raters])
        method = "krippendorff_alpha"
    return AgreementResult(raters=tuple(raters), n_items=len(shared), method=method, value=value,
                           percent_agreement=agree / total if total else None)


def _judge_labels(key: PacketKey, results: Sequence[SampleResult]) -> dict[str, HumanLabel | None]:
    """sample id -> the judge's verdict for model_a vs model_b (None: no valid verdict in both orders)."""
    from evalkit.judging import PairJudgment

    out: dict[str, HumanLabel | None] = {}
    for r in results:
        score = r.scores.get(key.model_a)
        raw = ((score.details.get("pairs") or {}).get(key.model_b)) if score is not None else None
        if raw is None:
            continue
        pair = PairJudgment.model_validate(raw)
        out[r.sample_id] = {"win": "a", "loss": "b", "tie": "tie"}[pair.outcome] if pair.complete else None
    return out


def _judge_agreement(human_name: str, human: Mapping[str, HumanLabel], key: PacketKey,
                     results: Sequence[SampleResult]) -> JudgeAgreementResult | None:
    from evalkit.judging import agreement

    judged = _judge_labels(key, results)
    shared = [sid for sid in human if sid in judged]
    if not shared:
        return None
    to_pair = {"a": "1", "b": "2", "tie": "tie"}
    ag = agreement([to_pair[human[s]] for s in shared],  # type: ignore[misc]
                   [None if judged[s] is None else to_pair[judged[s]] for s in shared])  # type: ignore[index]
    return JudgeAgreementResult(human=human_name, n=ag.n, n_invalid=ag.n_invalid, with_ties=ag.with_ties,
                                without_ties=ag.without_ties, kappa=ag.kappa)


def summarize_packet(key: PacketKey, imports: Sequence[ImportRecord],
                     results: Sequence[SampleResult] = ()) -> PacketSummary:
    """Everything the report shows about one packet, from its key and its imported verdicts."""
    labels = latest_labels(key, imports)
    raters = [r.rater for r in key.raters if labels.get(r.rater)]
    rows = [rater_result(r, list(labels[r].values())) for r in raters]
    human_name, human = (raters[0], labels[raters[0]]) if len(raters) == 1 else ("majority", {})
    if len(raters) > 1:
        items = sorted({sid for r in raters for sid in labels[r]})
        human = {sid: _majority([labels[r][sid] for r in raters if sid in labels[r]]) for sid in items}
        rows.append(rater_result("majority", list(human.values())))
    n_items = len(key.raters[0].items) if key.raters else 0
    return PacketSummary(packet_id=key.packet_id, task=key.task, model_a=key.model_a, model_b=key.model_b,
                         n_items=n_items, raters=tuple(raters), results=tuple(rows),
                         agreement=_agreement(raters, labels),
                         judge_agreement=_judge_agreement(human_name, human, key, results) if human else None,
                         imports=sum(1 for i in imports if i.packet_id == key.packet_id))
