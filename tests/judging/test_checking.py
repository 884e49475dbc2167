"""Check judges: the point rule, pairs, loading and hashing of `kind: checks` files, and judge agreement."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalkit.checks import CheckResult
from evalkit.errors import ConfigError
from evalkit.judging import (
    CHECKS_MODEL,
    CheckJudgeSpec,
    check_answer,
    check_pair,
    criterion_points,
    judge_agreement,
    load_judge,
    pair_stats,
)
from evalkit.records import Sample
from evalkit.tasks.judged import find_task_judge

PINNED_CHECKS = {"bsard_checks": ("1", "1609188d7c761736527b7c7973d1d43e0b60482c44aabbd3df337160c37f7b3f")}


def r(met: bool, score: float) -> CheckResult:
    return CheckResult(met=met, score=score)


@pytest.mark.parametrize(("a", "b", "points"), [
    (r(False, 0.0), r(False, 0.0), (0, 0)),   # neither meets it: none
    (r(False, 0.4), r(False, 0.2), (0, 0)),   # ... even when one scores higher
    (r(True, 0.6), r(False, 0.4), (1, 0)),    # only one meets it
    (r(False, 0.4), r(True, 0.5), (0, 1)),
    (r(True, 1.0), r(True, 0.67), (1, 0)),    # both meet it: the better one
    (r(True, 0.5), r(True, 1.0), (0, 1)),
    (r(True, 1.0), r(True, 1.0), (1, 1)),     # equally well: one each
    (r(True, 2 / 3), r(True, 1 - 1 / 3), (1, 1)),  # equal up to float noise
])
def test_point_rule(a: CheckResult, b: CheckResult, points: tuple[int, int]) -> None:
    assert criterion_points(a, b) == points
    assert criterion_points(b, a) == (points[1], points[0])  # symmetric


def test_check_pair_sums_points_and_is_order_free() -> None:
    own = {"citation": r(True, 1.0), "grounding": r(True, 1.0), "structure": r(False, 2 / 3)}
    opp = {"citation": r(True, 0.5), "grounding": r(False, 0.0), "structure": r(False, 0.0)}
    pair = check_pair(own, opp, opponent_name="base", own_length=10, opponent_length=20)
    assert pair.complete and pair.own_first == pair.opponent_first == (2.0, 0.0)
    assert (pair.own_score, pair.opponent_score, pair.outcome) == (2.0, 0.0, "win")
    assert {c: p.outcome for c, p in pair.criteria.items()} == {"citation": "win", "grounding": "win",
                                                                 "structure": "tie"}
    stats = pair_stats([pair, pair.mirrored("ft")])
    assert stats.flips == 0 and stats.position_bias == 0.5  # both orders alike: no flip, no slot preference
    with pytest.raises(ValueError, match="same criteria"):
        check_pair(own, {"citation": r(True, 1.0)}, opponent_name="base")


def test_shipped_check_judge_loads_and_is_pinned() -> None:
    for name, (version, sha) in PINNED_CHECKS.items():
        spec = find_task_judge(name)
        assert isinstance(spec, CheckJudgeSpec) and (spec.id, spec.version) == (name, version)
        assert spec.definition_sha256 == sha, f"{name}: criteria changed: bump its version and update PINNED_CHECKS"
        assert spec.template_sha256 == spec.definition_sha256 and spec.score_range == (0.0, 3.0)
    spec = find_task_judge("bsard_checks")
    assert [c.name for c in spec.criteria] == ["citation_f1", "grounding", "structure"]
    assert [c.compares_with for c in spec.criteria] == ["citation", None, "form"]


VALID = {"id": "mini", "version": "1", "kind": "checks", "description": "test",
         "criteria": [{"name": "structure", "check": "markdown_sections", "args": {"sections": ["Réponse"]}},
                      {"name": "short", "check": "length", "args": {"max_words": 50}}]}


def write(tmp_path: Path, raw: dict, name: str = "mini") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_definition_hash_follows_the_criteria_only(tmp_path: Path) -> None:
    a = load_judge(write(tmp_path, VALID))
    b = load_judge(write(tmp_path, {**VALID, "description": "reworded", "version": "2"}))
    assert a.definition_sha256 == b.definition_sha256
    changed = {**VALID, "criteria": [VALID["criteria"][0], {**VALID["criteria"][1], "args": {"max_words": 51}}]}
    assert load_judge(write(tmp_path, changed)).definition_sha256 != a.definition_sha256


@pytest.mark.parametrize(("change", "message"), [
    ({"criteria": []}, r"criteria: .*at least 1 item"),
    ({"criteria": [{"name": "x", "check": "markdown_section", "args": {}}]},
     r"mini\.yaml: criteria\[0\]: check: unknown check 'markdown_section'.*Did you mean: markdown_sections\?"),
    ({"criteria": [{"name": "x", "check": "length", "args": {"max_wrds": 3}}]},
     r"mini\.yaml: criteria\[0\]: args\.max_wrds: unknown field"),
    ({"criteria": [VALID["criteria"][0], VALID["criteria"][0]]}, r"criterion names must be distinct"),
    ({"criteria": [{"name": "Bad Name", "check": "length", "args": {"max_words": 3}}]}, r"criteria\.0\.name"),
    ({"template": "x"}, r"template: unknown field"),
])
def test_bad_check_judge_files_are_one_line_errors(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_judge(write(tmp_path, {**VALID, **change}))
    assert "\n" not in str(info.value)


def test_check_answer_records_a_judgment() -> None:
    spec = load_judge(Path(__file__).resolve().parents[2] / "judges" / "bsard_checks.yaml")
    sample = Sample(id="q1", input="?", fields={"references": ["Art. 11 du Code du bail d'habitation"],
                                               "context_references": ["Art. 11 du Code du bail d'habitation",
                                                                      "Art. 14 du Code du bail d'habitation"]})
    answer = ("## Réponse\n\nNon.\n\n## Fondement légal\n\n- **Art. 11 du Code du bail d'habitation** : deux "
              "mois.\n\n## Application\n\nSelon l'article 11 du Code du bail d'habitation, refusez.")
    v = check_answer(spec, answer, sample, details={"model": "ft"})
    assert {c: x.met for c, x in v.results.items()} == {"citation_f1": True, "grounding": True, "structure": True}
    assert v.points == 3
    j = v.judgment
    assert (j.judge_id, j.judge_version, j.template_sha256, j.judge_model) == (
        "bsard_checks", "1", spec.definition_sha256, CHECKS_MODEL)
    assert j.parsed["citation_f1"]["details"]["cited_gold"] == 1 and j.cost_usd == 0.0
    assert j.details["model"] == "ft" and j.details["status"] == "ok"


# ---------------------------------------------------------------------------------------------------------
# Agreement between two judges, against kappa computed by hand

def test_judge_agreement_matches_a_hand_computed_kappa() -> None:
    # 10 items. LLM: 4 win, 4 tie, 2 loss; checks: 5 win, 3 tie, 2 loss; same verdict on items 0-2, 5-6, 8-9.
    llm = ["win", "win", "win", "win", "tie", "tie", "tie", "tie", "loss", "loss"]
    chk = ["win", "win", "win", "tie", "win", "tie", "tie", "win", "loss", "loss"]
    # p_o = 7/10; p_e = 0.4*0.5 + 0.4*0.3 + 0.2*0.2 = 0.36; kappa = (0.7 - 0.36) / 0.64 = 0.53125
    a = judge_agreement(llm, chk, seed=1)
    assert (a.n, a.agree, a.agreement) == (10, 7, 0.7)
    assert a.kappa == pytest.approx(0.53125)
    assert a.kappa_ci is not None and a.kappa_ci[0] <= 0.53125 <= a.kappa_ci[1]
    assert a.agreement_ci is not None and a.agreement_ci[0] < 0.7 < a.agreement_ci[1]
    assert not a.low


def test_a_judge_that_always_ties_has_low_agreement_and_zero_kappa() -> None:
    checks = ["win"] * 12 + ["tie"] * 3 + ["loss"] * 1
    a = judge_agreement(["tie"] * 16, checks)
    assert a.agreement == 3 / 16 and a.kappa == 0.0 and a.low
    both_constant = judge_agreement(["tie"] * 5, ["tie"] * 5)
    assert both_constant.agreement == 1.0 and both_constant.kappa is None and not both_constant.low
    with pytest.raises(ValueError, match="verdicts must be among"):
        judge_agreement(["win"], ["draw"])
    with pytest.raises(ValueError, match="same items"):
        judge_agreement(["win"], [])
