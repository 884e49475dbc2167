"""A judge's raw answer -> a validated JSON object -> scores. Pure functions, no model call.

Parsing is lenient about wrapping (a Markdown code fence, text around one JSON object) and strict about
content: the object must validate against the judge's `output_schema`, and scores must lie in its
`score_range`. Anything else is an error message the re-ask sends back to the judge.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from evalkit.judging._spec import ChoiceResult, JudgeSpec, ScoreResult, ScoresResult

__all__ = ["ParsedAnswer", "criterion_scores", "parse_answer", "single_score", "slot_scores"]

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```$", re.DOTALL)
_MAX_SCHEMA_ERRORS = 3


@dataclass(frozen=True)
class ParsedAnswer:
    """A judge answer that parsed and validated (`value`), or why it did not (`error`)."""

    value: dict[str, Any] | None
    error: str | None

    @property
    def ok(self) -> bool:
        """True when the answer is valid."""
        return self.error is None


def _json_object(text: str) -> tuple[Any, str | None]:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        return json.loads(body), None
    except json.JSONDecodeError as exc:
        first_error = f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    # Some judges wrap the object in prose; take the outermost braces as a second chance.
    start, end = body.find("{"), body.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(body[start:end + 1]), None
        except json.JSONDecodeError:
            pass
    return None, first_error


@lru_cache(maxsize=32)
def _validator(schema_json: str) -> Any:
    from jsonschema import validators

    schema = json.loads(schema_json)
    return validators.validator_for(schema, default=validators.Draft202012Validator)(schema)


def _schema_errors(spec: JudgeSpec, value: Any) -> list[str]:
    validator = _validator(json.dumps(spec.output_schema, sort_keys=True))
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(e.absolute_path), e.message))
    out = []
    for e in errors[:_MAX_SCHEMA_ERRORS]:
        where = "/".join(str(p) for p in e.absolute_path)
        out.append(f"{where}: {e.message}" if where else e.message)
    if len(errors) > _MAX_SCHEMA_ERRORS:
        out.append(f"... and {len(errors) - _MAX_SCHEMA_ERRORS} more")
    return out


def _range_errors(spec: JudgeSpec, value: dict[str, Any]) -> list[str]:
    low, high = spec.score_range
    names: tuple[str, ...] = ()
    if isinstance(spec.result, ScoresResult):
        names = (spec.result.slot_1_field, spec.result.slot_2_field)
    elif isinstance(spec.result, ScoreResult):
        names = (spec.result.field,)
    out = []
    for name in names:
        v = value.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            out.append(f"{name}: must be a number, got {v!r}")
        elif not low <= v <= high:
            out.append(f"{name}: must be between {low:g} and {high:g}, got {v!r}")
    if isinstance(spec.result, ScoresResult) and spec.result.criteria and not out:
        out += _sum_errors(spec.result, value)
    if isinstance(spec.result, ChoiceResult):
        allowed = (spec.result.slot_1, spec.result.slot_2, spec.result.tie)
        if value.get(spec.result.field) not in allowed:
            out.append(f"{spec.result.field}: must be one of {list(allowed)}, got {value.get(spec.result.field)!r}")
    return out


def _sum_errors(result: ScoresResult, value: dict[str, Any]) -> list[str]:
    """A slot's total must be the sum of its criterion points (the judge said both; they must agree)."""
    out = []
    for slot, total_field in ((0, result.slot_1_field), (1, result.slot_2_field)):
        parts = [(c, value.get(fields[slot])) for c, fields in result.criteria.items()]
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for _, v in parts):
            out.append(f"{total_field}: criterion points must be numbers, got "
                       + ", ".join(f"{fields[slot]}={value.get(fields[slot])!r}" for fields in result.criteria.values()))
            continue
        total = sum(v for _, v in parts)  # type: ignore[misc]
        if value.get(total_field) != total:
            terms = " + ".join(f"{c} {v:g}" for c, v in parts)  # type: ignore[str-format]
            out.append(f"{total_field} is {value.get(total_field)!r} but the criterion points add up to "
                       f"{terms} = {total:g}")
    return out


def parse_answer(spec: JudgeSpec, text: str) -> ParsedAnswer:
    """Parse and validate a judge's raw answer against `spec`; the error says what is wrong, for a re-ask."""
    value, error = _json_object(text)
    if error is not None:
        return ParsedAnswer(None, error)
    if not isinstance(value, dict):
        return ParsedAnswer(None, f"expected one JSON object, got {type(value).__name__}")
    problems = _schema_errors(spec, value) or _range_errors(spec, value)
    if problems:
        return ParsedAnswer(None, "does not match the schema: " + "; ".join(problems))
    return ParsedAnswer(value, None)


def slot_scores(spec: JudgeSpec, value: dict[str, Any]) -> tuple[float, float]:
    """The scores of the answers in slot 1 and slot 2 from a valid pairwise answer."""
    result = spec.result
    if isinstance(result, ScoresResult):
        return float(value[result.slot_1_field]), float(value[result.slot_2_field])
    if isinstance(result, ChoiceResult):
        low, high = spec.score_range
        choice = value[result.field]
        if choice == result.slot_1:
            return float(high), float(low)
        if choice == result.slot_2:
            return float(low), float(high)
        return (low + high) / 2, (low + high) / 2
    raise ValueError(f"judge '{spec.id}' is a {spec.kind} judge; slot scores need a pairwise one")


def criterion_scores(spec: JudgeSpec, value: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Per criterion, the points of slot 1 and slot 2 from a valid pairwise answer (empty without criteria)."""
    if not isinstance(spec.result, ScoresResult):
        return {}
    return {c: (float(value[a]), float(value[b])) for c, (a, b) in spec.result.criteria.items()}


def single_score(spec: JudgeSpec, value: dict[str, Any]) -> float:
    """The score of the answer from a valid single-answer judgment."""
    if not isinstance(spec.result, ScoreResult):
        raise ValueError(f"judge '{spec.id}' is a {spec.kind} judge; a single score needs a single one")
    return float(value[spec.result.field])
