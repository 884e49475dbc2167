"""Suite files: small declarative YAML files naming the task, the data, the prompts and demo models."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evalkit.errors import ConfigError
from evalkit.records import GenerationParams
from evalkit.search_path import search_dirs
from evalkit.user_errors import unknown_name, validation_error
from evalkit.yaml_file import read_yaml_mapping

SUITE_FILE = "suite.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataSpec(_Strict):
    """Where a suite's samples come from."""

    source: Literal["jsonl", "csv", "hf", "mmlu", "bsard", "pubmedqa", "chat_jsonl", "eurlex"] = "jsonl"
    """`jsonl`/`csv`: a local file; `hf`: a Hugging Face dataset through `datasets`; `mmlu`: MMLU questions
    (evalkit.sources.mmlu: the hub's `cais/mmlu` or the original CSV); `bsard`: BSARD questions joined with their
    articles (evalkit.sources.bsard; `fields` does not apply); `pubmedqa`: PubMedQA PQA-L
    (evalkit.sources.pubmedqa: the hub's `qiaojin/PubMedQA` or the original JSON keyed by PMID); `chat_jsonl`: a
    fine-tuning file in Mistral's chat format, the last assistant message being the reference
    (evalkit.sources.chat_jsonl); `eurlex`: Multi-EURLEX acts paired across two languages."""
    path: str
    """A local file or folder, relative to the suite file; or, for the sources that read the Hugging Face hub
    (`hf`, `mmlu`, `pubmedqa`, `eurlex`, `bsard`), the data set's hub id (`owner/name`). A hub data set can be
    replaced by a local copy without editing the suite: `--data ID=PATH`, or `[data]` in evalkit.toml."""
    name: str | None = None
    """Hugging Face config name."""
    split: str = "test"
    """Hugging Face split."""
    data_files: str | None = None
    """For `hf` with a generic builder (`json`, `csv`, `parquet`): the local file(s), relative to the suite."""
    fields: dict[str, str] = Field(default_factory=lambda: {"id": "id", "input": "input", "target": "target"})
    """Maps record fields (`id`, `input`, `target`) to column names; other columns become sample fields."""
    train_path: str | None = None
    """Training split of the bundled data (used by `evalkit demo train`), relative to the suite file."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Options of a source that needs more than the fields above (`eurlex`: Multi-EURLEX acts paired across two
    languages, evalkit.sources.eurlex: languages, segmentation, length caps, glossary filter)."""
    columns: list[str] | None = None
    """For a CSV without a header row: the names of its columns, in order (e.g. MMLU's question, A, B, C, D,
    answer). Every row must then have exactly this many values; without an id column, ids are `line-N`."""
    copy_of: str | None = None
    """Set by a data override (`--data`, `[data]` in evalkit.toml): the data set (hub id, or the suite's own
    path) that the local `path` stands for. Kept in the run's suite.json."""


class PromptSpec(_Strict):
    """One prompt profile: a Jinja2 template over the sample (`input`, its fields, task variables)."""

    style: Literal["chat", "completion", "messages"] = "chat"
    """`messages`: the sample's own chat history (its `messages` field, e.g. from `chat_jsonl` data) is sent as
    is, after the optional `system` message; `template` is then unused."""
    system: str | None = None
    """System message (chat and messages styles)."""
    template: str = ""

    @model_validator(mode="after")
    def _has_template(self) -> PromptSpec:
        if self.style != "messages" and not self.template:
            raise ValueError(f"template: required for style '{self.style}' (only style 'messages' goes without)")
        return self


class SuiteSpec(_Strict):
    """A parsed suite file."""

    name: str
    description: str = ""
    task: str
    task_args: dict[str, Any] = Field(default_factory=dict)
    data: DataSpec
    generation: GenerationParams = GenerationParams()
    prompts: dict[str, PromptSpec]
    """Prompt profiles by name; `default` is required. A model uses the profile named in its config
    (`prompt = "..."`), else the profile named like the model, else `default`."""
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Suite-local model definitions (e.g. the demo `ft` adapter for this suite); the project config wins."""
    reference: str | None = None
    """The model others are compared with (default: the first of `--models`)."""
    attempts: int | None = Field(default=None, ge=1)
    """Attempts per item (sampled when > 1); `--attempts` overrides it. Default 1."""
    judge: str | None = None
    """Judge model name for tasks that need one (overridden by `--judge` and the project config)."""
    gates: list[str] | dict[str, Any] | None = None
    """CI gate rules (`- ft.f1 >= 0.75`), or a mapping with `rules` and gate settings; see docs/ci-gates.md.
    Validated by evalkit.gating when a gate runs."""
    path: Path = Path(".")
    """The suite file this was read from (set by the loader)."""

    @model_validator(mode="after")
    def _has_default_prompt(self) -> SuiteSpec:
        if "default" not in self.prompts:
            raise ValueError(f"prompts: a profile named 'default' is required (got: {sorted(self.prompts)})")
        return self

    @property
    def directory(self) -> Path:
        """The folder holding the suite file; relative data paths start here."""
        return self.path.parent

    def prompt_for(self, model_name: str, profile: str | None) -> tuple[str, PromptSpec]:
        """The (profile name, prompt) a model uses in this suite."""
        if profile is not None:
            if profile not in self.prompts:
                raise ConfigError(f"{self.path}: model '{model_name}' asks for prompt profile '{profile}', "
                                  f"which the suite does not define (profiles: {', '.join(sorted(self.prompts))})")
            return profile, self.prompts[profile]
        if model_name in self.prompts:
            return model_name, self.prompts[model_name]
        return "default", self.prompts["default"]


def benchmark_dirs() -> list[Path]:
    """Folders searched for suites by name, first match wins: $EVALKIT_BENCHMARKS, ./benchmarks, then the
    suites bundled with the package (evalkit.resources)."""
    return search_dirs("EVALKIT_BENCHMARKS", "benchmarks")


HUB_VARIANT_FILE = "hub.yaml"
"""A suite folder's variant on the full public data set from the Hugging Face hub, listed as `<folder>-hub`."""


def available_suites() -> dict[str, Path]:
    """Suite name -> suite file, over all benchmark folders (earlier folders win): each `NAME/suite.yaml`, and
    each `NAME/hub.yaml` as `NAME-hub` (the same suite on the hub's full data set)."""
    found: dict[str, Path] = {}
    for d in benchmark_dirs():
        for f in sorted([*d.glob(f"*/{SUITE_FILE}"), *d.glob(f"*/{HUB_VARIANT_FILE}")]):
            found.setdefault(f.parent.name if f.name == SUITE_FILE else f"{f.parent.name}-hub", f)
    return dict(sorted(found.items()))


def resolve_suite_path(name_or_path: str) -> Path:
    """A suite file path from a suite name or a path to a suite file or folder."""
    p = Path(name_or_path)
    if p.is_file():
        return p.resolve()
    if p.is_dir() and (p / SUITE_FILE).is_file():
        return (p / SUITE_FILE).resolve()
    suites = available_suites()
    if name_or_path in suites:
        return suites[name_or_path]
    raise unknown_name("suite", name_or_path, suites, hint="(It is not a suite file or folder either.)")


def load_suite(name_or_path: str) -> SuiteSpec:
    """Read and validate a suite file; errors name the file and the field."""
    path = resolve_suite_path(name_or_path)
    raw = read_yaml_mapping(path, "a suite file")
    raw.setdefault("name", path.parent.name)
    try:
        return SuiteSpec(**raw, path=path)
    except ValidationError as exc:
        raise validation_error(exc, where=str(path), model=SuiteSpec) from None
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
