"""One judgment: render, call the judge model with structured output, validate, re-ask a bounded number of
times, and record every call as a Judgment.

Calls go through evalkit.model.Model (cache, retries, timeouts, cost). A re-ask is a new call whose prompt is
the conversation so far plus the invalid answer and the validation error, so each re-ask has its own cache
key and a re-run replays the same answers. A call that fails for good (after the wrapper's retries) is not
re-asked: the failure is about the endpoint, not the answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from evalkit.judging._answer import parse_answer
from evalkit.judging._render import render_judge_prompt
from evalkit.judging._spec import JudgeSpec
from evalkit.records import (
    Generation,
    GenerationParams,
    Judgment,
    Message,
    Prompt,
    Request,
)

__all__ = ["DEFAULT_MAX_REASKS", "JudgeOutcome", "Status", "ask_judge", "reask_message"]

DEFAULT_MAX_REASKS = 2
"""Re-asks after the first call when the answer is invalid: at most 3 calls per judgment by default."""

Status = Literal["ok", "invalid", "failed"]
"""`invalid`: every answer failed validation; `failed`: the judge call itself failed (no answer)."""


@dataclass(frozen=True)
class JudgeOutcome:
    """The validated answer of one judgment (None unless `status` is ok) and every call made for it."""

    status: Status
    value: dict[str, Any] | None
    judgments: tuple[Judgment, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the judge gave a valid answer."""
        return self.status == "ok"


def reask_message(spec: JudgeSpec, error: str) -> str:
    """The follow-up sent after an invalid answer: what was wrong and the schema to follow."""
    schema = json.dumps(spec.output_schema, ensure_ascii=False, separators=(",", ":"))
    return (f"Your reply could not be used: {error}.\nReply again with one JSON object only, matching this "
            f"JSON Schema:\n{schema}")


def judge_params(spec: JudgeSpec, seed: int) -> GenerationParams:
    """Sampling parameters of a judge call: the judge file's, with its schema for structured output."""
    return GenerationParams(temperature=spec.temperature, max_tokens=spec.max_tokens, seed=seed,
                            json_schema=spec.output_schema)


async def ask_judge(judge: Any, spec: JudgeSpec, item: Mapping[str, Any], variables: Mapping[str, Any], *,
                    max_reasks: int = DEFAULT_MAX_REASKS, seed: int = 0, sample_id: str = "",
                    details: Mapping[str, Any] | None = None) -> JudgeOutcome:
    """Judge one item with `judge` (an evalkit.model.Model); never raises for a bad or failed answer.

    `item` holds the built-in template variables (question, answers, ...), `variables` the judge's own;
    `details` are stored on every Judgment (e.g. which model is in which slot).
    """
    if max_reasks < 0:
        raise ValueError(f"max_reasks must be >= 0. Got {max_reasks!r} instead.")
    rendered = render_judge_prompt(spec, item, variables)
    messages = [Message(role="user", content=rendered)]
    params = judge_params(spec, seed)
    calls: list[Judgment] = []
    error = ""
    for attempt in range(max_reasks + 1):
        prompt = Prompt(messages=tuple(messages))
        gen: Generation = await judge.generate(Request(prompt=prompt, params=params, sample_id=sample_id))
        shown = rendered if attempt == 0 else prompt.render()
        record = dict(details or {}, attempt=attempt, cached=gen.cached)
        if not gen.ok:
            error = gen.error or "no output"
            calls.append(_judgment(spec, judge, gen, shown, None, f"judge call failed: {error}",
                                   {**record, "status": "failed"}))
            return JudgeOutcome("failed", None, tuple(calls), error=f"judge call failed: {error}")
        parsed = parse_answer(spec, gen.output or "")
        if parsed.ok:
            calls.append(_judgment(spec, judge, gen, shown, parsed.value, None, {**record, "status": "ok"}))
            return JudgeOutcome("ok", parsed.value, tuple(calls))
        error = parsed.error or "invalid answer"
        calls.append(_judgment(spec, judge, gen, shown, None, f"invalid answer: {error}",
                               {**record, "status": "invalid"}))
        messages += [Message(role="assistant", content=gen.output or ""),
                     Message(role="user", content=reask_message(spec, error))]
    return JudgeOutcome("invalid", None, tuple(calls),
                        error=f"still invalid after {max_reasks} re-ask(s): {error}")


def _judgment(spec: JudgeSpec, judge: Any, gen: Generation, prompt: str, parsed: dict[str, Any] | None,
              error: str | None, details: dict[str, Any]) -> Judgment:
    return Judgment(judge_id=spec.id, judge_version=spec.version, template_sha256=spec.template_sha256,
                    judge_model=gen.model_id or judge.spec.model, prompt=prompt, raw_response=gen.output,
                    parsed=parsed, error=error, latency_s=gen.latency_s, usage=gen.usage, cost_usd=gen.cost_usd,
                    details=details)
