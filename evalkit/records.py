"""Typed records that flow between evalkit's stages.

suite file -> Sample -> Request -> Generation (per model) -> SampleResult -> TaskSummary -> report.
Every arrow is one of these frozen pydantic models, so each stage can be stored as JSON and read back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Record(BaseModel):
    """Base for all records: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------------------------------------------------
# Inputs


class Sample(Record):
    """One item of a data set: what every model is asked, and what it should answer."""

    id: str
    """Stable identifier, unique within a suite."""
    input: str
    """The main text given to the model (a query, a question, a source text)."""
    target: str | None = None
    """The expected answer or reference, where the task has one."""
    fields: dict[str, Any] = Field(default_factory=dict)
    """Any further columns of the data (context passages, options, ...), usable in prompt templates."""


class Message(Record):
    """One chat message."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str


class Prompt(Record):
    """What is sent to a model: chat messages, or a raw text for completion-style (base) models."""

    messages: tuple[Message, ...] = ()
    text: str | None = None

    @property
    def is_chat(self) -> bool:
        """True when the prompt is a list of chat messages rather than raw completion text."""
        return self.text is None

    def render(self) -> str:
        """A plain-text view of the prompt, for reports and token estimates."""
        if self.text is not None:
            return self.text
        return "\n\n".join(f"[{m.role}]\n{m.content}" for m in self.messages)


class GenerationParams(Record):
    """Sampling parameters; part of the cache key."""

    temperature: float = 0.0
    max_tokens: int = 256
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    json_schema: dict[str, Any] | None = None
    """When set, ask the provider for JSON output that matches this schema (where supported)."""


class Request(Record):
    """One model call: a prompt with its parameters."""

    prompt: Prompt
    params: GenerationParams = GenerationParams()
    sample_id: str = ""
    """The sample this call is for (used by the `replay` provider; not part of the cache key)."""
    attempt: int = 0
    """Repeated attempts at the same item (sampling) get distinct cache keys through this."""


# ---------------------------------------------------------------------------------------------------------
# Outputs of a provider


class Usage(Record):
    """Token counts as reported by the provider (None when it does not say)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ProviderResponse(Record):
    """What a provider returns for one successful call."""

    text: str
    usage: Usage = Usage()
    finish_reason: str | None = None


class Generation(Record):
    """One model's answer to one sample, with everything measured about the call."""

    sample_id: str
    model: str
    """The model's name in `--models` (e.g. `base`, `ft`)."""
    model_id: str
    """The provider's model identifier (e.g. `mistral-small-latest`, `ft:...`, a GGUF path)."""
    attempt: int = 0
    prompt: Prompt
    output: str | None = None
    error: str | None = None
    """Why the call failed for good; `output` is None then."""
    latency_s: float | None = None
    """Wall time of the successful call (of the original call when served from the cache)."""
    usage: Usage = Usage()
    cost_usd: float | None = None
    """None when the model has no price in the price table: unknown, never zero."""
    cached: bool = False
    retries: int = 0
    ttft_s: float | None = None
    """Time to first token of a streamed call; None when the call was not streamed or came from the cache
    (a cached response has no first token to time)."""

    @property
    def ok(self) -> bool:
        """True when the call produced an output."""
        return self.error is None and self.output is not None


# ---------------------------------------------------------------------------------------------------------
# Scoring


class ModelScore(Record):
    """How one model's output on one sample was scored."""

    value: float | None = None
    """The per-sample score (1/0 for correctness, a judge score, ...); None when unscorable."""
    label: str | None = None
    """The parsed answer (a class label, an option letter), or `invalid` when nothing matched."""
    correct: bool | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Judgment(Record):
    """One judge-model call, stored verbatim so a report can show how every verdict was reached."""

    judge_id: str
    judge_version: str
    template_sha256: str
    judge_model: str
    prompt: str
    raw_response: str | None
    parsed: dict[str, Any] | None
    error: str | None = None
    latency_s: float | None = None
    usage: Usage = Usage()
    cost_usd: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class SampleResult(Record):
    """The scores of every model on one sample, plus any judge calls made to get them."""

    sample_id: str
    scores: dict[str, ModelScore]
    """Keyed by model name."""
    judgments: tuple[Judgment, ...] = ()


# ---------------------------------------------------------------------------------------------------------
# Metrics and comparisons


class MetricValue(Record):
    """One metric of one model, with its confidence interval where one is computed."""

    name: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    higher_is_better: bool | None = True
    """None: no preferred direction (item counts, bias measures whose ideal is a midpoint)."""
    unit: str = ""


class Comparison(Record):
    """A paired comparison of one metric between a model and the reference model, on the same items."""

    metric: str
    model: str
    reference: str
    delta: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    test: str = ""
    """Name of the test that gave the p-value (e.g. `mcnemar-exact`, `paired-bootstrap`)."""
    n: int = 0
    note: str = ""
    """E.g. `too few items` when a test could not be run meaningfully."""

    @property
    def significant(self) -> bool:
        """True when the CI of the delta excludes zero (or, lacking a CI, p < 0.05)."""
        if self.ci_low is not None and self.ci_high is not None:
            return self.ci_low > 0 or self.ci_high < 0
        return self.p_value is not None and self.p_value < 0.05


class Table(Record):
    """A small table a task wants shown in the report (e.g. a per-class report)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


class ConfusionMatrix(Record):
    """A confusion matrix of one model: rows are true labels, columns predicted ones."""

    model: str
    labels: tuple[str, ...]
    """Row labels (true classes)."""
    predicted_labels: tuple[str, ...]
    """Column labels (the classes plus `invalid` where outputs matched no class)."""
    counts: tuple[tuple[int, ...], ...]


class TaskSummary(Record):
    """What a task computes from all sample results: metrics per model and paired comparisons."""

    task: str
    metrics: dict[str, tuple[MetricValue, ...]]
    """Keyed by model name, in the order of `--models`."""
    comparisons: tuple[Comparison, ...] = ()
    tables: tuple[Table, ...] = ()
    confusion_matrices: tuple[ConfusionMatrix, ...] = ()
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------------------
# A whole run, as stored and as rendered


class PromptTemplate(Record):
    """A prompt profile of a suite, verbatim, and which models used it."""

    profile: str
    style: Literal["chat", "completion"]
    system: str | None = None
    template: str
    models: tuple[str, ...] = ()


class RunInfo(Record):
    """Facts about a run: what ran, with which models and settings (never any secret)."""

    schema_version: str = "1"
    run_id: str
    suite: str
    suite_path: str
    task: str
    description: str = ""
    models: tuple[dict[str, Any], ...]
    """Public ModelSpec dicts, in `--models` order."""
    reference: str
    seed: int
    limit: int | None = None
    started_at: str
    finished_at: str | None = None
    status: Literal["running", "complete", "interrupted", "failed"] = "running"
    evalkit_version: str
    prompts: tuple[PromptTemplate, ...] = ()
    generation_params: dict[str, Any] = Field(default_factory=dict)
    judge: dict[str, Any] | None = None
    """Public ModelSpec dict of the judge model, for tasks that use one."""
    offline_judge: bool = False
    """True when the judge is the embedded local model: a pipeline demonstration, not a verdict."""


class TrainingCheckpoint(Record):
    """Metrics of a fine-tuning job at one checkpoint (None where the provider reported none)."""

    step: int
    train_loss: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None
    created_at: int | None = None
    """UNIX time (seconds) the checkpoint was written."""


class TrainingCurve(Record):
    """A fine-tuning job's checkpoints, as fetched by `evalkit finetune-metrics`."""

    job_id: str
    provider: str = "mistral"
    base_model: str | None = None
    fine_tuned_model: str | None = None
    status: str | None = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    checkpoints: tuple[TrainingCheckpoint, ...] = ()
    """In step order."""
    fetched_at: str | None = None


R = TypeVar("R")


class Records(ABC, Generic[R]):
    """A re-iterable, sized collection of records: every `iter()` is a new pass, in the same order.

    A run's per-item records are read this way (evalkit.store.RecordFile reads them from the run directory one
    line at a time), so a million-item run is never held in memory; code that needs them iterates, and keeps
    only compact columns of what it needs. A tuple or list of records serves wherever these are read.
    """

    @abstractmethod
    def __iter__(self) -> Iterator[R]:
        """A new pass over the records."""

    @abstractmethod
    def __len__(self) -> int:
        """How many records a pass yields."""


class MappedRecords(Records[R]):
    """`fn` applied to each record of a re-iterable collection, lazily, on every pass."""

    def __init__(self, source: Iterable[Any], fn: Any) -> None:
        self.source = source
        self.fn = fn

    def __iter__(self) -> Iterator[R]:
        fn = self.fn
        for record in self.source:
            yield fn(record)

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]


def as_records(value: Any) -> Records[Any] | tuple[Any, ...]:
    """`value` as RunResult holds it: Records as they are, any other iterable as a tuple."""
    if isinstance(value, (Records, tuple)):
        return value
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes, dict)):
        return tuple(value)
    raise TypeError(f"expected records (a Records collection, tuple or list), got {type(value).__name__}")


class RunResult(BaseModel):
    """Everything a report needs: the run's facts and summary, and its per-item records to read in passes.

    `samples`, `generations` and `results` are re-iterable collections: tuples when a caller builds a run in
    memory, evalkit.store.RecordFile views when read from a run directory (RunStore.read_run), which read the
    files again on every pass. `samples` and `results` are aligned: result i is sample i's (results.jsonl is
    written in sample order), and `samples` holds only the items the summary covers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    info: RunInfo
    samples: Any
    """The samples the summary covers, in run order (Records[Sample] or a tuple)."""
    generations: Any
    """Every stored call of the compared models (Records[Generation] or a tuple), in the order they finished."""
    results: Any
    """One SampleResult per sample, in the order of `samples` (Records[SampleResult] or a tuple)."""
    summary: TaskSummary
    training: dict[str, TrainingCurve] = Field(default_factory=dict)
    """Training curves of the models whose metadata names a fine-tuning `job_id`, keyed by model name."""
    sequential: Any = None
    """An `evalkit.sequential.SequentialResult` when the run stopped by a stop rule that reports one
    (`--until-decided`; stored as sequential.json), else None. Typed loosely here because that record is built
    on these ones."""

    @field_validator("samples", "generations", "results", mode="before")
    @classmethod
    def _records(cls, value: Any) -> Any:
        return as_records(value)
