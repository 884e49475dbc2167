"""The model wrapper: retries with backoff, bounded retry budget, timeouts, cache, concurrency, cost."""

from __future__ import annotations

import asyncio

import pytest

from evalkit.cache import ResponseCache
from evalkit.errors import ProviderError
from evalkit.model import Model, call_cost
from evalkit.model_spec import ModelSpec, Price
from evalkit.providers import Provider
from evalkit.records import GenerationParams, Prompt, ProviderResponse, Request, Usage
from evalkit.retry import RetryPolicy

FAST = RetryPolicy(base_delay_s=0.001, max_delay_s=0.004, max_retry_after_s=0.05)


class ScriptedProvider(Provider):
    """Fails with the queued errors first, then answers; records concurrency."""

    def __init__(self, errors=(), delay: float = 0.0) -> None:
        super().__init__(spec())
        self.errors = list(errors)
        self.delay = delay
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    async def generate(self, request: Request) -> ProviderResponse:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if self.errors:
                err = self.errors.pop(0)
                if err == "hang":
                    await asyncio.sleep(10)
                raise err
            return ProviderResponse(text=f"echo:{request.prompt.text}", usage=Usage(prompt_tokens=1000, completion_tokens=500))
        finally:
            self.in_flight -= 1


def spec(**kw) -> ModelSpec:
    return ModelSpec(name="m", provider="openai", model="x", **kw)


def req(text="hi", sample="s1") -> Request:
    return Request(prompt=Prompt(text=text), params=GenerationParams(), sample_id=sample)


def test_retries_retryable_errors_then_succeeds() -> None:
    p = ScriptedProvider([ProviderError("429", retryable=True, retry_after=0.01),
                          ProviderError("500", retryable=True)])
    m = Model(spec=spec(), provider=p, retry=FAST)
    g = asyncio.run(m.generate(req()))
    assert g.ok and g.output == "echo:hi"
    assert g.retries == 2 and p.calls == 3 and m.stats.retries == 2


def test_retry_budget_is_bounded_and_failure_is_recorded() -> None:
    p = ScriptedProvider([ProviderError("500 boom", retryable=True)] * 10)
    m = Model(spec=spec(max_retries=3), provider=p, retry=FAST)
    g = asyncio.run(m.generate(req()))
    assert not g.ok and g.output is None
    assert "500 boom" in g.error and "gave up after 4 tries" in g.error
    assert p.calls == 4 and m.stats.failures == 1


def test_non_retryable_error_is_not_retried() -> None:
    p = ScriptedProvider([ProviderError("401 unauthorized", retryable=False)])
    m = Model(spec=spec(), provider=p, retry=FAST)
    g = asyncio.run(m.generate(req()))
    assert p.calls == 1 and "not retryable" in g.error


def test_timeout_is_retried() -> None:
    p = ScriptedProvider(["hang"])
    m = Model(spec=spec(timeout_s=0.05), provider=p, retry=FAST)
    g = asyncio.run(m.generate(req()))
    assert g.ok and g.retries == 1 and p.calls == 2


def test_unexpected_exception_fails_the_sample_not_the_run() -> None:
    p = ScriptedProvider([KeyError("bug")])
    g = asyncio.run(Model(spec=spec(), provider=p, retry=FAST).generate(req()))
    assert not g.ok and "KeyError" in g.error


def test_concurrency_is_bounded_per_model() -> None:
    p = ScriptedProvider(delay=0.02)
    m = Model(spec=spec(concurrency=3), provider=p, retry=FAST)

    async def go():
        return await asyncio.gather(*(m.generate(req(str(i), f"s{i}")) for i in range(12)))

    gens = asyncio.run(go())
    assert all(g.ok for g in gens)
    assert p.max_in_flight == 3


def test_cache_serves_repeat_calls_without_provider_calls(tmp_path) -> None:
    cache = ResponseCache.in_dir(tmp_path)
    p = ScriptedProvider()
    first = asyncio.run(Model(spec=spec(), provider=p, cache=cache).generate(req()))
    again = asyncio.run(Model(spec=spec(), provider=p, cache=cache).generate(req(sample="other-sample")))
    assert p.calls == 1
    assert again.cached and not first.cached
    assert again.output == first.output and again.latency_s == pytest.approx(first.latency_s)
    assert again.sample_id == "other-sample"
    # Different parameters or attempt are different calls.
    asyncio.run(Model(spec=spec(), provider=p, cache=cache).generate(
        Request(prompt=Prompt(text="hi"), params=GenerationParams(temperature=0.5))))
    asyncio.run(Model(spec=spec(), provider=p, cache=cache).generate(Request(prompt=Prompt(text="hi"), attempt=1)))
    assert p.calls == 3


def test_failures_are_not_cached(tmp_path) -> None:
    cache = ResponseCache.in_dir(tmp_path)
    p = ScriptedProvider([ProviderError("400", retryable=False)])
    asyncio.run(Model(spec=spec(), provider=p, cache=cache).generate(req()))
    g = asyncio.run(Model(spec=spec(), provider=p, cache=cache).generate(req()))
    assert g.ok and p.calls == 2 and len(cache) == 1


def test_cost_uses_price_and_is_unknown_without_one() -> None:
    price = Price(input_per_mtok=2.0, output_per_mtok=6.0)
    assert call_cost(price, Usage(prompt_tokens=1000, completion_tokens=500)) == pytest.approx(0.002 + 0.003)
    assert call_cost(None, Usage(prompt_tokens=1000, completion_tokens=500)) is None
    assert call_cost(price, Usage(prompt_tokens=None, completion_tokens=3)) is None
    g = asyncio.run(Model(spec=spec(price=price), provider=ScriptedProvider()).generate(req()))
    assert g.cost_usd == pytest.approx(0.005)
    g = asyncio.run(Model(spec=spec(), provider=ScriptedProvider()).generate(req()))
    assert g.cost_usd is None


def test_retry_delay_backs_off_and_honours_retry_after() -> None:
    import random

    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0, max_retry_after_s=30.0)
    rng = random.Random(0)
    delays = [policy.delay(n, None, rng) for n in range(6)]
    for n, d in enumerate(delays):
        cap = min(8.0, 2 ** n)
        assert cap / 2 <= d <= cap
    assert policy.delay(0, 12.0, rng) == 12.0
    assert policy.delay(0, 3600.0, rng) == 30.0


class WarmingProvider(ScriptedProvider):
    """Records the order of warm-ups, rate-limiter slots and calls."""

    def __init__(self, events: list[str], slow: bool = False) -> None:
        super().__init__()
        self.events = events
        self.slow = slow

    @property
    def slow_warmup(self) -> bool:  # type: ignore[override]
        return self.slow

    async def warmup(self) -> None:
        self.events.append("warmup")

    async def generate(self, request: Request) -> ProviderResponse:
        self.events.append("call")
        return await super().generate(request)


class RecordingLimiter:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    async def acquire(self) -> None:
        self.events.append("slot")


def test_a_quick_warmup_runs_once_before_the_first_slot_and_call() -> None:
    events: list[str] = []
    m = Model(spec=spec(), provider=WarmingProvider(events), limiter=RecordingLimiter(events))  # type: ignore[arg-type]

    async def go():
        return await asyncio.gather(*(m.generate(req(str(i), f"s{i}")) for i in range(3)))

    assert all(g.ok for g in asyncio.run(go()))
    assert events == ["warmup", "slot", "call", "slot", "call", "slot", "call"]
    # A slow warm-up (loading weights) is the runner's to schedule, one model at a time: never implied here.
    slow: list[str] = []
    asyncio.run(Model(spec=spec(), provider=WarmingProvider(slow, slow=True)).generate(req()))
    assert slow == ["call"]
