"""The models of one run or command, built together: the one place that turns ModelSpecs into wrapped Models.

Used by `evalkit run` (the compared models and the judge) and `evalkit judge calibrate` (candidate judges)
alike, so both get the same cache, retry policy, shared rate limits and one-at-a-time warm-up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from evalkit.cache import ResponseCache
from evalkit.model import Model
from evalkit.model_spec import ModelSpec
from evalkit.providers import create_provider
from evalkit.ratelimit import RateLimiter
from evalkit.retry import RetryPolicy

__all__ = ["ModelPool", "build_models"]


@dataclass
class ModelPool:
    """Wrapped models ready for calls, plus the judge when there is one."""

    models: list[Model]
    judge: Model | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def all(self) -> list[Model]:
        """Every model, the judge last."""
        return self.models + ([self.judge] if self.judge is not None else [])

    async def warm_up(self, models: Sequence[Model] | None = None,
                      needs_calls: Callable[[Model], bool] = lambda m: True) -> None:
        """Warm up `models` (default: all) whose provider has a slow warm-up (loading weights) and that will
        make calls.

        One after the other: two llama.cpp models loading at once in two threads (e.g. the embedded base and a
        LoRA `ft`) end the whole process, silently and with status 0. `needs_calls` is asked only for such
        models, since it may look up every call in the cache.
        """
        for model in self.all if models is None else models:
            if model.provider.slow_warmup and needs_calls(model):
                await model.warmup()

    async def aclose(self) -> list[str]:
        """Release every provider (connections, model memory); safe to call twice.

        A provider that fails to close does not stop the others, nor undo a finished run: the failures come
        back as one line each, for the caller to show.
        """
        if self._closed:
            return []
        self._closed = True
        problems = []
        for model in self.all:
            try:
                await model.aclose()
            except Exception as exc:  # noqa: BLE001 - every result is already stored; say it, carry on
                problems.append(f"model '{model.name}': closing its provider failed: {type(exc).__name__}: {exc}")
        return problems


def build_models(specs: Sequence[ModelSpec], *, cache: ResponseCache | None, retry: RetryPolicy | None = None,
                 seed: int = 0, stream: bool = False, judge: ModelSpec | None = None) -> ModelPool:
    """Build every provider (keys checked, files found) before any call, and wrap each in a Model.

    Models on the same provider endpoint share one rate limiter, so `requests_per_second` holds for the
    endpoint as a whole. `stream` asks the compared models (never the judge) to stream where they can.
    """
    all_specs = [*specs, *([judge] if judge is not None else [])]
    providers = [create_provider(spec) for spec in all_specs]
    limiters: dict[tuple[str, str | None], RateLimiter] = {}
    wrapped: list[Model] = []
    for i, (spec, provider) in enumerate(zip(all_specs, providers, strict=True)):
        limiter = None
        if spec.requests_per_second:
            limiter = limiters.setdefault((spec.provider, spec.base_url), RateLimiter(spec.requests_per_second))
        is_judge = judge is not None and i == len(all_specs) - 1
        wrapped.append(Model(spec=spec, provider=provider, cache=cache, limiter=limiter,
                             retry=retry or RetryPolicy(), seed=seed, stream=stream and not is_judge))
    judge_model = wrapped.pop() if judge is not None else None
    return ModelPool(models=wrapped, judge=judge_model)
