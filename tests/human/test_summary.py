"""Statistics of human verdicts against hand-computed and published values."""

from __future__ import annotations

import pytest

from evalkit.human import BUILTIN_TASKS, cohen_kappa, krippendorff_alpha_nominal, summarize_packet
from evalkit.human._records import ImportRecord, KeyItem, PacketKey, RaterKey, StoredVerdict
from evalkit.human._summary import rater_result
from evalkit.judging import PairJudgment
from evalkit.records import ModelScore, SampleResult


def test_krippendorff_alpha_matches_the_published_nominal_example() -> None:
    """Krippendorff (2011), 'Computing Krippendorff's Alpha-Reliability', example C: 4 observers, 12 units,
    nominal alpha = 0.743."""
    m = None
    data = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, m, m, m],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, m, 3],
        [m, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, m],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, m],
    ]
    alpha = krippendorff_alpha_nominal([[None if v is None else str(v) for v in row] for row in data])
    assert alpha == pytest.approx(0.743, abs=5e-4)


def test_krippendorff_alpha_edge_cases() -> None:
    assert krippendorff_alpha_nominal([["a", "b"], ["a", "b"], ["a", "b"]]) == pytest.approx(1.0)
    assert krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]) is None  # one value throughout: undefined
    assert krippendorff_alpha_nominal([[None, "a"], ["b", None]]) is None  # no unit rated twice


def test_cohen_kappa_by_hand() -> None:
    # po = 3/4; pe = (2/4*1/4) + (1/4*2/4) + (1/4*1/4) = 5/16; kappa = (12/16 - 5/16) / (11/16) = 7/11
    assert cohen_kappa(["a", "a", "b", "tie"], ["a", "b", "b", "tie"]) == pytest.approx(7 / 11)
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None


def test_rater_result_reproduces_the_case_study_table() -> None:
    """38 of 50 preferred, 9 ties, 3 losses: at least as good in 94%."""
    r = rater_result("r1", ["a"] * 38 + ["tie"] * 9 + ["b"] * 3)
    assert (r.n, r.wins, r.ties, r.losses) == (50, 38, 9, 3)
    assert r.at_least_as_good == pytest.approx(0.94) and r.win_rate == pytest.approx(0.76)
    low, high = r.win_rate_ci
    assert low == pytest.approx(0.6261, abs=1e-3) and high == pytest.approx(0.8573, abs=1e-3)
    assert r.sign_test_p < 1e-7
    empty = rater_result("r2", [])
    assert empty.n == 0 and empty.win_rate is None and empty.sign_test_p == 1.0


def _key(n: int, raters: int) -> PacketKey:
    rks = tuple(RaterKey(rater=f"r{r}", packet_sha256="x", items=tuple(
        KeyItem(item=f"i{i:03d}", sample_id=f"s{i}", position=i, left="ft", right="base") for i in range(1, n + 1)))
        for r in range(1, raters + 1))
    return PacketKey(packet_id="hp-test", run_id="run", run="fp", task="translation",
                     study=BUILTIN_TASKS["translation"], model_a="ft",
                     model_b="base", seed=0, raters=rks)


def _import(rater: str, labels: list[str]) -> ImportRecord:
    to_pref = {"a": "ft", "b": "base", "tie": "tie"}
    return ImportRecord(packet_id="hp-test", rater=rater, file=f"{rater}.json", file_sha256=rater,
                        imported_at="t", verdicts=tuple(StoredVerdict(item=f"i{i:03d}", sample_id=f"s{i}",
                                                                      choice="1", preferred=to_pref[lab])
                                                        for i, lab in enumerate(labels, 1)))


def test_three_raters_majority_alpha_and_judge_agreement() -> None:
    r1 = ["a", "a", "a", "b", "tie", "a"]
    r2 = ["a", "a", "b", "b", "tie", "tie"]
    r3 = ["a", "tie", "a", "b", "a", "b"]
    judge = ["win", "win", "loss", "loss", "tie", "win"]
    results = []
    for i, outcome in enumerate(judge, 1):
        own = {"win": (1.0, 0.0), "loss": (0.0, 1.0), "tie": (0.5, 0.5)}[outcome]
        pair = PairJudgment(opponent="base", status="complete", own_first=own, opponent_first=own)
        results.append(SampleResult(sample_id=f"s{i}", scores={
            "ft": ModelScore(details={"pairs": {"base": pair.model_dump(mode="json")}})}))
    p = summarize_packet(_key(6, 3), [_import("r1", r1), _import("r2", r2), _import("r3", r3)], results)
    rows = {r.rater: r for r in p.results}
    # majority per item: a, a, a, b, tie, (a, tie, b: no majority -> tie)
    assert (rows["majority"].wins, rows["majority"].ties, rows["majority"].losses) == (3, 2, 1)
    assert p.agreement.method == "krippendorff_alpha" and p.agreement.n_items == 6
    expected = krippendorff_alpha_nominal([r1, r2, r3])
    assert p.agreement.value == pytest.approx(expected)
    # pairs agreeing: items 1..6 -> 3, 1, 1, 3, 1, 0 of 3 pairs each
    assert p.agreement.percent_agreement == pytest.approx(9 / 18)
    j = p.judge_agreement
    assert j.human == "majority" and j.n == 6 and j.with_ties == pytest.approx(4 / 6)


def test_two_raters_use_cohen_kappa_on_shared_items() -> None:
    p = summarize_packet(_key(4, 2), [_import("r1", ["a", "a", "b", "tie"]), _import("r2", ["a", "b", "b"])])
    assert p.agreement.method == "cohen_kappa" and p.agreement.n_items == 3
    assert p.agreement.value == pytest.approx(cohen_kappa(["a", "a", "b"], ["a", "b", "b"]))
    assert p.judge_agreement is None  # no judge ran on this run
