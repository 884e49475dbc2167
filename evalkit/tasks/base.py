"""The task extension point: load nothing, prompt nothing; only score outputs and summarise scores.

The runner owns data loading (evalkit.loaders) and prompt rendering (evalkit.prompts); a task says how one
sample's outputs are scored and how all scores become metrics and paired comparisons.

A task is a subclass of `Task`: it implements `score` and `summarize` and overrides the declared abilities
that differ from their defaults. The runner reads them unconditionally; nothing is discovered with `getattr`.

| ability | default | meaning |
|---|---|---|
| `needs_judge` | False | the runner passes a judge model in ScoringContext.judge |
| `uses_attempts` | False | `score` receives every attempt (a tuple per model), not attempt 0 only |
| `run_policy` | RunPolicy() | what the task asks of the runner: cache, streaming, concurrency, warm-up calls |
| `prompt_vars(sample)` | {} | extra variables for the prompt templates |
| `check_samples(samples, where)` | no-op | DataError before any call for a sample the task cannot score |
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalkit.records import Sample, SampleResult, TaskSummary

if TYPE_CHECKING:
    from evalkit.model import Model

__all__ = ["RunPolicy", "ScoringContext", "SummaryContext", "Task", "check_results"]


@dataclass(frozen=True)
class RunPolicy:
    """What a task may ask of the runner (e.g. the latency task). The defaults change nothing.

    Command-line choices still win where they overlap (`--concurrency`).
    """

    use_cache: bool = True
    """False: the task's calls never read or write the response cache (a cached answer has no real timing)."""
    stream: bool = False
    """Stream answers where the provider can, so the wrapper records time to first token."""
    concurrency: int | None = None
    """Calls in flight per model, unless `--concurrency` is given."""
    sequential_models: bool = False
    """Call one model after the other instead of all at once (models do not compete for the machine)."""
    warmup_requests: int = 0
    """Untimed calls per model (the first prompt) before the measured ones; not stored."""


@dataclass(frozen=True)
class ScoringContext:
    """What a task may use while scoring: the seed, and (for judge tasks) the judge model."""

    seed: int = 0
    judge: Model | None = None
    """The model serving the judge, when the task declares `needs_judge` and a judge is configured."""
    reference: str | None = None
    """The reference model's name (pairwise tasks judge each other model against it)."""


@dataclass(frozen=True)
class SummaryContext:
    """What a task needs to summarise: model order, the reference model and the bootstrap settings."""

    models: tuple[str, ...]
    reference: str
    seed: int = 0
    n_bootstrap: int = 2000
    confidence: float = 0.95


class Task(ABC):
    """Scores model outputs for one kind of evaluation (classification, pairwise judging, ...)."""

    name: str = ""
    """The task's registry name, shown in reports."""
    needs_judge: bool = False
    """True: the runner passes the judge (an evalkit.model.Model) in ScoringContext.judge."""
    uses_attempts: bool = False
    """True: `score` receives every attempt, a tuple of Generations per model in attempt order; else one
    Generation per model (attempt 0)."""

    @property
    def run_policy(self) -> RunPolicy:
        """What this task asks of the runner; the default policy changes nothing."""
        return RunPolicy()

    def prompt_vars(self, sample: Sample) -> Mapping[str, Any]:
        """Variables available to this task's prompt templates for `sample` (besides `input` and fields)."""
        return {}

    def check_samples(self, samples: Sequence[Sample], where: str) -> None:
        """Raise evalkit.errors.DataError naming `where` (the data) and the sample at fault, before any call.

        The runner calls it after loading the data and before creating the run directory, so a data error
        costs no model call and leaves no half-written run. The default accepts every sample.
        """

    @abstractmethod
    async def score(self, sample: Sample, generations: Mapping[str, Any], ctx: ScoringContext) -> SampleResult:
        """Score every model's generation of one sample (keyed by model name; a tuple of Generations per model
        when `uses_attempts`)."""

    @abstractmethod
    def summarize(self, samples: Sequence[Sample], results: Sequence[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Metrics per model and paired comparisons against the reference model."""


def check_results(samples: Sequence[Sample], results: Sequence[SampleResult], ctx: SummaryContext) -> None:
    """ValueError unless the reference is a model, every result is of a known sample, and none repeats."""
    if ctx.reference not in ctx.models:
        raise ValueError(f"reference must be among {list(ctx.models)}. Got {ctx.reference!r} instead.")
    known = {s.id for s in samples}
    unknown = [r.sample_id for r in results if r.sample_id not in known]
    if unknown:
        raise ValueError(f"results for samples that are not in `samples`: {unknown[:5]}")
    seen: set[str] = set()
    repeated = [r.sample_id for r in results if r.sample_id in seen or seen.add(r.sample_id)]
    if repeated:
        # Pairing is by sample id, so one result per sample (tasks see all attempts inside one result).
        raise ValueError(f"results must hold one result per sample. Got repeats of {sorted(set(repeated))[:5]}")
