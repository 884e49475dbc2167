"""Judged tasks summarised from a stored run: pairwise_judge and rubric_judge, each over a few thousand synthetic
results read from JSONL files (as a run directory holds them), read the results once and give the summary the
pre-streaming implementation gave on the same data (test_pairwise_streaming_expected.json,
test_rubric_streaming_expected.json beside this file)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalkit.checks import CheckResult
from evalkit.judging import CHECKS_MODEL, PairJudgment
from evalkit.records import (
    Generation,
    Judgment,
    ModelScore,
    Prompt,
    Sample,
    SampleResult,
    TaskSummary,
    Usage,
)
from evalkit.store import RecordFile
from evalkit.tasks import SummaryContext, create_task
from evalkit.tasks.pairwise import PairwiseTask

SUITE = Path("suite.yaml")
MODELS = ("base", "ft", "mid")
N_ITEMS = 3000
HERE = Path(__file__).resolve().parent
PAIRWISE_EXPECTED = HERE / "test_pairwise_streaming_expected.json"
RUBRIC_EXPECTED = HERE / "test_rubric_streaming_expected.json"
CHECK_CRITERIA = ("citation_f1", "grounding", "structure")
LQ_CRITERIA = ("citation", "argumentation", "form")
RUBRIC_CRITERIA = ["a", "b", "c", "d", "e"]


# ---------------------------------------------------------------------------------------------------------
# Synthetic runs: every kind of item a real run stores (flips, reversals, ties, invalid and failed judge
# answers, failed models, a model missing from some items, re-asks, cached calls, unknown costs).


def pairwise_task() -> PairwiseTask:
    return create_task("pairwise_judge", {"judge": "legal_quality", "checks": "bsard_checks"}, SUITE)


def rubric_task() -> Any:
    return create_task("rubric_judge", {"judge": "additive_rubric", "checks": "bsard_checks",
                                        "judge_vars": {"criteria": RUBRIC_CRITERIA}}, SUITE)


def _judgment(rng: random.Random, judge_model: str, judge_id: str, status: str = "ok", attempt: int = 0,
              unknown: float = 0.0, **details: Any) -> Judgment:
    unknown_cost, unknown_tokens = rng.random() < unknown, rng.random() < unknown
    return Judgment(
        judge_id=judge_id, judge_version="1", template_sha256="0" * 64, judge_model=judge_model, prompt="p",
        raw_response=None if status == "failed" else "{}", parsed=None,
        error="HTTP 503" if status == "failed" else None,
        latency_s=None if status == "failed" else round(rng.uniform(0.05, 3.0), 6),
        usage=Usage(prompt_tokens=None if unknown_tokens else rng.randint(300, 900),
                    completion_tokens=rng.randint(10, 90)),
        cost_usd=None if unknown_cost else rng.uniform(0.0, 0.01),
        details={**details, "status": status, "attempt": attempt, "cached": rng.random() < 0.1})


def _checks(rng: random.Random, skill: float) -> dict[str, CheckResult]:
    out = {}
    for c in CHECK_CRITERIA:
        score = rng.choice([0.0, 0.5, 2 / 3, 1.0, rng.random()]) if rng.random() > skill else 1.0
        out[c] = CheckResult(met=score >= 0.5, score=score)
    return out


def _llm_pair(rng: random.Random, own: Generation, opp: Generation, skill: float) -> tuple[PairJudgment, int]:
    """A legal_quality pair (own vs opp, both orders) and how many judge calls it took to get it."""
    lengths = {"own_length": len(own.output) if own.ok else None,
               "opponent_length": len(opp.output) if opp.ok else None}
    if not (own.ok and opp.ok):
        return PairJudgment(opponent=opp.model, status="no_answer", **lengths), 0
    r = rng.random()
    if r < 0.02:
        return PairJudgment(opponent=opp.model, status="judge_invalid", own_first=(2.0, 1.0), **lengths), 4
    if r < 0.03:
        return PairJudgment(opponent=opp.model, status="judge_failed", opponent_first=(1.0, 2.0), **lengths), 2

    def points() -> tuple[int, int]:
        a = int(rng.random() < skill)
        b = int(rng.random() < 0.5)
        return a, b

    slot_one_bias = rng.random() < 0.15  # the answer shown first gets every point: a flip or reversal
    criteria = {}
    for c in LQ_CRITERIA:
        first = (1, 0) if slot_one_bias else points()
        second = (0, 1) if slot_one_bias else (points() if rng.random() < 0.3 else first)
        criteria[c] = PairJudgment(opponent=opp.model, status="complete", own_first=first, opponent_first=second)
    total = lambda k: (float(sum(getattr(p, k)[0] for p in criteria.values())),
                       float(sum(getattr(p, k)[1] for p in criteria.values())))
    return PairJudgment(opponent=opp.model, status="complete", own_first=total("own_first"),
                        opponent_first=total("opponent_first"), criteria=criteria, **lengths), 2


def _generations(rng: random.Random, sample: Sample, models: tuple[str, ...]) -> dict[str, Generation]:
    gens = {}
    for m in models:
        failed = rng.random() < 0.03
        text = None if failed else "x" * rng.choice([5, 40, 80, 200, 600, rng.randint(1, 900)])
        gens[m] = Generation(sample_id=sample.id, model=m, model_id=m, prompt=Prompt(text="q"), output=text,
                             error="HTTP 503" if failed else None)
    return gens


def synthetic_samples(n: int = N_ITEMS) -> list[Sample]:
    return [Sample(id=f"s{i:05d}", input=f"question {i}") for i in range(n)]


def pairwise_results(samples: list[Sample], seed: int = 13) -> list[SampleResult]:
    """What PairwiseTask.score stores with an LLM judge and a check judge, base as the reference."""
    rng = random.Random(seed)
    skill = {"base": 0.4, "ft": 0.7, "mid": 0.5}
    out = []
    for s in samples:
        models = MODELS if rng.random() > 0.01 else ("base", "ft")  # mid missing from a few items
        gens = _generations(rng, s, models)
        checked = {m: _checks(rng, skill[m]) for m in models if gens[m].ok}
        judgments = [_judgment(rng, CHECKS_MODEL, "bsard_checks", model=m) for m in checked]
        by_model: dict[str, dict[str, PairJudgment]] = {m: {} for m in models}
        for m in models[1:]:
            pair, calls = _llm_pair(rng, gens[m], gens["base"], skill[m])
            by_model[m]["base"] = pair
            by_model["base"][m] = pair.mirrored(m)
            for k in range(calls):
                status = ("invalid" if pair.status == "judge_invalid" and k < 3 else
                          "failed" if pair.status == "judge_failed" and k == 0 else "ok")
                judgments.append(_judgment(rng, "judge-x", "legal_quality", status, attempt=k % 3))
        scores = {m: PairwiseTask._model_score(gens[m], by_model[m], "llm", checked.get(m)) for m in models}
        out.append(SampleResult(sample_id=s.id, scores=scores, judgments=tuple(judgments)))
    return out


def rubric_results(samples: list[Sample], seed: int = 17) -> list[SampleResult]:
    """What RubricTask.score stores with an LLM judge (additive_rubric) and a check judge."""
    rng = random.Random(seed)
    skill = {"base": 0.4, "ft": 0.7, "mid": 0.5}
    out = []
    for s in samples:
        models = MODELS if rng.random() > 0.01 else ("base", "ft")
        gens = _generations(rng, s, models)
        scores, judgments = {}, []
        for m in models:
            if not gens[m].ok:
                scores[m] = ModelScore(details={"failed": True, "error": "HTTP 503"})
                continue
            checked = _checks(rng, skill[m])
            judgments.append(_judgment(rng, CHECKS_MODEL, "bsard_checks", model=m))
            details: dict[str, Any] = {"checks": {c: {"met": r.met, "score": r.score} for c, r in checked.items()},
                                       **{f"check_{c}": r.score for c, r in checked.items()}}
            r = rng.random()
            status = "invalid" if r < 0.02 else "failed" if r < 0.03 else "ok"
            value = float(sum(rng.random() < skill[m] for _ in range(5))) if status == "ok" else None
            details["judge_status"] = status
            if status != "ok":
                details["judge_error"] = "no valid answer" if status == "invalid" else "HTTP 503"
            judgments += [_judgment(rng, "judge-x", "additive_rubric", "invalid" if status == "invalid" else
                                    "failed" if status == "failed" else "ok", attempt=k, unknown=0.002)
                          for k in range(3 if status == "invalid" else 1)]
            scores[m] = ModelScore(value=value, details=details)
        out.append(SampleResult(sample_id=s.id, scores=scores, judgments=tuple(judgments)))
    return out


def summary_context() -> SummaryContext:
    return SummaryContext(models=MODELS, reference="base", seed=3, n_bootstrap=400)


class CountingRecords(RecordFile):  # type: ignore[type-arg]
    """A run directory's JSONL file that counts the passes made over it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.passes = 0

    def __iter__(self) -> Iterator[Any]:
        self.passes += 1
        return super().__iter__()


def _on_disk(tmp_path: Path, samples: list[Sample], results: list[SampleResult]) -> tuple[Any, Any]:
    for name, records in (("samples.jsonl", samples), ("results.jsonl", results)):
        (tmp_path / name).write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    return (CountingRecords(tmp_path / "samples.jsonl", Sample),
            CountingRecords(tmp_path / "results.jsonl", SampleResult))


def _as_saved(summary: TaskSummary) -> str:
    # through JSON text, so that NaN compares equal to NaN and floats compare bit for bit
    return json.dumps(summary.model_dump(mode="json"), indent=1, sort_keys=True)


def _expected(path: Path) -> str:
    return json.dumps(json.loads(path.read_text(encoding="utf-8")), indent=1, sort_keys=True)


def test_pairwise_summary_reads_the_results_once_and_matches_the_saved_summary(tmp_path: Path) -> None:
    samples = synthetic_samples()
    samples_file, results_file = _on_disk(tmp_path, samples, pairwise_results(samples))
    summary = pairwise_task().summarize(samples_file, results_file, summary_context())
    assert results_file.passes == 1 and samples_file.passes <= 1
    assert _as_saved(summary) == _expected(PAIRWISE_EXPECTED)
    by_model = {m: {v.name: v for v in values} for m, values in summary.metrics.items()}
    # the synthetic judge favours the more skilled model: the summary must say so
    assert by_model["ft"]["legal_quality_score"].value > by_model["base"]["legal_quality_score"].value


def test_rubric_summary_matches_the_saved_summary(tmp_path: Path) -> None:
    samples = synthetic_samples()
    samples_file, results_file = _on_disk(tmp_path, samples, rubric_results(samples))
    summary = rubric_task().summarize(samples_file, results_file, summary_context())
    assert results_file.passes == 1 and samples_file.passes <= 1
    assert _as_saved(summary) == _expected(RUBRIC_EXPECTED)
    by_model = {m: {v.name: v for v in values} for m, values in summary.metrics.items()}
    metric = rubric_task().metric
    assert by_model["ft"][metric].value > by_model["mid"][metric].value > by_model["base"][metric].value
