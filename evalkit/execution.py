"""Where a run's model calls are made: the GenerationExecutor seam and its in-process default.

The runner (the driver) owns everything around a call: rendering the request, the cache lookup, writing the
Generation to the run directory, scoring and the order of items. What it hands to an executor is only the
step in between: "these requests of this model missed the cache: produce their Generations, through the
model's wrapper (retries, timeouts, rate limit, cost), as they complete". The default executor makes the calls
in this process; another one (issue 15: Ray) can make them on a cluster, where each worker builds the same
Model from its ModelSpec, and return the Generations here.

Judge calls of the scoring phase go through the same seam: the runner gives tasks `executor.bind(judge)` as
their judge model, which is the judge itself for the in-process executor.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, ClassVar

from evalkit.records import Generation, Request

if TYPE_CHECKING:
    from evalkit.model import Model

__all__ = ["GenerationExecutor", "InProcessExecutor"]


class GenerationExecutor(ABC):
    """Makes the calls that missed the cache and yields their Generations as they complete."""

    local: ClassVar[bool] = False
    """True: calls run in the driver's process through Model.generate, whose own cache lookup is then the
    driver's, so the runner sends every request (hits too) and looks nothing up itself: one lookup per call."""

    @abstractmethod
    def generate(self, model: Model, requests: Sequence[Request]) -> AsyncIterator[Generation]:
        """One Generation per request, in the order they complete (each carries its sample id and attempt).

        Never raises for a failed call: like Model.generate, a call that failed for good comes back as a
        Generation with `error`. Concurrency is the model's (ModelSpec.concurrency), however many requests
        are given at once.
        """

    def in_flight(self, model: Model) -> int:
        """Requests of `model` worth having in flight at once; the runner keeps WINDOW_PER_CALL times the sum over
        the models of items open. Default: the model's own concurrency."""
        return model.spec.concurrency

    def bind(self, model: Model) -> Model:
        """The model tasks call for judge calls during scoring. The in-process default returns `model`; an
        executor that makes calls elsewhere returns a Model whose cache misses it makes."""
        return model

    async def aclose(self) -> None:
        """Release what the executor holds (workers, connections); the runner calls it once, at the end."""


class InProcessExecutor(GenerationExecutor):
    """The default: every call through `Model.generate` on this event loop."""

    local = True

    async def generate(self, model: Model, requests: Sequence[Request]) -> AsyncIterator[Generation]:
        """Each request's Generation as it completes (one request: no task is created for it)."""
        if len(requests) == 1:
            yield await model.generate(requests[0])
            return
        pending = [asyncio.ensure_future(model.generate(r)) for r in requests]
        try:
            for done in asyncio.as_completed(pending):
                yield await done
        finally:
            for task in pending:
                task.cancel()
