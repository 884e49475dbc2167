"""Fixtures shared across the test suite: a loopback fake LLM server (see fakeserver.py) and a fake API key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakeserver import FakeLLMServer

FAKE_KEY_ENV = "EVALKIT_TEST_API_KEY"
FAKE_KEY = "sk-test-5ecr3t-do-not-leak-0123456789"


@pytest.fixture
def fake_server() -> Iterator[FakeLLMServer]:
    """A started FakeLLMServer, stopped after the test (sleeping handlers included)."""
    with FakeLLMServer(timeout_sleep_s=5.0) as server:
        yield server


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Sets the fake key in FAKE_KEY_ENV (and MISTRAL_API_KEY, the mistral default) for one test."""
    monkeypatch.setenv(FAKE_KEY_ENV, FAKE_KEY)
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_KEY)
    return FAKE_KEY
