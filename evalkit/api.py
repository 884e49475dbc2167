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
from collections.abc import Sequence
from pathlib import Path

from evalkit.config import load_config
from evalkit.errors import ConfigError
from evalkit.runner import RunOptions, RunOutcome, prepare
from evalkit.suite import load_suite

__all__ = ["arun", "run"]


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
               batch: bool = False, show_progress: bool = False) -> RunOutcome:
    """Run `suite` (a name from `evalkit suites` or a suite file) on `models` on the running event loop.

    The arguments are `evalkit run`'s options; errors a user can cause raise ConfigError / DataError before
    any model call, exactly as the command exits 2.
    """
    options = _options(models, limit=limit, concurrency=concurrency, out_dir=out_dir, use_cache=use_cache,
                       cache_dir=cache_dir, seed=seed, reference=reference, judge=judge, attempts=attempts,
                       batch=batch, show_progress=show_progress)
    runner = prepare(load_suite(str(suite)), load_config(Path(config) if config is not None else None), options)
    return await runner.run()


def run(suite: str | Path, models: Sequence[str] | str, *, config: str | Path | None = None,
        limit: int | None = None, concurrency: int | None = None, out_dir: str | Path = "reports",
        use_cache: bool = True, cache_dir: str | Path | None = None, seed: int = 0, reference: str | None = None,
        judge: str | None = None, attempts: int | None = None, batch: bool = False,
        show_progress: bool = False) -> RunOutcome:
    """Run `suite` on `models` and return the finished run (its directory, results and call counts).

    Works in scripts and in notebooks alike (inside a running event loop the run goes to a worker thread).
    """
    coro = arun(suite, models, config=config, limit=limit, concurrency=concurrency, out_dir=out_dir,
                use_cache=use_cache, cache_dir=cache_dir, seed=seed, reference=reference, judge=judge,
                attempts=attempts, batch=batch, show_progress=show_progress)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
