"""Render a judge's template for one item: built-in variables, the judge file's defaults, the suite's values."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2

from evalkit.errors import ConfigError
from evalkit.judging._spec import BUILTIN_VARIABLES, TEMPLATE_ENV, JudgeSpec

__all__ = ["judge_variables", "render_judge_prompt"]


@lru_cache(maxsize=64)
def _compile(source: str) -> jinja2.Template:
    return TEMPLATE_ENV.from_string(source)


def judge_variables(spec: JudgeSpec, overrides: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """The judge file's variables with the suite's `overrides`; ConfigError for unknown or missing ones."""
    unknown = sorted(set(overrides) - set(spec.variables))
    if unknown:
        allowed = ", ".join(sorted(spec.variables)) or "none"
        raise ConfigError(f"{where}: judge '{spec.id}' ({spec.path}) has no variable(s) {unknown}; "
                          f"allowed: {allowed}")
    merged = {**spec.variables, **overrides}
    missing = sorted(k for k, v in merged.items() if v is None)
    if missing:
        raise ConfigError(f"{where}: judge '{spec.id}' ({spec.path}) needs a value for {missing} "
                          f"(give it under task_args.judge_vars)")
    return merged


def render_judge_prompt(spec: JudgeSpec, item: Mapping[str, Any], variables: Mapping[str, Any]) -> str:
    """The judge prompt for one item: `item` holds the built-in variables, `variables` the judge's own."""
    extra = sorted(set(item) - BUILTIN_VARIABLES[spec.kind])
    if extra:
        raise ValueError(f"item variables {extra} are not built-in variables of a {spec.kind} judge")
    defaults: dict[str, Any] = {name: None for name in BUILTIN_VARIABLES[spec.kind]}
    defaults["fields"] = {}
    try:
        return _compile(spec.template).render({**defaults, **variables, **item})
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"{spec.path}: template: {exc.message}") from None
