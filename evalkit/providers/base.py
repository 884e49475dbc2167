"""The provider extension point: one base class whose only required method turns a Request into a response.

Providers are thin: they map records to the vendor's API and classify failures as retryable or not (by
raising ProviderError). Caching, retries, rate limits and concurrency live once, in evalkit.model.

Every optional ability is a declared member of `Provider` with a documented default, read unconditionally by
the wrapper and the runner. A provider overrides only what differs; nothing is discovered with `getattr`, so a
provider that says nothing about an ability gets the documented default, never a silent surprise.

| ability | default | meaning |
|---|---|---|
| `path_fields(model)` | `adapter`, `path` | spec fields naming files, resolved against the defining file |
| `cacheable` | True | answers may be stored in and served from the response cache |
| `cache_identity(request)` | the spec's options and adapter path | what besides the request makes an answer unique |
| `check_sample_ids(ids)` | no-op | DataError before any call when some sample cannot be answered |
| `offline` | False | answers without any network service (in-process weights, a file) |
| `supports_streaming` / `stream(request)` | False / raises | the answer chunk by chunk, for time to first token |
| `batch_api()` | None | a vendor batch API for large runs (see evalkit.providers.batch) |
| `fine_tuning_job(job_id)` | raises ConfigError | the vendor's fine-tuning job (`evalkit finetune-metrics`) |
| `slow_warmup` / `warmup()` | False / no-op | a slow first-use step (loading weights) done before timing starts |
| `log_into(run_dir)` | no-op | the provider's library log into the run directory while a run writes there |
| `aclose()` | no-op | release connections or model memory |
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from evalkit.errors import ConfigError
from evalkit.model_spec import ModelSpec
from evalkit.records import ProviderResponse, Request, Usage

if TYPE_CHECKING:  # the batch flow imports this module; only the type is needed here
    from evalkit.providers.batch import BatchAPI

__all__ = ["Provider", "ProviderFactory", "StreamChunk"]


@dataclass(frozen=True)
class StreamChunk:
    """A piece of a streamed answer: text as it arrives; usage and finish reason when the provider sends them
    (usually with the last chunk)."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


class Provider(ABC):
    """Serves one model. Subclass it, implement `generate`, and override the abilities that differ."""

    cacheable: ClassVar[bool] = True
    """True: the wrapper may store answers in the response cache and serve repeated calls from it. False for
    providers whose answers must be read afresh every run (predictions replayed from a file)."""
    offline: ClassVar[bool] = False
    """True: answers come without any network service (in-process weights, a file). A judge served offline
    here is the small embedded model, so reports label its verdicts as a pipeline demonstration."""
    supports_streaming: ClassVar[bool] = False
    """True: `stream` yields the answer chunk by chunk, so the wrapper can time the first token."""
    slow_warmup: ClassVar[bool] = False
    """True: `warmup` does real work (loading weights). The runner then warms such models up one at a time,
    and only when some call of the run misses the cache."""

    @classmethod
    def path_fields(cls, model: str) -> tuple[str, ...]:
        """The ModelSpec fields that name files, for a model id `model`: a relative path in them is resolved
        against the folder of the file defining the model (evalkit.toml, a suite). Default: `adapter`, `path`."""
        return ("adapter", "path")

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._identity = {"options": json.dumps(spec.options, sort_keys=True, default=str),
                          "adapter": spec.adapter or ""}

    @abstractmethod
    async def generate(self, request: Request) -> ProviderResponse:
        """Make one call. Raise evalkit.errors.ProviderError (retryable or not) on failure."""

    def cache_identity(self, request: Request) -> Mapping[str, str]:
        """What besides the provider name, model id, endpoint, prompt, parameters and attempt makes the answer
        to `request` unique; it goes into the cache key.

        Default: the spec's options and adapter path. Override when the answer depends on more (a file's
        content, the sample id) or on less (an option that never changes answers, such as a thread count).
        """
        return self._identity

    def check_sample_ids(self, sample_ids: Iterable[str]) -> None:
        """Raise DataError, before any call, when this provider cannot answer some sample of the run (e.g.
        predictions replayed from a file that lacks some ids); a no-op by default."""

    def stream(self, request: Request) -> AsyncIterator[StreamChunk]:
        """The answer to one call, chunk by chunk (only called when `supports_streaming` is True).

        Raises ProviderError (retryable or not) like `generate`; the wrapper measures time to first token,
        assembles the text and owns timeouts and retries.
        """
        raise NotImplementedError(f"{type(self).__name__} does not stream (supports_streaming is False)")

    def batch_api(self) -> BatchAPI | None:
        """The vendor's batch API for this model, or None (the default) when it has none."""
        return None

    async def fine_tuning_job(self, job_id: str) -> Mapping[str, Any]:
        """The vendor's fine-tuning job `job_id`, as its API sends it (ConfigError by default: no jobs API)."""
        raise ConfigError(f"provider '{self.spec.provider}' has no fine-tuning jobs API (model '{self.spec.name}')")

    def log_into(self, run_dir: Path | None) -> None:
        """Send the log lines of the library behind this provider (e.g. llama.cpp's) into `run_dir` while a run
        writes there, and back to the library's default with None; a no-op by default."""

    async def warmup(self) -> None:
        """Prepare for calls (e.g. load the model) before any call is timed; a no-op by default."""

    async def aclose(self) -> None:
        """Release connections or model memory; a no-op by default."""


ProviderFactory = Callable[[ModelSpec], Provider]
"""Builds a provider for a spec; must raise ConfigError/MissingDependencyError up front (e.g. a missing key)."""
