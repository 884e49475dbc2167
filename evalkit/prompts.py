"""Render a suite's prompt profile for one sample into a Prompt (chat messages or completion text)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.meta

from evalkit.errors import ConfigError
from evalkit.records import Message, Prompt, Sample
from evalkit.suite import PromptSpec

# Prompts are plain text, not HTML: no autoescaping. StrictUndefined turns a typo in a template variable
# into an error instead of an empty string silently sent to every model.
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=256)
def _compile(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


@lru_cache(maxsize=256)
def _constant(source: str) -> str | None:
    """The text of a template that uses no variable (a fixed system prompt), rendered once; None otherwise.

    Rendering builds a Jinja context per call: for a fixed text that is the same work for every sample.
    """
    try:
        if jinja2.meta.find_undeclared_variables(_ENV.parse(source)):
            return None
    except jinja2.TemplateSyntaxError:
        return None  # rendering reports it, with the profile's name
    return _compile(source).render({})


def _text(source: str, variables: Mapping[str, Any]) -> str:
    constant = _constant(source)
    return constant if constant is not None else _compile(source).render(variables)


def _render(source: str, variables: Mapping[str, Any], where: str) -> str:
    try:
        return _compile(source).render(variables)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{where}: template syntax error at line {exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"{where}: {exc.message}; available variables: {', '.join(sorted(variables))}") from None


def template_vars(sample: Sample, task_vars: Mapping[str, Any]) -> dict[str, Any]:
    """Variables a template sees: the sample's fields, task variables, then `id` and `input`."""
    return {**sample.fields, **task_vars, "id": sample.id, "input": sample.input}


def render_prompt(spec: PromptSpec, sample: Sample, task_vars: Mapping[str, Any], *, where: str) -> Prompt:
    """The Prompt for `sample` under profile `spec`; `where` names the suite and profile for errors."""
    variables = template_vars(sample, task_vars)
    if spec.style == "messages":
        # The sample's own chat history (chat-format data), after the profile's system message if it has one.
        from evalkit.sources.chat_jsonl import history_messages

        history = history_messages(sample, where=where)
        system = _render(spec.system, variables, where) if spec.system else None
        return Prompt(messages=((Message(role="system", content=system),) if system else ()) + history)
    try:
        body = _text(spec.template, variables)
        system = _text(spec.system, variables) if spec.system else None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{where}: template syntax error at line {exc.lineno}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"{where}: {exc.message}; available variables: {', '.join(sorted(variables))}") from None
    if spec.style == "completion":
        return Prompt(text=body)
    messages = ([Message(role="system", content=system)] if system else []) + [Message(role="user", content=body)]
    return Prompt(messages=tuple(messages))
