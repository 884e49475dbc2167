"""Run a suite: samples -> generations (per model) -> scores -> metrics -> report, as a stream.

Nothing holds the whole run. Samples are read once from the data source into the run's samples.jsonl (checked on
the way, before any call), then drawn from that file as a stream with a bounded window of items in flight
(WINDOW_PER_CALL x the calls the models may have in flight, GenerationExecutor.in_flight). Per item: its prompt is rendered for each model, every
model's attempts are looked up in the cache and the misses made through the GenerationExecutor (each Model
bounds its own concurrency), each Generation is appended to generations.jsonl as it completes, then the task
scores the item (judge calls included) and its SampleResult is appended to results.jsonl, in sample order (the
window is also the reorder buffer), and the item is dropped. Statistics and the report then read the stored
records in passes (evalkit.store.RecordFile), keeping compact columns only.

Modes:
- `RunPolicy.sequential_models` (the latency task): one model after the other over the items, then scoring in
  a pass over the stored generations (evalkit.run_items.GenerationIndex finds each item's calls).
- `--batch`: before the stream, each batch-capable model's uncached requests (rendered by streaming over the
  samples) go to one batch job, whose answers land in the cache; the stream then serves them from the cache,
  counted as fresh answers, not cache hits.
- Interrupt or crash: what finished stays in generations.jsonl (flushed as each call completes) and in the
  cache, so the same command resumes.

Seams for other issues (documented in docs/architecture.md):
- `RunOptions.schedule` (evalkit.schedule.ItemSchedule): the items drawn, their order, batches of N and a
  StopRule asked after each stored batch (`--until-decided`, issue 16). Default: every item, never stop.
- `RunOptions.executor` (evalkit.execution.GenerationExecutor): where the calls that missed the cache are made
  (issue 15, Ray), judge calls included. Default: in this process.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import jinja2.meta
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from evalkit.cache import ResponseCache
from evalkit.config import (
    ProjectConfig,
    data_overrides,
    judge_name,
    resolve_model,
    resolve_models,
)
from evalkit.errors import ConfigError, DataError, ProviderError
from evalkit.execution import GenerationExecutor, InProcessExecutor
from evalkit.finetune_metrics import attach_training
from evalkit.loaders import iter_data
from evalkit.model import Model
from evalkit.model_pool import ModelPool, build_models
from evalkit.model_spec import ModelSpec
from evalkit.operational import operational_metrics
from evalkit.prompts import render_prompt
from evalkit.records import (
    Comparison,
    Generation,
    GenerationParams,
    MetricValue,
    Prompt,
    PromptTemplate,
    Request,
    RunInfo,
    RunResult,
    Sample,
    SampleResult,
    TaskSummary,
)
from evalkit.report import write_report
from evalkit.retry import RetryPolicy
from evalkit.run_items import GenerationIndex
from evalkit.schedule import ItemSchedule
from evalkit.sources.hub import apply_overrides
from evalkit.store import (
    GENERATIONS_FILE,
    RESULTS_FILE,
    SAMPLES_FILE,
    SEQUENTIAL_FILE,
    SUITE_FILE,
    SUMMARY_FILE,
    RecordFile,
    RunStore,
    new_run_dir,
)
from evalkit.suite import PromptSpec, SuiteSpec
from evalkit.tasks import RunPolicy, ScoringContext, SummaryContext, Task, create_task
from evalkit.version import __version__

DATA_WARNINGS_FILE = "data_warnings.json"
"""Every data warning of a run (e.g. chat-format lines skipped by validation), as a JSON list of strings."""

WINDOW_PER_CALL = 4
"""Items in flight per call the models may have in flight together: enough that a slow item (retries) does not
idle the others, few enough that the reorder buffer stays small."""
MIN_WINDOW = 32

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class RunOptions:
    """Command-line choices for one run, and the two seams other drivers plug into."""

    models: tuple[str, ...]
    limit: int | None = None
    concurrency: int | None = None
    """Overrides every model's configured concurrency."""
    out_dir: Path = Path("reports")
    use_cache: bool = True
    cache_dir: Path | None = None
    seed: int = 0
    reference: str | None = None
    attempts: int | None = None
    """Attempts per item (`--attempts`); None: the suite's `attempts` (default 1)."""
    judge: str | None = None
    """Judge model name (`--judge`) for tasks that need one."""
    batch: bool = False
    """`--batch`: answer the models whose provider has a batch API through it (evalkit.providers.batch)."""
    show_progress: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    schedule: ItemSchedule = field(default_factory=ItemSchedule)
    """Which items are drawn, in which order and batches, and when to stop (default: all, never stop)."""
    executor: GenerationExecutor | None = None
    """Where calls that missed the cache are made; None: in this process (InProcessExecutor)."""


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run returns to its caller."""

    run_dir: Path
    result: RunResult
    """The run, its records read from the run directory in passes."""
    calls: dict[str, int]
    """Requests sent to each model's provider (0 for a run served entirely from the cache)."""
    cache_hits: dict[str, int]
    failed: dict[str, int] = field(default_factory=dict)
    """Generations per model that failed after their retries."""

    def metric(self, model: str, name: str) -> MetricValue:
        """The metric `name` of `model` (KeyError naming the known ones when there is none)."""
        for mv in self.result.summary.metrics.get(model, ()):
            if mv.name == name:
                return mv
        known = sorted({mv.name for mvs in self.result.summary.metrics.values() for mv in mvs})
        raise KeyError(f"no metric {name!r} for model {model!r}; models: {list(self.result.summary.metrics)}, "
                       f"metrics: {known}")

    def comparison(self, model: str, metric: str) -> Comparison:
        """The paired comparison of `model` against the reference on `metric` (KeyError when there is none)."""
        for c in self.result.summary.comparisons:
            if c.model == model and c.metric == metric:
                return c
        raise KeyError(f"no comparison of {metric!r} for model {model!r} against {self.result.info.reference!r}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def bounded_map(fn: Callable[[T], Awaitable[U]], items: Iterable[T], concurrency: int) -> list[U]:
    """Apply an async fn to items with at most `concurrency` in flight; results in input order."""
    return [u async for u in ordered_stream(fn, items, concurrency)]


async def ordered_stream(fn: Callable[[T], Awaitable[U]], items: Iterable[T], window: int) -> AsyncIterator[U]:
    """`fn(item)` for each item with at most `window` running, yielded in input order as soon as possible.

    The window is the reorder buffer: item i is yielded once it and every item before it are done, so at most
    `window` items (done or running) are ever held. A failure cancels the items in flight and propagates.
    """
    pending: deque[asyncio.Future[U]] = deque()
    try:
        for item in items:
            if len(pending) >= window:
                yield await pending.popleft()
            pending.append(asyncio.ensure_future(fn(item)))
        while pending:
            yield await pending.popleft()
    finally:
        for fut in pending:
            fut.cancel()


MESSAGES_TEMPLATE = "(each sample's own chat messages, up to the held-out last assistant message)"
"""How a `messages`-style profile reads in a report, where a template would be."""

MAX_DATA_NOTES = 20
"""Data warnings (skipped lines) shown in the report notes; all of them are in data_warnings.json."""


def prompt_templates(suite: SuiteSpec, specs: Sequence[ModelSpec]) -> tuple[PromptTemplate, ...]:
    """The prompt profiles the models use, verbatim, each with the models that use it (for the report)."""
    used: dict[str, list[str]] = {}
    for spec in specs:
        profile, _ = suite.prompt_for(spec.name, spec.prompt)
        used.setdefault(profile, []).append(spec.name)
    # Style `messages` sends each sample's own chat history: shown as a chat profile with that said in words.
    return tuple(PromptTemplate(profile=p, style="chat" if suite.prompts[p].style == "messages" else
                                suite.prompts[p].style, system=suite.prompts[p].system,
                                template=suite.prompts[p].template or MESSAGES_TEMPLATE, models=tuple(m))
                 for p, m in used.items())


class PromptRenderer:
    """Each model's prompt for one sample, rendered once per prompt profile (models may share one)."""

    def __init__(self, suite: SuiteSpec, task: Task, specs: Sequence[ModelSpec]) -> None:
        self.task = task
        self.profiles: dict[str, tuple[PromptSpec, str]] = {}
        self.profile_of: dict[str, str] = {}
        for spec in specs:
            profile, prompt_spec = suite.prompt_for(spec.name, spec.prompt)
            self.profile_of[spec.name] = profile
            self.profiles[profile] = (prompt_spec, f"{suite.path}: prompts.{profile}")
        self._needed: frozenset[str] | None = None
        self._task_vars: frozenset[str] = frozenset()

    def render(self, sample: Sample) -> dict[str, Prompt]:
        """Model name -> its prompt for `sample`."""
        task_vars = self.task.prompt_vars(sample)
        rendered = {p: render_prompt(spec, sample, task_vars, where=where) for p, (spec, where) in self.profiles.items()}
        return {m: rendered[p] for m, p in self.profile_of.items()}

    def check(self, sample: Sample) -> None:
        """ConfigError (as rendering would raise it) when a template cannot be rendered for `sample`, without
        rendering every sample: the first one is rendered, the others checked for the variables the templates
        use (a sample lacking a field a template names is rendered, so the error is the renderer's own)."""
        if self._needed is None:
            self.render(sample)
            env = jinja2.Environment()
            needed: set[str] = set()
            for spec, _ in self.profiles.values():
                for source in (spec.template, spec.system):
                    if source:
                        needed |= jinja2.meta.find_undeclared_variables(env.parse(source))
            self._needed = frozenset(needed)
            self._task_vars = frozenset(self.task.prompt_vars(sample))
            return
        if not self._needed <= (sample.fields.keys() | self._task_vars | {"id", "input"}):
            self.render(sample)


def build_prompts(suite: SuiteSpec, task: Task, specs: Sequence[ModelSpec],
                  samples: Sequence[Sample]) -> tuple[dict[str, list[Prompt]], tuple[PromptTemplate, ...]]:
    """Each model's prompt for each sample, and the prompt profiles used (for small, in-memory uses)."""
    renderer = PromptRenderer(suite, task, specs)
    prompts: dict[str, list[Prompt]] = {s.name: [] for s in specs}
    for sample in samples:
        for name, prompt in renderer.render(sample).items():
            prompts[name].append(prompt)
    return prompts, prompt_templates(suite, specs)


def attempt_params(params: GenerationParams, attempt: int, sample_id: str = "", *,
                   sampled: bool = False) -> GenerationParams:
    """The parameters of one attempt at one item.

    Repeated (sampled) attempts each get their own seed, derived from the run seed, the item and the attempt:
    with one seed for all, seeded backends would repeat attempt 0, and with one seed per attempt every item would
    draw the same random numbers, so an attempt's answers would move together (e.g. all `D` in attempt 1).
    """
    if not sampled or params.seed is None:
        return params
    digest = hashlib.sha256(f"{params.seed}:{sample_id}:{attempt}".encode()).digest()
    return params.model_copy(update={"seed": int.from_bytes(digest[:4], "big") % 2**31})


def merge_summaries(task_summary: TaskSummary, generations: Iterable[Generation], models: Sequence[str],
                    reference: str, seed: int) -> TaskSummary:
    """Add latency, token and cost metrics (common to every task) to the task's own summary."""
    ops_metrics, ops_comparisons = operational_metrics(generations, models, reference, seed=seed)
    # A task's own metric of the same name (e.g. the latency task's latency_p50_s) wins over the generic one.
    own = {m: {mv.name for mv in task_summary.metrics.get(m, ())} for m in models}
    metrics = {m: tuple(task_summary.metrics.get(m, ())) + tuple(mv for mv in ops_metrics.get(m, ())
                                                                 if mv.name not in own[m]) for m in models}
    return task_summary.model_copy(update={"metrics": metrics,
                                           "comparisons": task_summary.comparisons + tuple(ops_comparisons)})


@dataclass
class _Staged:
    """The run's samples, read once from the data source into a file before the run directory exists."""

    path: Path
    count: int
    warnings: tuple[str, ...]
    where: str


class Runner:
    """Runs one suite with resolved models; owns the run directory while it runs."""

    def __init__(self, suite: SuiteSpec, specs: Sequence[ModelSpec], options: RunOptions,
                 console: Console | None = None, judge: ModelSpec | None = None) -> None:
        self.suite = suite
        self.options = options
        self.console = console or Console(stderr=True)
        if options.concurrency is not None:
            specs = [s.model_copy(update={"concurrency": options.concurrency}) for s in specs]
        self.specs = list(specs)
        names = [s.name for s in self.specs]
        self.reference = options.reference or suite.reference or names[0]
        if self.reference not in names:
            raise ConfigError(f"--reference: '{self.reference}' is not one of the models being run ({', '.join(names)})")
        self.attempts = options.attempts if options.attempts is not None else (suite.attempts or 1)
        if self.attempts < 1:
            raise ConfigError(f"--attempts must be >= 1, got {self.attempts}")
        if options.batch and not options.use_cache:
            raise ConfigError("--batch needs the response cache (batch answers reach the run through it): drop "
                              "--no-cache")
        self.batch_notes: list[str] = []
        if options.limit is not None and options.limit < 1:
            raise ConfigError(f"--limit must be >= 1, got {options.limit}")
        self.task = create_task(suite.task, suite.task_args, suite.path)
        self.policy: RunPolicy = self.task.run_policy
        if options.concurrency is None and self.policy.concurrency is not None:
            self.specs = [s.model_copy(update={"concurrency": self.policy.concurrency}) for s in self.specs]
        self.judge_spec: ModelSpec | None = None
        self.set_judge(judge)
        self.executor: GenerationExecutor = options.executor or InProcessExecutor()
        self.renderer = PromptRenderer(suite, self.task, self.specs)
        self.store: RunStore | None = None
        self.info: RunInfo | None = None
        self._fresh: dict[str, set[str]] = {}
        self._failed: dict[str, int] = {}
        self._warmed: set[str] = set()
        self._first: Sample | None = None
        self._progress: Progress | None = None
        self._made_out_dir = False
        self._bars: dict[str, Any] = {}

    def set_judge(self, judge: ModelSpec | None) -> None:
        """The judge model the task's judge calls use (ignored for a task whose judge_requirement is `none`)."""
        self.judge_spec = judge if self.task.judge_requirement != "none" else None

    # --- before any call ----------------------------------------------------------------------------------

    def _stage_samples(self) -> _Staged:
        """Read the data once (evalkit.loaders.iter_data: one sample at a time) into a file beside the runs, so
        the run keeps none of it in memory: --limit and the schedule's order applied, templates checked, data
        warnings collected."""
        data = self.suite.data
        where = (str(self.suite.directory / data.path) if data.source in ("jsonl", "csv")
                 else f"{data.source} data set {data.path!r}")
        stream = iter_data(data, self.suite.directory)
        source: Iterator[Sample] = iter(stream)
        if self.options.limit is not None:
            source = islice(source, self.options.limit)
        out_dir = self.options.out_dir
        # The staged file sits in the runs folder, so it moves into the run directory by a rename; a folder made
        # for it goes again if the run never starts (a data error leaves nothing behind).
        self._made_out_dir = not out_dir.exists()
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".samples-", suffix=".jsonl")
        path = Path(tmp)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                count = 0
                for s in source:
                    self.renderer.check(s)  # a template error is one line before any call, with no run left
                    fh.write(s.model_dump_json() + "\n")
                    count += 1
            order = self.options.schedule.order
            if order is not None:
                count = _reorder(path, order, where)
        except BaseException:
            self._unstage(path)
            raise
        return _Staged(path=path, count=count, warnings=stream.warnings, where=where)

    def _unstage(self, path: Path) -> None:
        """Drop a staged samples file (and the runs folder, when it was made for it and holds nothing else)."""
        path.unlink(missing_ok=True)
        if self._made_out_dir:
            try:
                self.options.out_dir.rmdir()
            except OSError:
                pass  # not empty: someone else's runs are there

    def _models(self, cache: ResponseCache | None, sample_ids: Iterable[str]) -> ModelPool:
        """The compared models and the judge (if the task needs one), checked before any call."""
        pool = build_models(self.specs, cache=cache, retry=self.options.retry, seed=self.options.seed,
                            stream=self.policy.stream, judge=self.judge_spec)
        if self.options.batch and not any(m.supports_batch for m in pool.models):
            raise ConfigError(f"--batch: none of the models ({', '.join(m.name for m in pool.models)}) has a "
                              f"provider with a batch API")
        for m in pool.models:
            m.provider.check_sample_ids(sample_ids)
        return pool

    def _params(self) -> GenerationParams:
        params = self.suite.generation
        if params.seed is None:
            params = params.model_copy(update={"seed": self.options.seed})
        if self.attempts > 1 and params.temperature == 0:
            # Sampling is needed for repeated attempts to differ; greedy attempts would all be identical.
            params = params.model_copy(update={"temperature": 0.7})
        return params

    # --- the run -----------------------------------------------------------------------------------------

    async def run(self) -> RunOutcome:
        """Execute the whole pipeline and write the run directory."""
        opts = self.options
        staged = self._stage_samples()
        try:
            for warning in staged.warnings[:MAX_DATA_NOTES]:
                self.console.print(f"[yellow]data:[/yellow] {escape(warning)}")
            if len(staged.warnings) > MAX_DATA_NOTES:
                self.console.print(f"[yellow]data:[/yellow] and {len(staged.warnings) - MAX_DATA_NOTES} more skipped")
            samples = RecordFile(staged.path, Sample)
            self.task.check_samples(samples, staged.where)
            self.params = params = self._params()
            cache = ResponseCache.in_dir(opts.cache_dir) if opts.use_cache and self.policy.use_cache else None
            pool = self._models(cache, (s.id for s in samples))
        except BaseException:
            self._unstage(staged.path)
            raise
        models, judge = pool.models, pool.judge

        run_dir = new_run_dir(opts.out_dir, self.suite.name)
        os.replace(staged.path, run_dir / SAMPLES_FILE)
        self.store = store = RunStore(run_dir)
        self.info = RunInfo(run_id=run_dir.name, suite=self.suite.name, suite_path=str(self.suite.path),
                            task=self.suite.task, description=self.suite.description,
                            models=tuple(s.public_dict() for s in self.specs), reference=self.reference,
                            seed=opts.seed, limit=opts.limit, started_at=_now(), evalkit_version=__version__,
                            prompts=prompt_templates(self.suite, self.specs),
                            generation_params=params.model_dump(mode="json"),
                            judge=self.judge_spec.public_dict() if self.judge_spec else None,
                            offline_judge=judge is not None and judge.offline)
        store.write_info(self.info)
        store.write_json(SUITE_FILE, self.suite.model_dump(mode="json"))
        names = tuple(s.name for s in self.specs)
        try:
            # Inside the try, so that its finally always points the logs back.
            for m in pool.all:
                m.provider.log_into(run_dir)  # a library's own log, beside the run it belongs to
            samples = store.samples()
            if self.executor.local:
                # Only models that will make calls need loading; a run served from the cache stays instant. An
                # executor that makes calls elsewhere loads the models there (the driver needs only call keys).
                await pool.warm_up(models, lambda m: self._needs_calls(m, samples))
                if judge is not None:
                    await pool.warm_up([judge])
            ctx = ScoringContext(seed=opts.seed, judge=self.executor.bind(judge) if judge is not None else None,
                                 reference=self.reference)
            drawn = await self._process(models, samples, staged.count, ctx)
            store.flush()
            stop = opts.schedule.stop
            sequential = stop.result() if stop is not None else None
            if sequential is not None:
                store.write_json(SEQUENTIAL_FILE, sequential)
            covered, results = store.samples(limit=drawn), store.results()
            summary = self.task.summarize(covered, results, SummaryContext(models=names, reference=self.reference,
                                                                           seed=opts.seed))
            summary = merge_summaries(summary, store.generations(), names, self.reference, opts.seed)
            summary = self._with_notes(summary, staged.warnings, drawn, staged.count)
            store.write_json(SUMMARY_FILE, summary)
            self.info = self.info.model_copy(update={"status": "complete", "finished_at": _now()})
            # Models whose metadata names a fine-tuning job_id get its stored curve (evalkit.finetune_metrics).
            training = attach_training(run_dir, self.info.models)
            result = RunResult(info=self.info, samples=covered, generations=store.generations(), results=results,
                               summary=summary, training=training, sequential=sequential)
            write_report(result, run_dir)
            store.write_info(self.info)
        except Exception:
            # A run stopped by an error says so in run.json instead of reading `running` for ever.
            self.info = self.info.model_copy(update={"status": "failed", "finished_at": _now()})
            store.write_info(self.info)
            raise
        finally:
            store.close()
            for m in pool.all:
                m.provider.log_into(None)
            for problem in await pool.aclose():
                self.console.print(f"[yellow]warning:[/yellow] {escape(problem)}")
            await self.executor.aclose()
            if cache is not None:
                cache.close()
        counted = models + ([judge] if judge else [])
        label = {id(m): m.name if m is not judge else f"judge:{m.name}" for m in counted}
        return RunOutcome(run_dir=run_dir, result=result,
                          calls={label[id(m)]: m.stats.calls for m in counted},
                          cache_hits={label[id(m)]: m.stats.cache_hits for m in counted},
                          failed={m: self._failed.get(m, 0) for m in names})

    def _with_notes(self, summary: TaskSummary, warnings: Sequence[str], drawn: int, total: int) -> TaskSummary:
        notes: tuple[str, ...] = ()
        if warnings:
            assert self.store is not None
            self.store.write_json(DATA_WARNINGS_FILE, list(warnings))
            more = len(warnings) - MAX_DATA_NOTES
            notes += tuple(f"data: {w}" for w in warnings[:MAX_DATA_NOTES])
            if more > 0:
                notes += (f"data: and {more} more skipped line(s), listed in {DATA_WARNINGS_FILE}",)
        notes += tuple(self.batch_notes)
        if drawn < total:
            notes += (f"{drawn} of {total} items drawn (stopped when decided); every metric covers those {drawn} "
                      f"items, and corpus metrics such as F1 and BLEU are reported at the stopping point and were "
                      f"not the stopping criterion",)
        return summary.model_copy(update={"notes": summary.notes + notes}) if notes else summary

    def _requests(self, model: Model, sample: Sample, prompt: Prompt) -> list[Request]:
        sampled = self.attempts > 1
        return [Request(prompt=prompt, sample_id=sample.id, attempt=a,
                        params=attempt_params(self.params, a, sample.id, sampled=sampled))
                for a in range(self.attempts)]

    def _all_requests(self, model: Model, samples: Iterable[Sample]) -> Iterator[Request]:
        for sample in samples:
            yield from self._requests(model, sample, self.renderer.render(sample)[model.name])

    def _needs_calls(self, model: Model, samples: Iterable[Sample]) -> bool:
        return not all(model.is_cached(r) for r in self._all_requests(model, samples))

    def mark_interrupted(self) -> None:
        """Record that the run stopped early (what finished stays in generations.jsonl and the cache)."""
        if self.store is not None and self.info is not None and self.info.status == "running":
            self.store.close()
            self.info = self.info.model_copy(update={"status": "interrupted", "finished_at": _now()})
            self.store.write_info(self.info)

    # --- the stream --------------------------------------------------------------------------------------

    async def _process(self, models: Sequence[Model], samples: RecordFile[Sample], total: int,
                       ctx: ScoringContext) -> int:
        """Generate, score and store every item the schedule draws; returns how many were drawn."""
        schedule = self.options.schedule
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console,
                            disable=not self.options.show_progress)
        self._progress = progress
        with progress:
            for m in models:
                await self._batch(m, samples, progress)
            self._bars = {m.name: progress.add_task(m.name, total=total * self.attempts) for m in models}
            self._first = next(iter(samples), None)
            if not self.policy.sequential_models:
                for m in models:
                    await self._warm(m)
            if schedule.batch_size is None:
                return (await self._process_batch(models, samples, ctx, keep=False))[0]
            drawn = 0
            it = iter(samples)
            while batch := list(islice(it, schedule.batch_size)):
                count, results = await self._process_batch(models, batch, ctx, keep=schedule.stop is not None)
                drawn += count
                if schedule.stop is not None and schedule.stop.after_batch(results):
                    break
            return drawn

    async def _process_batch(self, models: Sequence[Model], batch: Iterable[Sample], ctx: ScoringContext, *,
                             keep: bool) -> tuple[int, list[SampleResult]]:
        """One batch of items through the pipeline: how many were stored, and their results when `keep` (for a
        stop rule to look at; an unbatched run's one batch may be a million items)."""
        assert self.store is not None
        kept: list[SampleResult] = []
        count = 0
        window = max(MIN_WINDOW, WINDOW_PER_CALL * sum(self.executor.in_flight(m) for m in models))
        if self.policy.sequential_models:
            scored = self._sequential(models, batch, ctx, window)
        else:
            scored = ordered_stream(lambda s: self._item(models, s, ctx), batch, window)
        async for result in scored:
            self.store.append(RESULTS_FILE, result, flush=False)
            count += 1
            if keep:
                kept.append(result)
        return count, kept

    async def _item(self, models: Sequence[Model], sample: Sample, ctx: ScoringContext) -> SampleResult:
        """Every model's attempts at one sample, then its score."""
        prompts = self.renderer.render(sample)
        if len(models) == 1:
            per_model = [await self._attempts(models[0], sample, prompts[models[0].name])]
        else:
            per_model = await asyncio.gather(*(self._attempts(m, sample, prompts[m.name]) for m in models))
        return await self._score_item(sample, {m.name: gens for m, gens in zip(models, per_model)}, ctx)

    async def _score_item(self, sample: Sample, per_model: dict[str, tuple[Generation, ...]],
                     ctx: ScoringContext) -> SampleResult:
        # A task that declares `uses_attempts = True` gets every attempt (a tuple per model, in attempt order);
        # any other task gets attempt 0 only, one Generation per model.
        if self.task.uses_attempts:
            given: dict[str, Any] = per_model
        else:
            given = {m: gens[0] for m, gens in per_model.items() if gens and gens[0].attempt == 0}
        return await self.task.score(sample, given, ctx)

    async def _attempts(self, model: Model, sample: Sample, prompt: Prompt) -> tuple[Generation, ...]:
        """One model's attempts at one sample, each stored as it completes; in attempt order."""
        requests = self._requests(model, sample, prompt)
        out: list[Generation] = []
        if self.executor.local:
            # Model.generate's own cache lookup is the driver's here: one lookup per request.
            if len(requests) == 1:
                gens: Iterable[Generation] = [await model.generate(requests[0])]
            else:
                gens = await asyncio.gather(*(model.generate(r) for r in requests))
            for request, gen in zip(requests, gens):
                gen = self._fresh_answer(model, request, gen)
                self._store(model, gen)
                out.append(gen)
            return tuple(out)
        missed: list[Request] = []
        for request in requests:
            gen = await self._cached(model, request)
            if gen is None:
                missed.append(request)
            else:
                self._store(model, gen)
                out.append(gen)
        if missed:
            async for gen in self.executor.generate(model, missed):
                self._store(model, gen)
                out.append(gen)
        if len(out) > 1:
            out.sort(key=lambda g: g.attempt)
        return tuple(out)

    async def _cached(self, model: Model, request: Request) -> Generation | None:
        """The cached answer to `request`, or None on a miss."""
        if not model.is_cached(request):
            return None
        return self._fresh_answer(model, request, await model.generate(request))

    def _fresh_answer(self, model: Model, request: Request, gen: Generation) -> Generation:
        """Answers of this run's batch job come through the cache: they are fresh answers, not cache hits."""
        fresh = self._fresh.get(model.name)
        if fresh and gen.cached:
            key = model.call_key(request)
            if key in fresh:
                fresh.discard(key)
                model.stats.cache_hits -= 1
                gen = gen.model_copy(update={"cached": False})
        return gen

    def _store(self, model: Model, gen: Generation) -> None:
        assert self.store is not None
        self.store.append(GENERATIONS_FILE, gen)
        if not gen.ok:
            self._failed[model.name] = self._failed.get(model.name, 0) + 1
        if self._progress is not None:
            self._progress.advance(self._bars[model.name])

    async def _warm(self, model: Model) -> None:
        """The task's untimed warm-up calls for `model` (the first sample's prompt), once per run, not stored."""
        if not self.policy.warmup_requests or self._first is None or model.name in self._warmed:
            return
        self._warmed.add(model.name)
        request = Request(prompt=self.renderer.render(self._first)[model.name], params=self.params,
                          sample_id="warmup")
        for _ in range(self.policy.warmup_requests):
            async for _gen in self.executor.generate(model, [request]):
                pass

    async def _sequential(self, models: Sequence[Model], batch: Iterable[Sample], ctx: ScoringContext,
                          window: int) -> AsyncIterator[SampleResult]:
        """One model after the other over the batch, then scoring in a pass over the stored generations."""
        assert self.store is not None
        start = self.store.size(GENERATIONS_FILE)
        for model in models:
            await self._warm(model)  # right before its own calls: its connection is warm when timing starts

            async def one(sample: Sample, model: Model = model) -> None:
                await self._attempts(model, sample, self.renderer.render(sample)[model.name])

            async for _ in ordered_stream(one, batch, max(MIN_WINDOW, WINDOW_PER_CALL * self.executor.in_flight(model))):
                pass
        self.store.flush()
        generations = self.store.generations()
        index = GenerationIndex(s.id for s in batch)
        for offset, length, g in generations.with_offsets(start=start, lengths=True):
            index.add(offset, g, length)
        names = [m.name for m in models]
        pairs = zip(batch, index.groups(generations, names))

        async def score(pair: tuple[Sample, Any]) -> SampleResult:
            sample, groups = pair
            return await self._score_item(sample, dict(groups), ctx)

        async for result in ordered_stream(score, pairs, window):
            yield result

    async def _batch(self, model: Model, samples: RecordFile[Sample], progress: Progress) -> None:
        """With --batch, answer the uncached requests of a model whose provider has a batch API by one batch job
        (into the cache), its requests rendered by streaming over the samples.

        The cache keys it answered are remembered as fresh. A job that cannot be run at all leaves every request
        to the synchronous path (with a note); lines that failed are retried there too.
        """
        if not self.options.batch or not model.supports_batch:
            return
        bar = progress.add_task(f"{model.name} (batch)", total=len(samples) * self.attempts)

        def report(done: int, total: int, status: str) -> None:
            progress.update(bar, completed=done, total=total, description=f"{model.name} (batch {status.lower()})")

        try:
            # Model.run_batch walks the requests once (it keeps the uncached ones for the job's file).
            outcome = await model.run_batch(self._all_requests(model, samples), progress=report)  # type: ignore[arg-type]
        except ProviderError as exc:
            self.batch_notes.append(f"{model.name}: the batch job could not run ({exc}); its requests were sent "
                                    f"synchronously")
            return
        self.batch_notes.append(outcome.note(model.name))
        self._fresh[model.name] = set(outcome.answered)


def _reorder(path: Path, order: Sequence[str], where: str) -> int:
    """Rewrite a staged samples file in `order` (sample ids); DataError for an id the data does not have."""
    source = RecordFile(path, Sample)
    index = GenerationIndex(s.id for s in source)  # positions of ids by hash: no strings held
    offsets = [offset for offset, _ in source.with_offsets()]
    positions = index.positions_of(order)
    missing = [sid for sid, p in zip(order, positions) if p < 0]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5])
        raise DataError(f"{where}: the item schedule names {len(missing)} sample id(s) the data does not have: "
                        f"{shown}" + (" ..." if len(missing) > 5 else ""))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".samples-", suffix=".jsonl")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for sample in source.read_at(offsets[p] for p in positions):
            fh.write(sample.model_dump_json() + "\n")
    os.replace(tmp, path)
    return len(order)


def prepare(suite: SuiteSpec, config: ProjectConfig, options: RunOptions,
            console: Console | None = None) -> Runner:
    """Resolve models and validate everything that can fail before a single call is made.

    The judge model follows the task's `judge_requirement`: none for `none`; for `optional` (e.g. a check judge
    beside an LLM judge) only one that is named or reachable (config.judge_name), never the embedded fallback;
    for `required` the usual chain down to the embedded model.
    """
    suite = apply_overrides(suite, data_overrides(config))  # `[data]` of evalkit.toml (idempotent)
    specs = resolve_models(options.models, config, suite)
    runner = Runner(suite, specs, options, console)
    need = runner.task.judge_requirement
    name = None if need == "none" else judge_name(options.judge, config, suite, fallback=need == "required")
    runner.set_judge(resolve_model(name, config, suite) if name else None)
    return runner
