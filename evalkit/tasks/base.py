"""The task extension point: load nothing, prompt nothing; only score outputs and summarise scores.

The runner owns data loading (evalkit.loaders) and prompt rendering (evalkit.prompts); a task says how one
sample's outputs are scored and how all scores become metrics and paired comparisons.

Streaming contract (a run may have a million items, and none of them is held in memory):

- `score(sample, generations, ctx)` is called once per item while the run streams, as soon as every model's
  attempts at it are done; its SampleResult is stored and dropped.
- `summarize(samples, results, ctx)` gets two re-iterable, sized collections (evalkit.records.Records: each
  `iter()` is a new pass, read from the run directory line by line), aligned: result i is sample i's. Read
  them in one pass with `scored_items(samples, results, ctx)`, which checks the alignment as it goes, and
  keep compact columns (numpy arrays of label codes, correctness, scores) rather than the records. More passes are allowed (each re-reads the files); a dict of every sample holds
  the whole run in memory, which only tasks meant for small runs (judge tasks) may do. Lists work too: tests
  and tools (gating, history) pass them.

A task is a subclass of `Task`: it implements `score` and `summarize` and overrides the declared abilities
that differ from their defaults. The runner reads them unconditionally; nothing is discovered with `getattr`.

| ability | default | meaning |
|---|---|---|
| `needs_judge` | False | the runner passes a judge model in ScoringContext.judge |
| `judge_need` | None | `required` / `optional` / `none`: how the runner resolves the judge model (None: from `needs_judge`) |
| `item_metrics` | () | per-item metrics with known bounds (`ItemMetric`), for decisions item by item (`--until-decided`) |
| `uses_attempts` | False | `score` receives every attempt (a tuple per model), not attempt 0 only |
| `run_policy` | RunPolicy() | what the task asks of the runner: cache, streaming, concurrency, warm-up calls |
| `prompt_vars(sample)` | {} | extra variables for the prompt templates |
| `check_samples(samples, where)` | no-op | DataError before any call for a sample the task cannot score |
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from evalkit.records import Sample, SampleResult, TaskSummary

if TYPE_CHECKING:
    from evalkit.model import Model

__all__ = ["ItemMetric", "JudgeNeed", "RunPolicy", "ScoringContext", "SummaryContext", "Task", "check_results",
           "scored_items"]

JudgeNeed = Literal["none", "optional", "required"]
"""Whether a task needs a judge model: `required` (nothing to score without one; the embedded model is the
offline fallback), `optional` (the task scores without one, e.g. with a check judge: a judge model is given
only when one is named or MISTRAL_API_KEY is set), `none`."""


@dataclass(frozen=True)
class ItemMetric:
    """A metric the task reports as the mean of a bounded per-item value, so it can be decided item by item.

    The per-item value of metric `name` is ModelScore.value, or ModelScore.details[detail] when `detail` is
    given, and lies in [low, high] (a failed or unscored item has None there and is left out).
    """

    name: str
    low: float
    high: float
    detail: str | None = None


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
    judge_need: JudgeNeed | None = None
    """How the runner resolves the judge model (see JudgeNeed); None: `required` when `needs_judge`, else
    `none`."""
    item_metrics: tuple[ItemMetric, ...] = ()
    """The metrics whose value is a mean of a bounded per-item value (see ItemMetric)."""

    @property
    def judge_requirement(self) -> JudgeNeed:
        """`judge_need`, or what `needs_judge` implies when the task does not say."""
        if self.judge_need is not None:
            return self.judge_need
        return "required" if self.needs_judge else "none"

    @property
    def run_policy(self) -> RunPolicy:
        """What this task asks of the runner; the default policy changes nothing."""
        return RunPolicy()

    def prompt_vars(self, sample: Sample) -> Mapping[str, Any]:
        """Variables available to this task's prompt templates for `sample` (besides `input` and fields)."""
        return {}

    def check_samples(self, samples: Iterable[Sample], where: str) -> None:
        """Raise evalkit.errors.DataError naming `where` (the data) and the sample at fault, before any call.

        The runner calls it after loading the data and before creating the run directory, so a data error
        costs no model call and leaves no half-written run. `samples` is re-iterable (read from a file, one
        sample at a time): check them in a pass, without keeping them. The default accepts every sample.
        """

    @abstractmethod
    async def score(self, sample: Sample, generations: Mapping[str, Any], ctx: ScoringContext) -> SampleResult:
        """Score every model's generation of one sample (keyed by model name; a tuple of Generations per model
        when `uses_attempts`)."""

    @abstractmethod
    def summarize(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Metrics per model and paired comparisons against the reference model.

        `samples` and `results` are aligned, re-iterable and sized (see the module docstring): read them with
        `scored_items`, in as few passes as the task can.
        """


def scored_items(samples: Iterable[Sample], results: Iterable[SampleResult],
                 ctx: SummaryContext) -> Iterator[tuple[Sample, SampleResult]]:
    """(sample, result) pairs in one pass over both, checking on the way that result i is sample i's.

    ValueError unless the reference is a model, and on the first result that is not its sample's (a result of
    an unknown sample, a repeated result, or one result too many or too few). Nothing of earlier items is
    kept, so this is the way a task reads a million-item run.
    """
    if ctx.reference not in ctx.models:
        raise ValueError(f"reference must be among {list(ctx.models)}. Got {ctx.reference!r} instead.")
    result_iter = iter(results)
    for i, sample in enumerate(samples):
        result = next(result_iter, None)
        if result is None:
            raise ValueError(f"results must hold one result per sample, in the order of `samples`. Got {i} "
                             f"result(s); sample {i + 1} ({sample.id!r}) has none")
        if result.sample_id != sample.id:
            raise _misaligned(samples, result, i, sample.id)
        yield sample, result
    extra = next(result_iter, None)
    if extra is not None:
        raise _misaligned(samples, extra, None, None)


def _misaligned(samples: Iterable[Sample], result: SampleResult, i: int | None, expected: str | None) -> ValueError:
    # The error path may read the samples again: it runs once, to say precisely what is wrong.
    known = any(s.id == result.sample_id for s in samples)
    if not known:
        return ValueError(f"results for samples that are not in `samples`: {[result.sample_id]}")
    if expected is None:
        return ValueError(f"results must hold one result per sample. Got repeats of {[result.sample_id]}")
    return ValueError(f"results must be in the order of `samples`: result {i + 1} is for {result.sample_id!r}, "
                      f"sample {i + 1} is {expected!r}")


def check_results(samples: Iterable[Sample], results: Iterable[SampleResult], ctx: SummaryContext) -> None:
    """ValueError unless the reference is a model and results are aligned with samples (see scored_items)."""
    for _ in scored_items(samples, results, ctx):
        pass
