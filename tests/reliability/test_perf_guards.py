"""Guards for the two client-side bottlenecks benchmarks/perf found, so they do not come back unnoticed.

1. httpcore's connection pool does O(connections^2) work per request: with 64 calls in flight on one client it
   cost ~10 ms of CPU per call. Providers spread calls over clients of at most 8 connections.
2. The mistralai SDK built two pydantic model classes per call (~4 ms of CPU). The provider makes it build
   each once per type.
"""

from __future__ import annotations

import asyncio

import pytest
from fakeserver import FakeLLMServer

from evalkit.model_spec import ModelSpec
from evalkit.providers import _http, create_provider
from evalkit.records import Message, Prompt, Request

KEY_ENV = "EVALKIT_GUARD_KEY"


def spec(provider: str, server: FakeLLMServer, concurrency: int) -> ModelSpec:
    return ModelSpec(name="m", provider=provider, model="m-id", concurrency=concurrency, api_key_env=KEY_ENV,
                     base_url=server.url + ("/v1" if provider == "openai" else ""))


def calls(provider, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    async def go() -> list[str]:
        try:
            out = await asyncio.gather(*(provider.generate(Request(prompt=Prompt(messages=(
                Message(role="user", content=f"item {i}"),)))) for i in range(n)))
            return [o.text for o in out]
        finally:
            await provider.aclose()
    return asyncio.run(go())


@pytest.mark.parametrize("provider_name", ["mistral", "openai"])
@pytest.mark.parametrize(("concurrency", "clients"), [(1, 1), (8, 1), (9, 2), (64, 8)])
def test_calls_are_spread_over_small_connection_pools(provider_name: str, concurrency: int, clients: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-guard-0000")
    assert _http.client_count(concurrency) == clients
    with FakeLLMServer() as server:
        provider = create_provider(spec(provider_name, server, concurrency))
        # Built lazily: a run served from the cache pays for one client (its SSL context), not eight.
        assert [c is not None for c in provider._clients] == [True] + [False] * (clients - 1)
        used: list[int] = []
        pick = type(provider).client if provider_name == "openai" else None
        if provider_name == "openai":
            monkeypatch.setattr(type(provider), "client", property(
                lambda self: (used.append(id(c := pick.fget(self))), c)[1]))  # type: ignore[union-attr]
        else:
            original = provider._next_client
            monkeypatch.setattr(provider, "_next_client", lambda: (used.append(id(c := original())), c)[1])
        assert calls(provider, 2 * clients) == [f"echo: item {i}" for i in range(2 * clients)]
        assert server.call_count == 2 * clients
    # Round robin: every client took exactly two of the 2 x clients calls.
    assert sorted(used.count(u) for u in set(used)) == [2] * clients


def test_mistral_sdk_builds_its_models_once_per_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-guard-0000")
    from mistralai.client.utils import serializers

    with FakeLLMServer() as server:
        provider = create_provider(spec("mistral", server, 4))
        wrapper = serializers.create_model
        assert getattr(wrapper, "evalkit_cached", False)
        classes: list[type] = []
        monkeypatch.setattr(serializers, "create_model", lambda *a, **k: (classes.append(c := wrapper(*a, **k)), c)[1])
        assert calls(provider, 20) == [f"echo: item {i}" for i in range(20)]
    # Each call (un)marshals several values (8 with mistralai 3.7); the SDK alone would build a class for each.
    assert len(classes) >= 40 and len({id(c) for c in classes}) <= 10
