"""Run a suite: samples -> generations (per model, concurrently) -> scores -> metrics -> report."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from evalkit.cache import ResponseCache
from evalkit.config import ProjectConfig, judge_name, resolve_model, resolve_models
from evalkit.errors import ConfigError, ProviderError
from evalkit.finetune_metrics import attach_training
from evalkit.loaders import load_data
from evalkit.model import Model
from evalkit.model_pool import ModelPool, build_models
from evalkit.model_spec import ModelSpec
from evalkit.operational import operational_metrics
from evalkit.prompts import render_prompt
from evalkit.records import (Comparison, Generation, GenerationParams, MetricValue, Prompt, PromptTemplate, Request,
                             RunInfo, RunResult, Sample, SampleResult, TaskSummary)
from evalkit.report import write_report
from evalkit.retry import RetryPolicy
from evalkit.store import (GENERATIONS_FILE, RESULTS_FILE, SAMPLES_FILE, SUITE_FILE, SUMMARY_FILE, RunStore,
                           new_run_dir)
from evalkit.suite import SuiteSpec
from evalkit.tasks import RunPolicy, ScoringContext, SummaryContext, Task, create_task
from evalkit.version import __version__

DATA_WARNINGS_FILE = "data_warnings.json"
"""Every data warning of a run (e.g. chat-format lines skipped by validation), as a JSON list of strings."""

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class RunOptions:
    """Command-line choices for one run."""

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


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run returns to its caller."""

    run_dir: Path
    result: RunResult
    calls: dict[str, int]
    """Requests sent to each model's provider (0 for a run served entirely from the cache)."""
    cache_hits: dict[str, int]

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
    """Apply an async fn to items with at most `concurrency` in flight; results in input order.

    Workers pull from a shared iterator instead of one coroutine per item, so memory stays flat at 100k items.
    """
    indexed = list(enumerate(items))
    results: list[U | None] = [None] * len(indexed)
    it = iter(indexed)

    async def worker() -> None:
        for i, item in it:
            results[i] = await fn(item)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(indexed))))))
    return results  # type: ignore[return-value]


def build_prompts(suite: SuiteSpec, task: Task, specs: Sequence[ModelSpec],
                  samples: Sequence[Sample]) -> tuple[dict[str, list[Prompt]], tuple[PromptTemplate, ...]]:
    """Each model's prompt for each sample, and the prompt profiles used (for the report)."""
    prompts: dict[str, list[Prompt]] = {}
    used: dict[str, list[str]] = {}
    for spec in specs:
        profile, prompt_spec = suite.prompt_for(spec.name, spec.prompt)
        used.setdefault(profile, []).append(spec.name)
        where = f"{suite.path}: prompts.{profile}"
        prompts[spec.name] = [render_prompt(prompt_spec, s, task.prompt_vars(s), where=where) for s in samples]
    # Style `messages` sends each sample's own chat history: shown as a chat profile with that said in words.
    templates = tuple(PromptTemplate(profile=p, style="chat" if suite.prompts[p].style == "messages" else
                                     suite.prompts[p].style, system=suite.prompts[p].system,
                                     template=suite.prompts[p].template or MESSAGES_TEMPLATE, models=tuple(m))
                      for p, m in used.items())
    return prompts, templates


MESSAGES_TEMPLATE = "(each sample's own chat messages, up to the held-out last assistant message)"
"""How a `messages`-style profile reads in a report, where a template would be."""

MAX_DATA_NOTES = 20
"""Data warnings (skipped lines) shown in the report notes; all of them are in data_warnings.json."""


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


def merge_summaries(task_summary: TaskSummary, generations: Sequence[Generation], models: Sequence[str],
                    reference: str, seed: int) -> TaskSummary:
    """Add latency, token and cost metrics (common to every task) to the task's own summary."""
    ops_metrics, ops_comparisons = operational_metrics(generations, models, reference, seed=seed)
    # A task's own metric of the same name (e.g. the latency task's latency_p50_s) wins over the generic one.
    own = {m: {mv.name for mv in task_summary.metrics.get(m, ())} for m in models}
    metrics = {m: tuple(task_summary.metrics.get(m, ())) + tuple(mv for mv in ops_metrics.get(m, ())
                                                                 if mv.name not in own[m]) for m in models}
    return task_summary.model_copy(update={"metrics": metrics,
                                           "comparisons": task_summary.comparisons + tuple(ops_comparisons)})


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
        self.judge_spec = judge if self.task.needs_judge else None
        self.store: RunStore | None = None
        self.info: RunInfo | None = None

    def _models(self, cache: ResponseCache | None, sample_ids: Sequence[str]) -> ModelPool:
        """The compared models and the judge (if the task needs one), checked before any call."""
        pool = build_models(self.specs, cache=cache, retry=self.options.retry, seed=self.options.seed,
                            stream=self.policy.stream, judge=self.judge_spec)
        if self.options.batch and not any(m.supports_batch for m in pool.models):
            raise ConfigError(f"--batch: none of the models ({', '.join(m.name for m in pool.models)}) has a "
                              f"provider with a batch API")
        for m in pool.models:
            m.provider.check_sample_ids(sample_ids)
        return pool

    async def run(self) -> RunOutcome:
        """Execute the whole pipeline and write the run directory."""
        opts = self.options
        loaded = load_data(self.suite.data, self.suite.directory)
        samples = loaded.samples
        for warning in loaded.warnings[:MAX_DATA_NOTES]:
            self.console.print(f"[yellow]data:[/yellow] {escape(warning)}")
        if len(loaded.warnings) > MAX_DATA_NOTES:
            self.console.print(f"[yellow]data:[/yellow] and {len(loaded.warnings) - MAX_DATA_NOTES} more skipped")
        if opts.limit is not None:
            samples = samples[: opts.limit]
        data = self.suite.data
        self.task.check_samples(samples, str(self.suite.directory / data.path) if data.source in ("jsonl", "csv")
                                else f"{data.source} data set {data.path!r}")
        prompts, templates = build_prompts(self.suite, self.task, self.specs, samples)
        params = self.suite.generation
        if params.seed is None:
            params = params.model_copy(update={"seed": opts.seed})
        if self.attempts > 1 and params.temperature == 0:
            # Sampling is needed for repeated attempts to differ; greedy attempts would all be identical.
            params = params.model_copy(update={"temperature": 0.7})
        cache = ResponseCache.in_dir(opts.cache_dir) if opts.use_cache and self.policy.use_cache else None
        pool = self._models(cache, [s.id for s in samples])
        models, judge = pool.models, pool.judge

        run_dir = new_run_dir(opts.out_dir, self.suite.name)
        self.store = store = RunStore(run_dir)
        self.info = RunInfo(run_id=run_dir.name, suite=self.suite.name, suite_path=str(self.suite.path),
                            task=self.suite.task, description=self.suite.description,
                            models=tuple(s.public_dict() for s in self.specs), reference=self.reference,
                            seed=opts.seed, limit=opts.limit, started_at=_now(), evalkit_version=__version__,
                            prompts=templates, generation_params=params.model_dump(mode="json"),
                            judge=self.judge_spec.public_dict() if self.judge_spec else None,
                            offline_judge=judge is not None and judge.offline)
        store.write_info(self.info)
        store.write_json(SUITE_FILE, self.suite.model_dump(mode="json"))
        store.write_records(SAMPLES_FILE, samples)
        try:
            # Only models that will make calls need loading; a run served from the cache stays instant.
            await pool.warm_up(models, lambda m: self._needs_calls(m, samples, prompts, params))
            generations = await self._generate(models, samples, prompts, params)
            if judge is not None:
                await pool.warm_up([judge])
            results = await self._score(samples, generations, judge)
            names = tuple(s.name for s in self.specs)
            summary = self.task.summarize(samples, results, SummaryContext(models=names, reference=self.reference,
                                                                           seed=opts.seed))
            summary = merge_summaries(summary, generations, names, self.reference, opts.seed)
            if loaded.warnings:
                store.write_json(DATA_WARNINGS_FILE, list(loaded.warnings))
                more = len(loaded.warnings) - MAX_DATA_NOTES
                data_notes = tuple(f"data: {w}" for w in loaded.warnings[:MAX_DATA_NOTES])
                if more > 0:
                    data_notes += (f"data: and {more} more skipped line(s), listed in {DATA_WARNINGS_FILE}",)
                summary = summary.model_copy(update={"notes": summary.notes + data_notes})
            if self.batch_notes:
                summary = summary.model_copy(update={"notes": summary.notes + tuple(self.batch_notes)})
            store.write_json(SUMMARY_FILE, summary)
            self.info = self.info.model_copy(update={"status": "complete", "finished_at": _now()})
            # Models whose metadata names a fine-tuning job_id get its stored curve (evalkit.finetune_metrics).
            training = attach_training(run_dir, self.info.models)
            result = RunResult(info=self.info, samples=tuple(samples), generations=tuple(generations),
                               results=tuple(results), summary=summary, training=training)
            write_report(result, run_dir)
            store.write_info(self.info)
        except Exception:
            # A run stopped by an error says so in run.json instead of reading `running` for ever.
            self.info = self.info.model_copy(update={"status": "failed", "finished_at": _now()})
            store.write_info(self.info)
            raise
        finally:
            store.close()
            for problem in await pool.aclose():
                self.console.print(f"[yellow]warning:[/yellow] {escape(problem)}")
            if cache is not None:
                cache.close()
        counted = models + ([judge] if judge else [])
        return RunOutcome(run_dir=run_dir, result=result,
                          calls={m.name if m is not judge else f"judge:{m.name}": m.stats.calls for m in counted},
                          cache_hits={m.name if m is not judge else f"judge:{m.name}": m.stats.cache_hits
                                      for m in counted})

    def _needs_calls(self, model: Model, samples: Sequence[Sample], prompts: dict[str, list[Prompt]],
                     params) -> bool:
        return not all(model.is_cached(Request(prompt=prompts[model.name][i], params=attempt_params(
                                                   params, a, samples[i].id, sampled=self.attempts > 1), attempt=a))
                       for i in range(len(samples)) for a in range(self.attempts))

    def mark_interrupted(self) -> None:
        """Record that the run stopped early (what finished stays in generations.jsonl and the cache)."""
        if self.store is not None and self.info is not None and self.info.status == "running":
            self.info = self.info.model_copy(update={"status": "interrupted", "finished_at": _now()})
            self.store.write_info(self.info)

    async def _generate(self, models: Sequence[Model], samples: Sequence[Sample],
                        prompts: dict[str, list[Prompt]], params) -> list[Generation]:
        assert self.store is not None
        store = self.store
        attempts = self.attempts
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console,
                            disable=not self.options.show_progress)

        async def run_model(model: Model) -> list[Generation]:
            bar = progress.add_task(model.name, total=len(samples) * attempts)
            jobs = [(i, a) for i in range(len(samples)) for a in range(attempts)]
            for _ in range(self.policy.warmup_requests if samples else 0):
                await model.generate(Request(prompt=prompts[model.name][0], params=params, sample_id="warmup"))
            run_params = params
            sampled = attempts > 1
            fresh = await self._batch(model, [Request(prompt=prompts[model.name][i], sample_id=samples[i].id, attempt=a,
                                                      params=attempt_params(params, a, samples[i].id, sampled=sampled))
                                              for i, a in jobs], progress)

            async def one(job: tuple[int, int]) -> Generation:
                i, attempt = job
                request = Request(prompt=prompts[model.name][i], sample_id=samples[i].id, attempt=attempt,
                                  params=attempt_params(run_params, attempt, samples[i].id, sampled=sampled))
                gen = await model.generate(request)
                if gen.cached and fresh and model.call_key(request) in fresh:
                    # Answered by this run's batch job: a new answer served through the cache, not a cache hit.
                    fresh.discard(model.call_key(request))
                    model.stats.cache_hits -= 1
                    gen = gen.model_copy(update={"cached": False})
                store.append(GENERATIONS_FILE, gen)
                progress.advance(bar)
                return gen

            return await bounded_map(one, jobs, model.spec.concurrency)

        with progress:
            if self.policy.sequential_models:
                per_model = [await run_model(m) for m in models]
            else:
                per_model = await asyncio.gather(*(run_model(m) for m in models))
        return [g for gens in per_model for g in gens]

    async def _batch(self, model: Model, requests: Sequence[Request], progress: Progress) -> set[str]:
        """With --batch, answer the uncached requests of a model whose provider has a batch API by one batch job
        (into the cache).

        Returns the cache keys the job answered. A job that cannot be run at all leaves every request to the
        synchronous path (with a note); lines that failed are retried there too.
        """
        if not self.options.batch or not model.supports_batch:
            return set()
        bar = progress.add_task(f"{model.name} (batch)", total=len(requests))

        def report(done: int, total: int, status: str) -> None:
            progress.update(bar, completed=done, total=total, description=f"{model.name} (batch {status.lower()})")

        try:
            outcome = await model.run_batch(list(requests), progress=report)
        except ProviderError as exc:
            self.batch_notes.append(f"{model.name}: the batch job could not run ({exc}); its requests were sent "
                                    f"synchronously")
            return set()
        self.batch_notes.append(outcome.note(model.name))
        return set(outcome.answered)

    async def _score(self, samples: Sequence[Sample], generations: Sequence[Generation],
                     judge: Model | None = None) -> list[SampleResult]:
        assert self.store is not None
        # A task that declares `uses_attempts = True` gets every attempt (a tuple per model, in attempt order);
        # any other task gets attempt 0 only, one Generation per model.
        every = self.task.uses_attempts
        by_sample: dict[str, dict[str, Generation | tuple[Generation, ...]]] = {}
        for g in sorted(generations, key=lambda g: g.attempt):
            if every:
                per_model = by_sample.setdefault(g.sample_id, {})
                per_model[g.model] = (*per_model.get(g.model, ()), g)  # type: ignore[misc]
            elif g.attempt == 0:
                by_sample.setdefault(g.sample_id, {})[g.model] = g
        ctx = ScoringContext(seed=self.options.seed, judge=judge, reference=self.reference)

        async def score(sample: Sample) -> SampleResult:
            return await self.task.score(sample, by_sample.get(sample.id, {}), ctx)

        results = await bounded_map(score, samples, 16)
        self.store.write_records(RESULTS_FILE, results)
        return results


def prepare(suite: SuiteSpec, config: ProjectConfig, options: RunOptions,
            console: Console | None = None) -> Runner:
    """Resolve models and validate everything that can fail before a single call is made."""
    specs = resolve_models(options.models, config, suite)
    judge = resolve_model(judge_name(options.judge, config, suite), config, suite)
    return Runner(suite, specs, options, console, judge=judge)
