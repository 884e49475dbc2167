"""The sample explorer as plain data: per sample, every model's answer side by side, and the judge calls.

Long texts are cut for display (the run directory keeps them whole), so an embedded item and an item in the
files beside the report stay a few kilobytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.records import Generation, Judgment, ModelScore, RunResult
from evalkit.report._format import fmt_value
from evalkit.run_items import RunItem, iter_run_items

MAX_TEXT = 4000
"""Characters shown of an input, target or output."""
MAX_JUDGE_TEXT = 12000
"""Characters shown of a judge prompt or response."""


@dataclass(frozen=True)
class Answer:
    """One model's answer to one sample (one attempt)."""

    model: str
    attempt: int
    output: str | None
    error: str | None
    label: str | None
    correct: bool | None
    score: str
    latency: str
    tokens: str
    cached: bool


@dataclass(frozen=True)
class JudgeCall:
    """One judge call, verbatim (cut to MAX_JUDGE_TEXT)."""

    judge_id: str
    judge_version: str
    judge_model: str
    prompt: str
    raw_response: str | None
    parsed: str
    error: str | None
    latency: str
    details: str


@dataclass(frozen=True)
class SampleView:
    """One row of the sample explorer."""

    id: str
    input: str
    target: str | None
    fields: str
    answers: tuple[tuple[Answer, ...], ...]
    """Per model in model order: that model's attempts (empty when it has no generation)."""
    disagree: bool
    failed: bool
    judgments: tuple[JudgeCall, ...]


def build_view(item: RunItem, models: Sequence[str]) -> SampleView:
    """The explorer row of one item: every model's attempts in model order, the judge calls."""
    s, result = item.sample, item.result
    scores = result.scores if result else {}
    answers = tuple(tuple(_answer(g, scores.get(m)) for g in item.generations.get(m, ())) for m in models)
    return SampleView(
        id=s.id, input=cut(s.input, MAX_TEXT), target=None if s.target is None else cut(s.target, MAX_TEXT),
        fields=cut(_json(s.fields), MAX_TEXT) if s.fields else "",
        answers=answers, disagree=disagrees([scores[m] for m in models if m in scores]),
        failed=any(a.error is not None for per_model in answers for a in per_model),
        judgments=tuple(_judge(j) for j in result.judgments) if result else (),
    )


def build_samples(run: RunResult, models: Sequence[str]) -> list[SampleView]:
    """Explorer rows for every sample of `run`, in data order (holds them all: for small runs)."""
    return [build_view(item, models) for item in iter_run_items(run, models)]


def view_row(i: int, v: SampleView) -> dict[str, Any]:
    """The item as the explorer's items files hold it (SampleView's fields as plain JSON data, plus its index)."""
    return {"i": i, "id": v.id, "input": v.input, "target": v.target, "fields": v.fields,
            "answers": [[{"model": a.model, "attempt": a.attempt, "output": a.output, "error": a.error,
                          "label": a.label, "correct": a.correct, "score": a.score, "latency": a.latency,
                          "tokens": a.tokens, "cached": a.cached} for a in attempts] for attempts in v.answers],
            "disagree": v.disagree, "failed": v.failed,
            "judgments": [{"judge_id": j.judge_id, "judge_version": j.judge_version, "judge_model": j.judge_model,
                           "prompt": j.prompt, "raw_response": j.raw_response, "parsed": j.parsed,
                           "error": j.error, "latency": j.latency, "details": j.details} for j in v.judgments]}


def disagrees(scores: Sequence[ModelScore]) -> bool:
    """True when models differ in correctness or parsed label (or, lacking both, in score)."""
    corrects = {s.correct for s in scores if s.correct is not None}
    labels = {s.label for s in scores if s.label is not None}
    if len(corrects) > 1 or len(labels) > 1:
        return True
    if not corrects and not labels:
        return len({s.value for s in scores if s.value is not None}) > 1
    return False


def cut(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters and a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [{len(text) - limit:,} more characters in the run directory]"


def _answer(g: Generation, score: ModelScore | None) -> Answer:
    tokens = "/".join("?" if t is None else str(t) for t in (g.usage.prompt_tokens, g.usage.completion_tokens))
    return Answer(
        model=g.model, attempt=g.attempt, output=None if g.output is None else cut(g.output, MAX_TEXT),
        error=None if g.ok else (g.error or "no output"),
        label=score.label if score else None, correct=score.correct if score else None,
        score="" if score is None or score.value is None else f"{score.value:.3g}",
        latency=fmt_value("seconds", g.latency_s), tokens=tokens, cached=g.cached,
    )


def _judge(j: Judgment) -> JudgeCall:
    return JudgeCall(
        judge_id=j.judge_id, judge_version=j.judge_version, judge_model=j.judge_model,
        prompt=cut(j.prompt, MAX_JUDGE_TEXT),
        raw_response=None if j.raw_response is None else cut(j.raw_response, MAX_JUDGE_TEXT),
        parsed=_json(j.parsed) if j.parsed is not None else "", error=j.error,
        latency=fmt_value("seconds", j.latency_s), details=_json(j.details) if j.details else "",
    )


def _json(x: Any) -> str:
    return json.dumps(x, indent=2, ensure_ascii=False, default=str)
