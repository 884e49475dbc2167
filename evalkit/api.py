"""evalkit from Python: `evalkit.run(...)` does what `evalkit run` does and returns the finished run.

    import evalkit
    outcome = evalkit.run("news", models=["base", "ft"], limit=50)
    outcome.metric("ft", "f1").value, outcome.comparison("ft", "f1").ci_low
    outcome.run_dir / "report.html"

In a notebook (where an event loop already runs) `run` works the same: it runs the evaluation in a worker
thread; `await evalkit.arun(...)` runs it on the caller's loop instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from evalkit.config import ProjectConfig, load_config
from evalkit.errors import ConfigError
from evalkit.runner import RunOptions, RunOutcome, Runner, prepare
from evalkit.suite import SuiteSpec, load_suite

__all__ = ["UntilDecided", "arun", "prepare_run", "run", "tuned_collector"]


@contextmanager
def tuned_collector() -> Iterator[None]:
    """The run's garbage collector settings, restored afterwards.

    With dozens of calls in flight each call allocates a few hundred short-lived objects, and the default
    thresholds make the collector re-walk every object of the imported libraries again and again: on 10,000
    calls (C=64, instant server) that was 1.15-1.5 s of GC per run, 0.19 s with the imported objects frozen and
    the first threshold raised (call-phase CPU -11 to -30 %, benchmarks/perf).
    """
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@dataclass(frozen=True)
class UntilDecided:
    """`--until-decided`: stop once every paired comparison is decided (see docs/sequential.md)."""

    look_every: int = 50
    """Items drawn between two looks at the confidence sequences."""
    margin: float | None = None
    """Equivalence margin: a comparison whose sequence lies wholly inside [-margin, +margin] is decided
    ("no difference larger than margin")."""
    alpha: float = 0.05
    """Error level of the anytime-valid intervals (two-sided)."""


def _sequential(suite: SuiteSpec, config: ProjectConfig, options: RunOptions, until: UntilDecided) -> RunOptions:
    """`options` with the schedule of a sequential run: the task's per-item metrics, the gates' bounds, the
    samples (after --limit) in seeded random order."""
    from evalkit.gating import load_gates
    from evalkit.loaders import load_data
    from evalkit.sequential import until_decided_schedule
    from evalkit.tasks import create_task

    if until.look_every < 1:
        raise ConfigError(f"--look-every must be >= 1, got {until.look_every}")
    if until.margin is not None and until.margin <= 0:
        raise ConfigError(f"--margin must be > 0, got {until.margin}")
    task = create_task(suite.task, suite.task_args, suite.path)
    ids = [s.id for s in load_data(suite.data, suite.directory).samples]
    if options.limit is not None:
        ids = ids[: options.limit]
    reference = options.reference or suite.reference or options.models[0]
    gates = load_gates(suite.gates, suite.path if suite.gates else None, config.path, None)
    schedule = until_decided_schedule(task, ids, options.models, reference, seed=options.seed,
                                      look_every=until.look_every, margin=until.margin, alpha=until.alpha,
                                      rules=gates.rules)
    return dataclasses.replace(options, schedule=schedule)


def prepare_run(suite: SuiteSpec, config: ProjectConfig, options: RunOptions,
                until_decided: UntilDecided | None = None, console=None) -> Runner:
    """A Runner with everything that can fail checked before any call (the command and `run` share it)."""
    if until_decided is not None:
        options = _sequential(suite, config, options, until_decided)
    return prepare(suite, config, options, console)


def _options(models: Sequence[str] | str, *, limit: int | None, concurrency: int | None, out_dir: str | Path,
             use_cache: bool, cache_dir: str | Path | None, seed: int, reference: str | None, judge: str | None,
             attempts: int | None, batch: bool, show_progress: bool) -> RunOptions:
    names = tuple(n.strip() for n in (models.split(",") if isinstance(models, str) else models) if n.strip())
    if not names:
        raise ConfigError("models: give at least one model name, e.g. models=['base', 'ft']")
    return RunOptions(models=names, limit=limit, concurrency=concurrency, out_dir=Path(out_dir), use_cache=use_cache,
                      cache_dir=Path(cache_dir) if cache_dir is not None else None, seed=seed, reference=reference,
                      judge=judge, attempts=attempts, batch=batch, show_progress=show_progress)


async def arun(suite: str | Path, models: Sequence[str] | str, *, config: str | Path | None = None,
               limit: int | None = None, concurrency: int | None = None, out_dir: str | Path = "reports",
               use_cache: bool = True, cache_dir: str | Path | None = None, seed: int = 0,
               reference: str | None = None, judge: str | None = None, attempts: int | None = None,
               batch: bool = False, show_progress: bool = False,
               until_decided: UntilDecided | None = None) -> RunOutcome:
    """Run `suite` (a name from `evalkit suites` or a suite file) on `models` on the running event loop.

    The arguments are `evalkit run`'s options (`until_decided=UntilDecided(...)` is `--until-decided`); errors
    a user can cause raise ConfigError / DataError before any model call, exactly as the command exits 2.
    """
    options = _options(models, limit=limit, concurrency=concurrency, out_dir=out_dir, use_cache=use_cache,
                       cache_dir=cache_dir, seed=seed, reference=reference, judge=judge, attempts=attempts,
                       batch=batch, show_progress=show_progress)
    suite_spec = load_suite(str(suite))
    project = load_config(Path(config) if config is not None else None)
    runner = prepare_run(suite_spec, project, options, until_decided)
    with tuned_collector():
        return await runner.run()


def run(suite: str | Path, models: Sequence[str] | str, *, config: str | Path | None = None,
        limit: int | None = None, concurrency: int | None = None, out_dir: str | Path = "reports",
        use_cache: bool = True, cache_dir: str | Path | None = None, seed: int = 0, reference: str | None = None,
        judge: str | None = None, attempts: int | None = None, batch: bool = False,
        show_progress: bool = False, until_decided: UntilDecided | None = None) -> RunOutcome:
    """Run `suite` on `models` and return the finished run (its directory, results and call counts).

    Works in scripts and in notebooks alike (inside a running event loop the run goes to a worker thread).
    """
    coro = arun(suite, models, config=config, limit=limit, concurrency=concurrency, out_dir=out_dir,
                use_cache=use_cache, cache_dir=cache_dir, seed=seed, reference=reference, judge=judge,
                attempts=attempts, batch=batch, show_progress=show_progress, until_decided=until_decided)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
