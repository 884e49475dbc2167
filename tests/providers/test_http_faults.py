"""Failure classification of both HTTP providers (real SDKs, fake server): what is retryable, Retry-After,
no retries inside the SDKs, and no API key in any error message."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from fakeserver import Fault, FakeLLMServer

from evalkit.errors import ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.providers import create_provider
from evalkit.providers._http import parse_retry_after
from evalkit.records import Message, Prompt, Request

KEY_ENV = "EVALKIT_TEST_API_KEY"
PROVIDERS = ("mistral", "openai")
CHAT = Request(prompt=Prompt(messages=(Message(role="user", content="hello"),)))
TEXT = Request(prompt=Prompt(text="hello"))


def make_spec(provider: str, server: FakeLLMServer, timeout_s: float = 5.0) -> ModelSpec:
    base = server.url + ("/v1" if provider == "openai" else "")
    return ModelSpec(name="ft", provider=provider, model="ft:open-mistral-7b:abc:123", base_url=base,
                     api_key_env=KEY_ENV, timeout_s=timeout_s)


def fail(provider: str, server: FakeLLMServer, request: Request = CHAT, timeout_s: float = 5.0) -> ProviderError:
    """Make one call that must fail, and return its ProviderError."""
    p = create_provider(make_spec(provider, server, timeout_s))

    async def go() -> None:
        try:
            await p.generate(request)
        finally:
            await p.aclose()

    with pytest.raises(ProviderError) as err:
        asyncio.run(go())
    return err.value


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("fault", "status", "retryable"), [
    ("rate_limit", 429, True),
    ("server_error", 500, True),
    ("bad_request", 400, False),
    ("unauthorized", 401, False),
])
def test_status_faults(provider: str, fault: str, status: int, retryable: bool,
                       fake_server: FakeLLMServer, api_key: str) -> None:
    fake_server.queue_faults(Fault(fault, retry_after="7"))  # type: ignore[arg-type]
    err = fail(provider, fake_server)
    assert (err.status, err.retryable) == (status, retryable)
    assert err.retry_after == (7.0 if fault == "rate_limit" else None)
    assert "'ft'" in str(err) and f"HTTP {status}" in str(err) and f"fake {fault}" in str(err)
    assert api_key not in str(err)
    assert fake_server.call_count == 1  # the SDK did not retry on its own


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retry_after_as_http_date(provider: str, fake_server: FakeLLMServer, api_key: str) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    fake_server.queue_faults(Fault("rate_limit", retry_after=format_datetime(when, usegmt=True)))
    err = fail(provider, fake_server)
    assert err.retry_after is not None and 25 <= err.retry_after <= 31


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", ["malformed", "drop"])
@pytest.mark.parametrize("request_", [CHAT, TEXT], ids=["chat", "text"])
def test_malformed_body_and_dropped_connection_are_retryable(
        provider: str, fault: str, request_: Request, fake_server: FakeLLMServer, api_key: str) -> None:
    fake_server.queue_faults(fault)  # type: ignore[arg-type]
    err = fail(provider, fake_server, request_)
    assert err.retryable and err.retry_after is None
    assert ("malformed" if fault == "malformed" else "connection failed") in str(err)
    assert api_key not in str(err)
    assert fake_server.call_count == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_timeout_is_retryable_and_bounded_by_the_spec(provider: str, fake_server: FakeLLMServer,
                                                      api_key: str) -> None:
    fake_server.queue_faults("timeout")
    start = time.monotonic()
    err = fail(provider, fake_server, timeout_s=0.3)
    assert time.monotonic() - start < 3.0  # the server sleeps 5 s: the client gave up on its own timeout
    assert err.retryable and "timed out" in str(err)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_refused_connection_is_retryable(provider: str, api_key: str) -> None:
    with FakeLLMServer() as server:
        spec_ = make_spec(provider, server)
    # The server is stopped: its port now refuses connections.
    p = create_provider(spec_)

    async def go() -> None:
        try:
            await p.generate(CHAT)
        finally:
            await p.aclose()

    with pytest.raises(ProviderError) as err:
        asyncio.run(go())
    assert err.value.retryable


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_key_echoed_by_the_server_is_redacted(provider: str, fake_server: FakeLLMServer, api_key: str) -> None:
    fake_server.queue_faults(Fault("bad_request", message=f"invalid api key {api_key}"))
    err = fail(provider, fake_server)
    assert api_key not in str(err) and "***" in str(err)
    assert fake_server.last_request.headers["authorization"] == f"Bearer {api_key}"  # it was sent, though


@pytest.mark.parametrize("provider", PROVIDERS)
def test_recovers_after_a_fault(provider: str, fake_server: FakeLLMServer, api_key: str) -> None:
    fake_server.queue_faults("drop")
    p = create_provider(make_spec(provider, fake_server))

    async def go() -> str:
        try:
            with pytest.raises(ProviderError):
                await p.generate(CHAT)
            return (await p.generate(CHAT)).text
        finally:
            await p.aclose()

    assert asyncio.run(go()) == "echo: hello"
    assert [r.fault for r in fake_server.requests] == ["drop", None]


NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Retry-After": "12"}, 12.0),
    ({"retry-after": "1.5"}, 1.5),
    ({"Retry-After": "Wed, 01 Jan 2025 12:00:20 GMT"}, 20.0),
    ({"Retry-After": "Wed, 01 Jan 2025 11:00:00 GMT"}, 0.0),  # a date in the past: retry now
    ({"Retry-After": "-3"}, 0.0),
    ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
    ({"Retry-After": "soon"}, None),
    ({"Retry-After": "nan"}, None),
    ({}, None),
    (None, None),
])
def test_parse_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == expected
