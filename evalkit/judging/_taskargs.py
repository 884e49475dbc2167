"""The `task_args` every judge task shares, and turning them into a loaded judge with its variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import ConfigError, DataError
from evalkit.judging._client import DEFAULT_MAX_REASKS
from evalkit.judging._render import judge_variables
from evalkit.judging._spec import JudgeSpec, find_judge
from evalkit.records import Sample

__all__ = ["JudgeTaskArgs", "LoadedJudge", "item_basics", "load_task_judge", "parse_task_args"]


class JudgeTaskArgs(BaseModel):
    """The `task_args` of a judge task (`pairwise_judge`, `rubric_judge`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    judge: str
    """A judge id from `judges/` (e.g. `legal_quality`) or a judge file path relative to the suite file."""
    judge_vars: dict[str, Any] = Field(default_factory=dict)
    """Values of the judge file's own variables (e.g. `criterion`, `criteria`)."""
    question_field: str | None = None
    """The sample field shown to the judge as `question`; default: the sample's input."""
    context_field: str | None = None
    """A sample field shown to the judge as `context` (e.g. the articles given to the models); default: none."""
    show_reference: bool = False
    """Show the sample's target to the judge as `reference` (e.g. a gold translation)."""
    max_reasks: int = Field(default=DEFAULT_MAX_REASKS, ge=0, le=5)
    """Re-asks after an invalid judge answer, before the judgment counts as invalid."""


@dataclass(frozen=True)
class LoadedJudge:
    """A judge file with the variables a suite gives it."""

    spec: JudgeSpec
    variables: Mapping[str, Any]


def parse_task_args(model: type[JudgeTaskArgs], args: Mapping[str, Any], suite_path: Path) -> JudgeTaskArgs:
    """Validate `task_args`; a ConfigError names the suite file, the field, what was received and what is allowed."""
    try:
        return model.model_validate(dict(args))
    except ValidationError as err:
        lines = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"])
            field = f"task_args.{loc}" if loc else "task_args"
            msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
            lines.append(f"{suite_path}: {field}: {msg} (received {e.get('input')!r})")
        allowed = ", ".join(model.model_fields)
        raise ConfigError("\n".join([*lines, f"allowed task_args: {allowed}"])) from None


def load_task_judge(args: JudgeTaskArgs, suite_path: Path, kind: str) -> LoadedJudge:
    """Load the judge a suite names and check it is of `kind` and gets every variable it needs."""
    where = f"{suite_path}: task_args.judge"
    spec = find_judge(args.judge, relative_to=suite_path.parent, where=where)
    if spec.kind != kind:
        raise ConfigError(f"{where}: judge '{spec.id}' ({spec.path}) has kind '{spec.kind}'; this task needs a "
                          f"judge of kind '{kind}'")
    variables = judge_variables(spec, args.judge_vars, where=f"{suite_path}: task_args.judge_vars")
    return LoadedJudge(spec=spec, variables=variables)


def item_basics(args: JudgeTaskArgs, sample: Sample) -> dict[str, Any]:
    """The built-in variables taken from the sample: question, context, reference, fields."""
    def field(arg: str, name: str) -> Any:
        if name not in sample.fields:
            raise DataError(f"sample {sample.id!r}: task_args.{arg} names the field {name!r}, which this sample "
                            f"does not have (fields: {sorted(sample.fields)})")
        value = sample.fields[name]
        # A list of passages (e.g. several articles) reads best as paragraphs, not as a Python list.
        return "\n\n".join(str(v) for v in value) if isinstance(value, (list, tuple)) else value

    return {
        "question": sample.input if args.question_field is None else field("question_field", args.question_field),
        "context": None if args.context_field is None else field("context_field", args.context_field),
        "reference": sample.target if args.show_reference else None,
        "fields": dict(sample.fields),
    }
