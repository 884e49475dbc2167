"""The `json_schema` check: the answer is one JSON value that validates against a JSON Schema (jsonschema)."""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import model_validator

from evalkit.checks._base import Check, CheckArgs, CheckResult
from evalkit.errors import ConfigError
from evalkit.records import Sample

__all__ = ["JsonSchemaArgs", "JsonSchemaCheck"]

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*?)\n?```$", re.DOTALL)
_MAX_ERRORS = 3


class JsonSchemaArgs(CheckArgs):
    """Arguments of the `json_schema` check: the schema inline, or a file relative to the judge file."""

    json_schema: dict[str, Any] | None = None
    """The schema, inline."""
    schema_file: str | None = None
    """A JSON file holding the schema, relative to the judge file."""
    allow_fence: bool = False
    """Accept the JSON inside one Markdown code fence (```json ... ```); otherwise the answer must be JSON."""


    @model_validator(mode="after")
    def _one_schema(self) -> JsonSchemaArgs:
        if (self.json_schema is None) == (self.schema_file is None):
            raise ValueError("give exactly one of json_schema (inline) and schema_file")
        if self.json_schema is not None:
            _check_schema(self.json_schema)
        return self


def _check_schema(schema: dict[str, Any]) -> None:
    from jsonschema import exceptions, validators

    try:
        validators.validator_for(schema, default=validators.Draft202012Validator).check_schema(schema)
    except exceptions.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(top level)"
        raise ValueError(f"not a valid JSON Schema at {where}: {exc.message}") from None


class JsonSchemaCheck(Check):
    """Met (score 1) when the answer parses as JSON and validates; details give the first errors."""

    Args = JsonSchemaArgs
    args: JsonSchemaArgs

    def __init__(self, args: JsonSchemaArgs, base_dir: Path | None = None) -> None:
        super().__init__(args, base_dir)
        _ = self.schema  # a missing or invalid schema file is an error when the judge loads, not at an answer

    @cached_property
    def schema(self) -> dict[str, Any]:
        """The schema, read once from `schema_file` when it is not inline."""
        if self.args.json_schema is not None:
            return self.args.json_schema
        path = Path(self.args.schema_file or "")
        path = path if path.is_absolute() else self.base_dir / path
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"json_schema check: schema_file {path}: cannot read it ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"json_schema check: schema_file {path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
        try:
            _check_schema(schema)
        except ValueError as exc:
            raise ConfigError(f"json_schema check: schema_file {path}: {exc}") from None
        return schema

    def run(self, answer: str, sample: Sample) -> CheckResult:
        """Parse (optionally inside one code fence) and validate."""
        from jsonschema import validators

        body = answer.strip()
        fenced = _FENCE.match(body) if self.args.allow_fence else None
        if fenced:
            body = fenced.group(1).strip()
        try:
            value = json.loads(body)
        except json.JSONDecodeError as exc:
            return CheckResult(met=False, score=0.0, details={"error": f"not valid JSON: {exc.msg} at line "
                                                                       f"{exc.lineno} column {exc.colno}"})
        validator = validators.validator_for(self.schema, default=validators.Draft202012Validator)(self.schema)
        errors = sorted(validator.iter_errors(value), key=lambda e: (list(e.absolute_path), e.message))
        messages = [("/".join(str(p) for p in e.absolute_path) + ": " if e.absolute_path else "") + e.message
                    for e in errors[:_MAX_ERRORS]]
        return CheckResult(met=not errors, score=float(not errors),
                           details={"errors": messages, "n_errors": len(errors)})
