"""Judge files: the stored, versioned prompts of LLM judges (`judges/*.yaml`), parsed and validated.

A judge file is reviewed like code. It holds an `id` (its file name), a `version`, a `kind` (`pairwise`: two
answers side by side; `single`: one answer), a Jinja2 `template`, the JSON Schema of the judge's answer
(`output_schema`), the `score_range` and how a valid answer becomes scores (`result`). See docs/judging.md.

A *check judge* (`kind: checks`) has `criteria` scored by deterministic checks (evalkit.checks) instead of a
template: it judges one answer at a time, and pairs by the point rule (evalkit.judging._checking). Its hash is
`definition_sha256`, over the criteria as canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
import jinja2.meta
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from evalkit.errors import ConfigError
from evalkit.user_errors import unknown_name, validation_error
from evalkit.yaml_file import read_yaml_mapping

__all__ = [
    "BUILTIN_VARIABLES",
    "AnyJudgeSpec",
    "CheckCriterion",
    "CheckJudgeSpec",
    "ChoiceResult",
    "JudgeSpec",
    "ScoreResult",
    "ScoresResult",
    "available_judges",
    "find_judge",
    "load_judge",
    "template_sha256",
]

JUDGE_SUFFIXES = (".yaml", ".yml")

BUILTIN_VARIABLES: Mapping[str, frozenset[str]] = {
    "pairwise": frozenset({"question", "answer_1", "answer_2", "context", "reference", "fields"}),
    "single": frozenset({"question", "answer", "context", "reference", "fields"}),
}
"""Variables every template of a kind may use; `context` and `reference` are None unless the suite asks."""

_REQUIRED_VARIABLES: Mapping[str, frozenset[str]] = {
    "pairwise": frozenset({"answer_1", "answer_2"}),
    "single": frozenset({"answer"}),
}

# Judge prompts are plain text: no autoescaping. StrictUndefined makes a missing variable an error rather
# than an empty string sent to the judge; trim/lstrip let `{% if %}` blocks sit on their own lines.
TEMPLATE_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                                  lstrip_blocks=True, keep_trailing_newline=False)


def template_sha256(template: str) -> str:
    """The sha256 hex digest of a template's exact text (UTF-8), recorded with every judgment."""
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScoresResult(_Strict):
    """A pairwise answer holding one score per slot (e.g. `score_answer_1`, `score_answer_2`)."""

    type: Literal["scores"]
    slot_1_field: str
    """The answer's field with the score of the answer shown first."""
    slot_2_field: str
    """The answer's field with the score of the answer shown second."""
    criteria: dict[str, tuple[str, str]] = Field(default_factory=dict)
    """Per criterion, the answer's fields with its points for slot 1 and slot 2; when given, each slot's total
    must equal the sum of its criterion points (an answer that does not add up is invalid, and re-asked)."""


class ChoiceResult(_Strict):
    """A pairwise answer naming the better slot or a tie; the winner scores the top of `score_range`,
    the loser the bottom, a tie the middle for both."""

    type: Literal["choice"]
    field: str
    """The answer's field holding the choice."""
    slot_1: str
    """The value meaning: the answer shown first is better."""
    slot_2: str
    """The value meaning: the answer shown second is better."""
    tie: str
    """The value meaning: neither is better."""


class ScoreResult(_Strict):
    """A single-answer judgment holding one score."""

    type: Literal["score"]
    field: str
    """The answer's field holding the score."""


Result = Annotated[ScoresResult | ChoiceResult | ScoreResult, Field(discriminator="type")]


class JudgeSpec(_Strict):
    """A parsed, validated judge file."""

    id: str
    """The judge's name; equal to the file name without its extension."""
    version: str
    """Bumped on every change of template, schema, result or range (reviewed like code)."""
    kind: Literal["pairwise", "single"]
    description: str
    template: str
    """Jinja2 over the kind's built-in variables (BUILTIN_VARIABLES) and this file's `variables`."""
    output_schema: dict[str, Any]
    """JSON Schema of the judge's JSON answer: sent to providers for structured output, and validated."""
    score_range: tuple[float, float]
    """Lowest and highest score one answer can get."""
    result: Result
    """How a valid answer becomes scores."""
    variables: dict[str, Any] = Field(default_factory=dict)
    """Further template variables with their default values; a suite overrides them (`judge_vars`).
    A default of null means the suite must give the value."""
    max_tokens: int = Field(default=512, ge=16)
    temperature: float = Field(default=0.0, ge=0.0)
    path: Path = Path(".")
    """The file this was read from (set by the loader)."""

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # `version: 1` in YAML is an int; a version is compared as text.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("score_range")
    @classmethod
    def _range_ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError(f"must be [low, high] with low < high (got {list(value)})")
        return value

    @field_validator("output_schema")
    @classmethod
    def _schema_valid(cls, value: dict[str, Any]) -> dict[str, Any]:
        from jsonschema import exceptions, validators

        try:
            validators.validator_for(value, default=validators.Draft202012Validator).check_schema(value)
        except exceptions.SchemaError as exc:
            where = "/".join(str(p) for p in exc.path) or "(top level)"
            raise ValueError(f"not a valid JSON Schema at {where}: {exc.message}") from None
        if value.get("type") != "object":
            raise ValueError(f"must describe a JSON object (type: object); got type {value.get('type')!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> JudgeSpec:
        allowed = {"pairwise": ("scores", "choice"), "single": ("score",)}[self.kind]
        if self.result.type not in allowed:
            raise ValueError(f"result.type: a {self.kind} judge takes {' or '.join(allowed)}, "
                             f"got {self.result.type!r}")
        properties = self.output_schema.get("properties") or {}
        required = set(self.output_schema.get("required") or ())
        fields = {"scores": ("slot_1_field", "slot_2_field"), "choice": ("field",), "score": ("field",)}
        named = [(f"result.{attr}", getattr(self.result, attr)) for attr in fields[self.result.type]]
        if isinstance(self.result, ScoresResult):
            named += [(f"result.criteria.{c}", f) for c, pair in self.result.criteria.items() for f in pair]
        for where, name in named:
            if name not in properties or name not in required:
                raise ValueError(f"{where}: '{name}' must be a required property of output_schema "
                                 f"(properties: {sorted(properties)}, required: {sorted(required)})")
        if isinstance(self.result, ChoiceResult):
            values = (self.result.slot_1, self.result.slot_2, self.result.tie)
            if len(set(values)) != 3:
                raise ValueError(f"result: slot_1, slot_2 and tie must differ, got {list(values)}")
            enum = properties[self.result.field].get("enum")
            if enum is not None and set(enum) != set(values):
                raise ValueError(f"result: output_schema.properties.{self.result.field}.enum {enum} must hold "
                                 f"exactly the values {list(values)}")
        clash = sorted(set(self.variables) & BUILTIN_VARIABLES[self.kind])
        if clash:
            raise ValueError(f"variables: {clash} are built-in variables of a {self.kind} judge; rename them")
        self._check_template()
        return self

    def _check_template(self) -> None:
        try:
            parsed = TEMPLATE_ENV.parse(self.template)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"template: syntax error at line {exc.lineno}: {exc.message}") from None
        used = jinja2.meta.find_undeclared_variables(parsed)
        allowed = BUILTIN_VARIABLES[self.kind] | set(self.variables)
        unknown = sorted(used - allowed)
        if unknown:
            raise ValueError(f"template: unknown variable(s) {unknown}; allowed: {sorted(allowed)} "
                             f"(declare others under `variables` with a default)")
        missing = sorted(_REQUIRED_VARIABLES[self.kind] - used)
        if missing:
            raise ValueError(f"template: a {self.kind} judge must show {missing} to the judge")

    @cached_property
    def template_sha256(self) -> str:
        """The sha256 of this judge's template text."""
        return template_sha256(self.template)

    @property
    def label(self) -> str:
        """`id vVERSION`, for notes and tables."""
        return f"{self.id} v{self.version}"

    @property
    def criteria(self) -> tuple[str, ...]:
        """The criteria the judge gives points for separately (empty: totals only)."""
        return tuple(self.result.criteria) if isinstance(self.result, ScoresResult) else ()


class CheckCriterion(_Strict):
    """One criterion of a check judge: a registered check (evalkit.checks) with its arguments."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    """Snake-case name; also the metric name of its mean check score (e.g. `citation_f1`)."""
    description: str = ""
    check: str
    """A check name from the registry (`citations`, `markdown_sections`, `regex`, `terms`, `length`,
    `json_schema`, or a third party's)."""
    args: dict[str, Any] = Field(default_factory=dict)
    compares_with: str | None = None
    """The LLM judge criterion that means the same (e.g. `citation`): the report shows their agreement."""


class CheckJudgeSpec(_Strict):
    """A parsed, validated check judge file (`kind: checks`)."""

    id: str
    version: str
    kind: Literal["checks"]
    description: str
    criteria: tuple[CheckCriterion, ...] = Field(min_length=1)
    path: Path = Path(".")

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("criteria")
    @classmethod
    def _distinct(cls, value: tuple[CheckCriterion, ...]) -> tuple[CheckCriterion, ...]:
        names = [c.name for c in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"criterion names must be distinct; repeated: {repeated}")
        return value

    @cached_property
    def definition_sha256(self) -> str:
        """sha256 of the criteria (name, check, arguments) as canonical JSON: what the verdicts depend on."""
        body = [{"name": c.name, "check": c.check, "args": c.args} for c in self.criteria]
        return template_sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")))

    @property
    def template_sha256(self) -> str:
        """The definition hash, under the name every Judgment records."""
        return self.definition_sha256

    @property
    def score_range(self) -> tuple[float, float]:
        """Points one answer can get: one per criterion."""
        return (0.0, float(len(self.criteria)))

    @property
    def label(self) -> str:
        """`id vVERSION`, for notes and tables."""
        return f"{self.id} v{self.version}"

    @cached_property
    def checks(self) -> tuple[Any, ...]:
        """Each criterion's configured check (evalkit.checks.Check), created once; ConfigError names the file."""
        from evalkit.checks import create_check

        return tuple(create_check(c.check, c.args, where=f"{self.path}: criteria[{i}]", base_dir=self.path.parent)
                     for i, c in enumerate(self.criteria))


AnyJudgeSpec = JudgeSpec | CheckJudgeSpec
"""What a judge file holds: an LLM judge or a check judge."""


def available_judges(dirs: Sequence[Path]) -> dict[str, Path]:
    """Judge id -> file, over the folders `dirs` (earlier folders win)."""
    found: dict[str, Path] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            if f.suffix in JUDGE_SUFFIXES and f.is_file():
                found.setdefault(f.stem, f)
    return found


def find_judge(name_or_path: str, *, dirs: Sequence[Path], relative_to: Path | None = None,
               where: str = "") -> AnyJudgeSpec:
    """Load a judge by id (from the first of `dirs` that has it) or by file path (relative paths start at
    `relative_to`)."""
    if Path(name_or_path).suffix in JUDGE_SUFFIXES:
        p = Path(name_or_path)
        if not p.is_absolute() and relative_to is not None:
            p = relative_to / p
        if not p.is_file():
            raise ConfigError(f"{where + ': ' if where else ''}judge file not found: {p}")
        return load_judge(p)
    judges = available_judges(dirs)
    if name_or_path in judges:
        return load_judge(judges[name_or_path])
    folders = ", ".join(map(str, dirs)) or "no judges folder"
    raise unknown_name("judge", name_or_path, judges, where=where,
                       hint=f"(Judges are .yaml files, found in {folders}.)")


def load_judge(path: Path) -> AnyJudgeSpec:
    """Read and validate one judge file (LLM or check judge); a ConfigError names the file and the field at fault."""
    try:
        raw = read_yaml_mapping(path, "a judge file")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read judge file: {exc.strerror}") from None
    if "path" in raw:
        raise ConfigError(f"{path}: path: unknown field")
    model: type[JudgeSpec | CheckJudgeSpec] = CheckJudgeSpec if raw.get("kind") == "checks" else JudgeSpec
    try:
        spec = model(**raw, path=path.resolve())
    except ValidationError as exc:
        raise validation_error(exc, where=str(path), model=model) from None
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if spec.id != path.stem:
        raise ConfigError(f"{path}: id: must equal the file name '{path.stem}' (got {spec.id!r})")
    if isinstance(spec, CheckJudgeSpec):
        _ = spec.checks  # every check's arguments are validated when the file loads, not at the first answer
    return spec
