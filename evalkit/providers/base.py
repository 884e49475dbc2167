"""The provider extension point: one async method that turns a Request into a ProviderResponse.

Providers are thin: they map records to the vendor's API and classify failures as retryable or not
(by raising ProviderError). Caching, retries, rate limits and concurrency live once, in evalkit.model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from evalkit.model_spec import ModelSpec
from evalkit.records import ProviderResponse, Request, Usage


@runtime_checkable
class Provider(Protocol):
    """Serves one model."""

    async def generate(self, request: Request) -> ProviderResponse:
        """Make one call. Raise evalkit.errors.ProviderError (retryable or not) on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections or model memory."""
        ...


class Warmable(Protocol):
    """Optional: a provider with a slow first-use step (loading weights) can do it before timing starts."""

    async def warmup(self) -> None:
        """Prepare for calls (e.g. load the model)."""
        ...


@dataclass(frozen=True)
class StreamChunk:
    """A piece of a streamed answer: text as it arrives; usage and finish reason when the provider sends them
    (usually with the last chunk)."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


@runtime_checkable
class Streaming(Protocol):
    """Optional: a provider that can stream its answer, so the wrapper can time the first token.

    `stream` yields chunks as they arrive and raises ProviderError (retryable or not) like `generate`; the
    wrapper (evalkit.model) measures time to first token, assembles the text and owns timeouts and retries.
    """

    def stream(self, request: Request) -> AsyncIterator[StreamChunk]:
        """The answer to one call, chunk by chunk."""
        ...


ProviderFactory = Callable[[ModelSpec], Provider]
"""Builds a provider for a spec; must raise ConfigError/MissingDependencyError up front (e.g. a missing key)."""
