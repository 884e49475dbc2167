"""The fake LLM server itself, over plain urllib: recording, fault plans, and a shutdown that never hangs."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from fakeserver import FAULT_KINDS, Fault, FakeLLMServer


def post(server: FakeLLMServer, path: str, body: Any, timeout: float = 2.0) -> tuple[Any, Any]:
    """(status, parsed body) or (exception class name, None)."""
    req = urllib.request.Request(server.url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "X-Probe": "1"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            raw = res.read()
            try:
                return res.status, json.loads(raw)
            except ValueError:
                return res.status, raw
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)
    except Exception as exc:  # noqa: BLE001 - the kind of failure is what is asserted
        return type(exc).__name__, None


CHAT = {"model": "m", "messages": [{"role": "user", "content": "one two three"}]}


def test_answers_both_protocols_and_records_requests(fake_server: FakeLLMServer) -> None:
    status, chat = post(fake_server, "/v1/chat/completions", CHAT)
    assert status == 200 and chat["object"] == "chat.completion"
    assert chat["choices"][0]["message"] == {"role": "assistant", "content": "echo: one two three"}
    assert chat["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    status, text = post(fake_server, "/v1/completions", {"model": "m", "prompt": "abc"})
    assert status == 200 and text["choices"][0]["text"] == "echo: abc" and text["model"] == "m"
    assert post(fake_server, "/v1/nope", {})[0] == 404
    assert fake_server.call_count == 3
    first = fake_server.requests[0]
    assert (first.path, first.body, first.headers["x-probe"], first.fault) == ("/v1/chat/completions", CHAT, "1", None)


def test_queued_faults_apply_in_order_then_stop(fake_server: FakeLLMServer) -> None:
    fake_server.queue_faults("rate_limit", Fault("server_error"), "malformed", "drop", "bad_request")
    results = [post(fake_server, "/v1/chat/completions", CHAT) for _ in range(6)]
    assert results[0][0] == 429 and results[0][1]["Retry-After"] == "1"
    assert results[1][0] == 500
    assert results[2][0] == 200 and isinstance(results[2][1], bytes)  # not JSON
    assert results[3][0] == "RemoteDisconnected"
    assert results[4][0] == 400
    assert results[5][0] == 200
    assert [r.fault for r in fake_server.requests] == ["rate_limit", "server_error", "malformed", "drop",
                                                       "bad_request", None]


def test_fault_rates_are_reproducible_with_a_seed() -> None:
    def kinds(seed: int) -> list[str | None]:
        with FakeLLMServer(fault_rates={"server_error": 0.3, "rate_limit": 0.2}, seed=seed) as server:
            for _ in range(30):
                post(server, "/v1/chat/completions", CHAT)
            return [r.fault for r in server.requests]

    a, b = kinds(1), kinds(1)
    assert a == b
    assert {"server_error", "rate_limit", None} == set(a)
    assert kinds(2) != a


def test_stop_does_not_wait_for_a_sleeping_handler() -> None:
    server = FakeLLMServer(faults=["timeout"], timeout_sleep_s=60, latency_s=0.0).start()
    client = threading.Thread(target=post, args=(server, "/v1/chat/completions", CHAT, 30), daemon=True)
    client.start()
    deadline = time.monotonic() + 5
    while server.call_count == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 2.0
    client.join(timeout=2)
    assert not client.is_alive()  # the sleeping handler was woken and closed the connection


def test_latency_is_applied(fake_server: FakeLLMServer) -> None:
    fake_server.latency_s = 0.2
    start = time.monotonic()
    assert post(fake_server, "/v1/chat/completions", CHAT)[0] == 200
    assert time.monotonic() - start >= 0.2


@pytest.mark.parametrize(("rates", "needle"), [({"explode": 0.1}, "unknown fault"), ({"drop": 1.5}, r"\[0, 1\]"),
                                               ({"drop": 0.6, "timeout": 0.6}, "sum")])
def test_bad_fault_plans_are_rejected(rates: dict[str, float], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        FakeLLMServer(fault_rates=rates)


def test_every_fault_kind_is_known() -> None:
    assert set(FAULT_KINDS) == {"rate_limit", "server_error", "bad_request", "unauthorized", "timeout", "drop",
                                "malformed"}
