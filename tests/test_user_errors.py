"""The one way to report a user's mistake (evalkit.user_errors): one line, what was received, what is allowed,
close matches; and every EvalkitError is one line, whatever text it was built from."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import ConfigError, DataError, EvalkitError, ProviderError
from evalkit.user_errors import did_you_mean, received, unknown_name, validation_error


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_tokens: int = Field(default=8, ge=1)


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: list[str] = Field(min_length=2)
    generation: Inner = Inner()


def failure(**raw: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        Outer.model_validate(raw)
    return info.value


def test_several_problems_are_one_line_naming_each_field_and_what_was_received() -> None:
    err = validation_error(failure(labels=["only"], generation={"max_tokens": 0}, lables=1), where="suite.yaml",
                           prefix="task_args.", model=Outer)
    text = str(err)
    assert isinstance(err, ConfigError) and "\n" not in text and text.startswith("suite.yaml: ")
    assert "task_args.labels: List should have at least 2 items after validation, not 1 (received ['only'])" in text
    assert "task_args.generation.max_tokens: Input should be greater than or equal to 1 (received 0)" in text
    assert "task_args.lables: unknown field (allowed: labels, generation) Did you mean: labels?" in text


def test_unknown_field_one_level_down_lists_that_level() -> None:
    text = str(validation_error(failure(labels=["a", "b"], generation={"max_tokns": 3}), where="s.yaml",
                                model=Outer))
    assert "generation.max_tokns: unknown field (allowed: max_tokens) Did you mean: max_tokens?" in text


def test_missing_fields_and_the_error_kind() -> None:
    err = validation_error(failure(), where="data.jsonl:3", error=DataError, allowed="labels (>= 2 strings)")
    assert isinstance(err, DataError)
    assert str(err) == "data.jsonl:3: labels: required field is missing; allowed: labels (>= 2 strings)"


def test_unknown_names_suggest_close_ones() -> None:
    err = unknown_name("model", "bsae", ["ft", "base", "ft-lr1e-5"], where="--models",
                       hint="Define it in evalkit.toml.")
    assert str(err) == ("--models: unknown model 'bsae'. Known: base, ft, ft-lr1e-5. Define it in evalkit.toml. "
                        "Did you mean: base?")
    assert did_you_mean("zzz", ["ft"]) == "" and str(unknown_name("task", "x", [])).endswith("Known: none.")


def test_received_values_are_short() -> None:
    assert received("short") == "'short'"
    long = received("x" * 500)
    assert len(long) == 80 and long.endswith("...")


@pytest.mark.parametrize("kind", [EvalkitError, ConfigError, DataError])
def test_every_user_error_is_one_line_whatever_it_was_built_from(kind: type[EvalkitError]) -> None:
    err = kind("data.csv:4: a library said:\n  line one\n\n  line two   ")
    assert str(err) == "data.csv:4: a library said: line one line two"


def test_provider_errors_too_keep_their_flags() -> None:
    err = ProviderError("HTTP 500\nupstream exploded", retryable=True, status=500)
    assert str(err) == "HTTP 500 upstream exploded" and err.retryable and err.status == 500
