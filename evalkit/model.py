"""The fat wrapper around a thin provider: cache, retries, timeouts, rate limit, concurrency, cost.

Every model call in evalkit (compared models and judges alike) goes through Model.generate, which never
raises for a failed call: after the retry budget it returns a Generation carrying the error, so a failing
sample is recorded and reported, never retried forever and never dropped.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from evalkit.cache import ResponseCache, cache_key
from evalkit.errors import ProviderError
from evalkit.model_spec import ModelSpec, Price
from evalkit.providers.base import Provider
from evalkit.providers.batch import BatchAPI, BatchOutcome, Progress, run_batch
from evalkit.ratelimit import RateLimiter
from evalkit.records import Generation, ProviderResponse, Request, Usage
from evalkit.retry import RetryPolicy


def call_cost(price: Price | None, usage: Usage) -> float | None:
    """USD cost of one call; None when the price or a token count is unknown (unknown is never zero)."""
    if price is None or usage.prompt_tokens is None or usage.completion_tokens is None:
        return None
    return (usage.prompt_tokens * price.input_per_mtok + usage.completion_tokens * price.output_per_mtok) / 1e6


@dataclass
class CallStats:
    """Counters of one model's calls during a run."""

    calls: int = 0
    """Requests actually sent to the provider (retries included)."""
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0


@dataclass
class Model:
    """A provider with the policies every call needs."""

    spec: ModelSpec
    provider: Provider
    cache: ResponseCache | None = None
    limiter: RateLimiter | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    seed: int = 0
    stats: CallStats = field(default_factory=CallStats)
    stream: bool = False
    """Stream answers where the provider supports it, to record time to first token (Generation.ttft_s)."""

    def __post_init__(self) -> None:
        if not isinstance(self.provider, Provider):
            raise TypeError(f"model '{self.spec.name}': the provider must be an evalkit.providers.Provider, got "
                            f"{type(self.provider).__name__}")
        self._semaphore = asyncio.Semaphore(self.spec.concurrency)
        self._rng = random.Random(self.seed)
        self._cacheable = self.cache is not None and self.provider.cacheable
        self._streams = self.stream and self.provider.supports_streaming
        self._batch_api: tuple[BatchAPI | None] | None = None
        self._prepared = False

    @property
    def streams(self) -> bool:
        """True when calls are streamed (asked for, and the provider can)."""
        return self._streams

    @property
    def name(self) -> str:
        """The model's name in `--models`."""
        return self.spec.name

    @property
    def offline(self) -> bool:
        """True when the provider answers without any network service (see Provider.offline)."""
        return self.provider.offline

    @property
    def _batch(self) -> BatchAPI | None:
        # Asked for on first use only: a vendor's batch API builds its SDK client (`import openai` is ~0.5 s),
        # which a run without --batch never needs.
        if self._batch_api is None:
            self._batch_api = (self.provider.batch_api(),)
        return self._batch_api[0]

    @property
    def supports_batch(self) -> bool:
        """True when the provider has a vendor batch API (see Provider.batch_api)."""
        return self._batch is not None

    def call_key(self, request: Request) -> str:
        """The content address of one call: its cache key, also the identity that deduplicates answers."""
        return cache_key(self.spec, request, self.provider.cache_identity(request))

    def is_cached(self, request: Request) -> bool:
        """True when `request` would be answered from the cache without a call."""
        return self._cacheable and self.cache is not None and self.cache.has(self.call_key(request))

    def cached(self, request: Request) -> Generation | None:
        """The Generation `generate(request)` would return from the cache (`cached=True`, counted as a cache hit),
        or None, counting nothing, when the answer is not cached, the provider is not cacheable or there is no
        cache. One lookup; on a miss, `call(request)` makes the call without looking up again."""
        if not self._cacheable or self.cache is None:
            return None
        hit = self.cache.get(self.call_key(request))
        if hit is None:
            return None
        self.stats.cache_hits += 1
        return self._generation(request, hit[0], hit[1], cached=True, retries=0)

    def cached_many(self, requests: Sequence[Request]) -> list[Generation | None]:
        """`cached` for each of `requests`, in order, with one batched cache lookup (a few SELECTs for all)."""
        if not self._cacheable or self.cache is None:
            return [None] * len(requests)
        keys = [self.call_key(r) for r in requests]
        hits = self.cache.get_many(keys)
        out: list[Generation | None] = []
        for request, key in zip(requests, keys):
            hit = hits.get(key)
            if hit is None:
                out.append(None)
            else:
                self.stats.cache_hits += 1
                out.append(self._generation(request, hit[0], hit[1], cached=True, retries=0))
        return out

    async def generate(self, request: Request) -> Generation:
        """One call with caching and bounded retries; failures come back as a Generation with `error`."""
        key = self.call_key(request) if self._cacheable else ""
        if self._cacheable and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                response, latency = hit
                return self._generation(request, response, latency, cached=True, retries=0)
        async with self._semaphore:
            return await self._call_with_retries(request, key)

    async def call(self, request: Request) -> Generation:
        """`generate` without its cache lookup, for a caller that has just looked the request up (`cached`,
        `cached_many`) and missed: the call with retries, timeouts, rate limit and concurrency, its answer
        stored in the cache. It calls even when the answer is cached: looking up is the caller's part."""
        async with self._semaphore:
            return await self._call_with_retries(request, self.call_key(request) if self._cacheable else "")

    async def _call_with_retries(self, request: Request, key: str) -> Generation:
        if not self._prepared:
            # A provider's quick warm-up (an import, a client) runs before its first call takes a rate-limiter
            # slot or starts its clock; slow ones (loading weights) are warmed up by the runner, one at a time.
            self._prepared = True
            if not self.provider.slow_warmup:
                await self.provider.warmup()
        retries = 0
        while True:
            if self.limiter is not None:
                await self.limiter.acquire()
            self.stats.calls += 1
            start = time.perf_counter()
            try:
                # asyncio.timeout, not wait_for: in Python 3.11 wait_for runs the call in a Task of its own.
                async with asyncio.timeout(self.spec.timeout_s):
                    response, ttft = await self._call(request, start)
            except TimeoutError:
                error = ProviderError(f"timed out after {self.spec.timeout_s:g} s", retryable=True)
            except ProviderError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - a provider bug must fail this sample, not the whole run
                error = ProviderError(f"{type(exc).__name__}: {exc}", retryable=False)
            else:
                latency = time.perf_counter() - start
                if self._cacheable and self.cache is not None:
                    # Returns once committed (group commit): a Generation handed back is an answer on disk.
                    await self.cache.write(key, response, latency)
                return self._generation(request, response, latency, cached=False, retries=retries, ttft=ttft)
            if not error.retryable or retries >= self.spec.max_retries:
                self.stats.failures += 1
                reason = "not retryable" if not error.retryable else f"gave up after {retries + 1} tries"
                return Generation(sample_id=request.sample_id, model=self.name, model_id=self.spec.model,
                                  attempt=request.attempt, prompt=request.prompt,
                                  error=f"{error} ({reason})", retries=retries)
            await asyncio.sleep(self.retry.delay(retries, error.retry_after, self._rng))
            retries += 1
            self.stats.retries += 1

    async def _call(self, request: Request, start: float) -> tuple[ProviderResponse, float | None]:
        """One provider call; streamed when asked and supported, with the time to the first text chunk."""
        if not self._streams:
            return await self.provider.generate(request), None
        parts: list[str] = []
        ttft: float | None = None
        usage, finish = Usage(), None
        async for chunk in self.provider.stream(request):
            if chunk.text:
                if ttft is None:
                    ttft = time.perf_counter() - start
                parts.append(chunk.text)
            if chunk.usage is not None:
                usage = chunk.usage
            if chunk.finish_reason is not None:
                finish = chunk.finish_reason
        return ProviderResponse(text="".join(parts), usage=usage, finish_reason=finish), ttft

    def _generation(self, request: Request, response: ProviderResponse, latency: float | None, *,
                    cached: bool, retries: int, ttft: float | None = None) -> Generation:
        # A cached answer keeps its original latency but never a TTFT: no first token was timed now.
        return Generation(sample_id=request.sample_id, model=self.name, model_id=self.spec.model,
                          attempt=request.attempt, prompt=request.prompt, output=response.text,
                          latency_s=latency, usage=response.usage,
                          cost_usd=call_cost(self.spec.price, response.usage), cached=cached, retries=retries,
                          ttft_s=ttft)

    async def run_batch(self, requests: list[Request], progress: Progress | None = None) -> BatchOutcome:
        """Answer the uncached `requests` through the provider's batch API into the cache (see
        evalkit.providers.batch); counts the requests the job was sent as calls."""
        if self._batch is None:
            raise ProviderError(f"model '{self.name}': provider '{self.spec.provider}' has no batch API",
                                retryable=False)
        outcome = await run_batch(self._batch, self.spec, [(self.call_key(r), r) for r in requests],
                                  self.cache if self._cacheable else None, progress=progress)
        self.stats.calls += outcome.submitted
        return outcome

    async def warmup(self) -> None:
        """Let the provider load what it needs before any call is timed (no-op for most providers)."""
        await self.provider.warmup()

    async def aclose(self) -> None:
        """Release the provider."""
        await self.provider.aclose()
