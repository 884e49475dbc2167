"""Guards for the client-side bottlenecks benchmarks/perf found, so they do not come back unnoticed.

1. `generate` (the hot path) goes over one aiohttp connection pool sized to the model's concurrency, never
   through a vendor SDK client (their httpx2 stacks cost 1.5-3.4 ms of CPU per call at 64 in flight).
2. httpcore's connection pool (under the SDKs, still used for streaming) does O(connections^2) work per
   request: streamed calls are spread over SDK clients of at most 8 connections, built on first use.
3. The mistralai SDK built two pydantic model classes per call (~4 ms of CPU): the provider makes it build
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


def request(i: int) -> Request:
    return Request(prompt=Prompt(messages=(Message(role="user", content=f"item {i}"),)))


def calls(provider, n: int, *, stream: bool = False) -> list[str]:  # type: ignore[no-untyped-def]
    async def one(i: int) -> str:
        if not stream:
            return (await provider.generate(request(i))).text
        return "".join([chunk.text async for chunk in provider.stream(request(i))])

    async def go() -> list[str]:
        try:
            return list(await asyncio.gather(*(one(i) for i in range(n))))
        finally:
            await provider.aclose()
    return asyncio.run(go())


@pytest.mark.parametrize("provider_name", ["mistral", "openai"])
@pytest.mark.parametrize("concurrency", [1, 9, 64])
def test_generate_uses_one_pool_sized_to_the_concurrency_and_no_sdk_client(
        provider_name: str, concurrency: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-guard-0000")
    with FakeLLMServer() as server:
        provider = create_provider(spec(provider_name, server, concurrency))
        sessions: list[tuple[int, int]] = []
        post = provider._transport.post

        async def spy(path: str, body: bytes):  # type: ignore[no-untyped-def]
            reply = await post(path, body)
            session = provider._transport._session
            sessions.append((id(session), session.connector.limit))
            return reply

        monkeypatch.setattr(provider._transport, "post", spy)
        assert calls(provider, 12) == [f"echo: item {i}" for i in range(12)]
        assert server.call_count == 12
    assert len(sessions) == 12 and len(set(sessions)) == 1  # one pool for every call ...
    assert sessions[0][1] == concurrency  # ... with as many connections as calls may be in flight
    assert provider._clients == [None] * _http.client_count(concurrency)  # no SDK client was ever built


@pytest.mark.parametrize("provider_name", ["mistral", "openai"])
@pytest.mark.parametrize(("concurrency", "clients"), [(1, 1), (8, 1), (9, 2), (64, 8)])
def test_streamed_calls_are_spread_over_small_sdk_pools(provider_name: str, concurrency: int, clients: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-guard-0000")
    assert _http.client_count(concurrency) == clients
    with FakeLLMServer() as server:
        provider = create_provider(spec(provider_name, server, concurrency))
        # Built lazily: a run that never streams pays for no SDK client (nor, for openai, the SDK's import).
        assert provider._clients == [None] * clients
        used: list[int] = []
        if provider_name == "openai":
            pick = type(provider).client
            monkeypatch.setattr(type(provider), "client", property(
                lambda self: (used.append(id(c := pick.fget(self))), c)[1]))  # type: ignore[union-attr]
        else:
            original = provider._next_client
            monkeypatch.setattr(provider, "_next_client", lambda: (used.append(id(c := original())), c)[1])
        assert calls(provider, 2 * clients, stream=True) == [f"echo: item {i}" for i in range(2 * clients)]
        assert server.call_count == 2 * clients
    # Round robin: every client took exactly two of the 2 x clients calls.
    assert sorted(used.count(u) for u in set(used)) == [2] * clients


def test_mistral_sdk_builds_its_models_once_per_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-guard-0000")
    from mistralai.client.utils import serializers

    with FakeLLMServer() as server:
        provider = create_provider(spec("mistral", server, 4))
        provider._sdk_modules()  # the SDK is loaded (and patched) on first use
        wrapper = serializers.create_model
        assert getattr(wrapper, "evalkit_cached", False)
        classes: list[type] = []
        monkeypatch.setattr(serializers, "create_model", lambda *a, **k: (classes.append(c := wrapper(*a, **k)), c)[1])
        assert calls(provider, 20, stream=True) == [f"echo: item {i}" for i in range(20)]
    # Each call (un)marshals several values; the SDK alone would build a class for each.
    assert len(classes) >= 40 and len({id(c) for c in classes}) <= 10


def test_heavy_clients_are_imported_only_by_a_call_that_needs_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`import openai` costs ~0.5 s, mistralai ~0.25 s, aiohttp ~0.15 s: building the providers (all a run served
    from the cache does) imports none of them, and an openai call imports aiohttp only, never the SDK."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "probe.py"
    script.write_text(
        "import asyncio, os, sys\n"
        "from fakeserver import FakeLLMServer\n"
        "from evalkit.model_spec import ModelSpec\n"
        "from evalkit.providers import create_provider\n"
        "from evalkit.records import Prompt, Request\n"
        "os.environ['MISTRAL_API_KEY'] = 'sk-probe'\n"
        "loaded = lambda: [m in sys.modules for m in ('aiohttp', 'openai', 'mistralai', 'httpx2')]\n"
        "with FakeLLMServer() as server:\n"
        "    p = create_provider(ModelSpec(name='m', provider='openai', model='x', base_url=server.url + '/v1'))\n"
        "    create_provider(ModelSpec(name='n', provider='mistral', model='x', base_url=server.url))\n"
        "    print(*loaded())\n"
        "    async def go():\n"
        "        try:\n"
        "            return (await p.generate(Request(prompt=Prompt(text='hi')))).text\n"
        "        finally:\n"
        "            await p.aclose()\n"
        "    print(asyncio.run(go()), *loaded())\n", encoding="utf-8")
    tests = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False,
                         env={"PYTHONPATH": f"{tests}:{tests.parent}", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    built, called = out.stdout.splitlines()
    assert built.split() == ["False", "False", "False", "False"]
    assert called.split() == ["echo:", "hi", "True", "False", "False", "False"]
