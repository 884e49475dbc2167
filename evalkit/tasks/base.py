"""The task extension point: load nothing, prompt nothing; only score outputs and summarise scores.

The runner owns data loading (evalkit.loaders) and prompt rendering (evalkit.prompts); a task says how one
sample's outputs are scored and how all scores become metrics and paired comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from evalkit.records import Generation, Sample, SampleResult, TaskSummary


@dataclass(frozen=True)
class ScoringContext:
    """What a task may use while scoring: the seed, and (for judge tasks) the judge model."""

    seed: int = 0
    judge: Any | None = None
    """An evalkit.model.Model serving the judge, when the suite configures one."""
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


class SampleChecker(Protocol):
    """Optional: a task that can reject bad samples (e.g. a target that is not a label) before any call.

    The runner calls `check_samples` after loading the data and before creating the run directory, so a
    data error costs no model call and leaves no half-written run; `where` names the data file.
    """

    def check_samples(self, samples: Sequence[Sample], where: str) -> None:
        """Raise evalkit.errors.DataError naming `where` and the sample at fault."""
        ...


@runtime_checkable
class Task(Protocol):
    """Scores model outputs for one kind of evaluation (classification, pairwise judging, ...).

    A task that calls a judge model sets a class attribute `needs_judge = True`; the runner then passes the
    judge (an evalkit.model.Model) in ScoringContext.judge.
    """

    name: str

    def prompt_vars(self, sample: Sample) -> Mapping[str, Any]:
        """Variables available to this task's prompt templates for `sample` (besides `input` and fields)."""
        ...

    async def score(self, sample: Sample, generations: Mapping[str, Generation],
                    ctx: ScoringContext) -> SampleResult:
        """Score every model's generation of one sample (keyed by model name)."""
        ...

    def summarize(self, samples: Sequence[Sample], results: Sequence[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Metrics per model and paired comparisons against the reference model."""
        ...


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
