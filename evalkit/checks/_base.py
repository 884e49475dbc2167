"""The check extension point: a deterministic criterion over one answer and its sample, with a typed result.

A check is configured once (its `Args`, validated when a judge file is loaded) and then called on every answer:
`check.run(answer, sample) -> CheckResult`. It reads nothing but its arguments, the answer text and the
sample, makes no model call and keeps no state, so the same answer always gets the same result.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import DataError
from evalkit.records import Record, Sample
from evalkit.user_errors import validation_error

__all__ = ["Check", "CheckArgs", "CheckResult", "NoArgs", "sample_field"]


class CheckResult(Record):
    """What a check says about one answer."""

    met: bool
    """Whether the answer meets the criterion (the pairwise point rule only gives points to answers that do)."""
    score: float = Field(ge=0.0, le=1.0)
    """How well it meets it, from 0 to 1 (a share, an F1, or 0/1 for a yes/no check); the better answer of two
    that both meet the criterion is the one with the higher score."""
    details: dict[str, Any] = Field(default_factory=dict)
    """What the check found (e.g. each citation and its status), plain JSON, for reports and audits."""


class CheckArgs(BaseModel):
    """Base of a check's arguments: frozen, unknown fields rejected (a typo is an error, not a default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoArgs(CheckArgs):
    """A check without arguments."""


class Check:
    """Base class of every check. Subclasses set `Args` and implement `run`; the rest has defaults.

    `base_dir` is the folder of the file that configured the check (a judge file), for arguments that name
    files (a glossary, a JSON Schema).
    """

    Args: ClassVar[type[CheckArgs]] = NoArgs
    """The pydantic model of the check's arguments."""

    def __init__(self, args: CheckArgs, base_dir: Path | None = None) -> None:
        self.args = args
        self.base_dir = base_dir or Path.cwd()

    @classmethod
    def create(cls, args: Mapping[str, Any], *, where: str, prefix: str = "",
               base_dir: Path | None = None) -> Check:
        """The check configured with `args`; a one-line ConfigError `<where>: <prefix><field>: ...` when they
        are wrong (evalkit.user_errors.validation_error)."""
        try:
            parsed = cls.Args.model_validate(dict(args))
        except ValidationError as exc:
            raise validation_error(exc, where=where, prefix=prefix, model=cls.Args) from None
        return cls(parsed, base_dir)

    def required_fields(self) -> tuple[str, ...]:
        """Sample fields the check reads; a task verifies every sample has them before any model call."""
        return ()

    def run(self, answer: str, sample: Sample) -> CheckResult:
        """The check's verdict on `answer` to `sample` (pure: no I/O, no state)."""
        raise NotImplementedError


def sample_field(sample: Sample, name: str) -> Any:
    """A sample field a check needs; DataError naming the sample and the fields it has when it is missing."""
    if name not in sample.fields:
        raise DataError(f"sample {sample.id!r}: a check needs the field {name!r}, which this sample does not have "
                        f"(fields: {', '.join(sorted(sample.fields)) or 'none'})")
    return sample.fields[name]
