"""The one way evalkit reports a user's mistake: exactly one line naming the file, line or field, what was
received and what is allowed, with close-match suggestions for a mistyped name.

Every loader, task, judge and command builds its ConfigError / DataError through these functions, so messages
agree in shape: `<where>: <field>: <problem> (received <value>); allowed: <what>. Did you mean: <name>?`
The CLI prints the error as one line (exit code 2); nothing here prints.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ValidationError

from evalkit.errors import ConfigError, EvalkitError

__all__ = ["did_you_mean", "one_line", "received", "unknown_name", "validation_error"]

_MAX_VALUE = 80
"""Characters of a received value shown in a message (long data would drown the message)."""


def one_line(text: str) -> str:
    """`text` on one line: line breaks and runs of spaces become single spaces."""
    return " ".join(str(text).split())


def received(value: object) -> str:
    """A short repr of a received value, for `(received ...)`."""
    text = one_line(repr(value))
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


def did_you_mean(name: str, known: Iterable[str], *, cutoff: float = 0.6) -> str:
    """` Did you mean: a, b?` for names close to `name`, else an empty string."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=cutoff)
    return f" Did you mean: {', '.join(close)}?" if close else ""


def unknown_name(kind: str, name: str, known: Iterable[str], *, where: str = "", hint: str = "",
                 error: type[EvalkitError] = ConfigError) -> EvalkitError:
    """`<where>: unknown <kind> 'name'. Known: a, b. <hint> Did you mean: x?` as one error."""
    names = sorted(set(known))
    loc = f"{where}: " if where else ""
    listed = ", ".join(names) if names else "none"
    extra = f" {hint.strip()}" if hint else ""
    return error(one_line(f"{loc}unknown {kind} '{name}'. Known: {listed}.{extra}{did_you_mean(name, names)}"))


def _allowed_fields(model: type[BaseModel] | None, loc: Sequence[object]) -> list[str]:
    """The field names allowed where an unknown field `loc` was given (top-level or one model deep)."""
    if model is None:
        return []
    fields = model.model_fields
    for part in loc[:-1]:
        info = fields.get(str(part)) if isinstance(part, str) else None
        sub = info.annotation if info is not None else None
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            fields = sub.model_fields
        else:
            return []
    return [name for name in fields if not name.startswith("_")]


def _problem(err: dict, prefix: str, model: type[BaseModel] | None) -> str:
    loc_parts = tuple(err.get("loc", ()))
    loc = ".".join(str(p) for p in loc_parts)
    field = f"{prefix}{loc}" if loc else (prefix.rstrip(". ") or "(top level)")
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, loc_parts)
        name = str(loc_parts[-1]) if loc_parts else ""
        tail = f" (allowed: {', '.join(allowed)}){did_you_mean(name, allowed)}" if allowed else ""
        return f"{field}: unknown field{tail}"
    if kind == "missing":
        return f"{field}: required field is missing"
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = err.get("input")
    shown = "" if isinstance(value, dict) else f" (received {received(value)})"
    return f"{field}: {message}{shown}"


def validation_error(exc: ValidationError, *, where: str, prefix: str = "", allowed: str = "",
                     model: type[BaseModel] | None = None,
                     error: type[EvalkitError] = ConfigError) -> EvalkitError:
    """A pydantic ValidationError as one user error line.

    `where` names the file (and line), `prefix` the field path the validated object sits at, with its
    separator (e.g. `task_args.`, `front matter `), `allowed` says what is allowed when the field messages do
    not, and `model` (the validated class) lets an unknown field list the known ones with a close match.
    """
    problems = "; ".join(_problem(e, prefix, model) for e in exc.errors())
    tail = f"; allowed: {allowed}" if allowed else ""
    loc = f"{where}: " if where else ""
    return error(one_line(f"{loc}{problems}{tail}"))
