"""The lean `generate` of the openai and mistral providers against their vendor SDK, on the same wire.

`generate` POSTs over aiohttp instead of going through the SDK (see the providers' docstrings). These tests send
every kind of request both ways to a loopback server that records the raw request, and answer both ways with
the same scripted responses (successes, every error status, Retry-After, malformed and odd bodies, odd content
types), then check that the lean path sends the same JSON body (members and order) and headers as the SDK, and
ends in the same ProviderResponse or the same ProviderError (message, retryable, status, Retry-After) as the SDK
path did. The SDK path is the previous `generate`, assembled from the provider's own SDK-facing methods.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest

from evalkit.errors import ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.providers import create_provider
from evalkit.records import GenerationParams, Message, Prompt, ProviderResponse, Request

KEY_ENV = "EVALKIT_PARITY_KEY"
KEY = "sk-parity-5ecr3t-0123456789"
SCHEMA = {"type": "object", "properties": {"label": {"enum": ["yes", "no"]}}, "required": ["label"]}


@dataclass
class Scripted:
    """One scripted answer: status, headers, body bytes; `drop` closes the connection without a response."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    drop: bool = False


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    raw: bytes


class RawServer:
    """A loopback HTTP/1.1 server answering POSTs from a queue of Scripted answers and recording raw requests."""

    def __init__(self) -> None:
        self.answers: deque[Scripted] = deque()
        self.seen: list[Seen] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, raw))
                answer = outer.answers.popleft() if outer.answers else Scripted(body=ok_body())
                if answer.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(answer.status)
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def ok_body(content: Any = "positive", **extra: Any) -> bytes:
    doc = {"id": "cmpl-1", "object": "chat.completion", "created": 1700000000, "model": "m-id",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9}}
    doc.update(extra)
    return json.dumps(doc).encode()


@pytest.fixture
def server() -> Any:
    with RawServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    for var in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_CUSTOM_HEADERS"):
        monkeypatch.delenv(var, raising=False)


def provider_for(name: str, srv: RawServer, **options: Any) -> Any:
    spec = ModelSpec(name="m", provider=name, model="m-id", api_key_env=KEY_ENV, timeout_s=5.0,
                     base_url=srv.url + "/v1", options=options)
    return create_provider(spec)


async def sdk_generate(provider: Any, request: Request) -> ProviderResponse:
    """What `generate` did before the lean path: the vendor SDK's call, the provider's classify and parse."""
    if provider.spec.provider == "openai":
        from openai.types import Completion
        from openai.types.chat import ChatCompletion

        chat = request.prompt.is_chat
        path, body = provider.request_body(request)
        try:
            response = await provider.client.post(path, body=body, cast_to=ChatCompletion if chat else Completion)
        except Exception as exc:
            raise provider.classify(exc) from exc
        return provider.parse_response(response, chat=chat)
    try:
        response = await provider.client.chat.complete_async(**provider.request_kwargs(request))
    except Exception as exc:
        raise provider.classify(exc) from exc
    return provider.parse_response(response)


def outcome(coro: Any) -> tuple[Any, ...]:
    """A call's result as comparable values: the ProviderResponse, or the error's message and classification."""
    async def go() -> Any:
        try:
            return ("ok", await coro)
        except ProviderError as exc:
            return ("error", str(exc), exc.retryable, exc.status, exc.retry_after)
        except Exception as exc:  # noqa: BLE001 - not a ProviderError: the wrapper fails the sample with its type
            return ("crash", type(exc).__name__)
    return asyncio.run(go())


def both(name: str, srv: RawServer, request: Request, answer: Scripted, **options: Any) -> tuple[Any, Any]:
    """The lean and the SDK outcome of one request answered with `answer` each time."""
    results = []
    for lean in (True, False):
        provider = provider_for(name, srv, **options)
        srv.answers.append(answer)

        async def call(p: Any = provider, lean: bool = lean) -> ProviderResponse:
            try:
                return await (p.generate(request) if lean else sdk_generate(p, request))
            finally:
                await p.aclose()
        results.append(outcome(call()))
    return results[0], results[1]


CHAT = Request(prompt=Prompt(messages=(Message(role="system", content="Classify."),
                                       Message(role="user", content="héllo ✓ \"quoted\" \n newline"))))
REQUESTS = {
    "chat": CHAT,
    "chat-all-params": Request(
        prompt=Prompt(messages=(Message(role="system", content="S"), Message(role="user", content="u1"),
                                Message(role="assistant", content="a1"), Message(role="tool", content="t1"),
                                Message(role="user", content="u2"))),
        params=GenerationParams(temperature=0.7, max_tokens=33, top_p=0.9, seed=1234, stop=("\n\n", "END"),
                                json_schema=SCHEMA)),
    "text": Request(prompt=Prompt(text="The capital of France is")),
    "text-all-params": Request(prompt=Prompt(text="Q: 2+2?\nA:"),
                               params=GenerationParams(temperature=0.3, max_tokens=12, top_p=0.8, seed=7,
                                                       stop=("###",), json_schema=SCHEMA)),
    "seed-zero": Request(prompt=Prompt(text="x"), params=GenerationParams(seed=0, temperature=1e-7)),
}
# Headers that describe the connection, not the call (the length follows from the JSON spacing).
TRANSPORT_HEADERS = {"host", "content-length"}


@pytest.mark.parametrize("name", ["openai", "mistral"])
@pytest.mark.parametrize("which", sorted(REQUESTS))
def test_the_same_body_and_headers_as_the_sdk(name: str, which: str, server: RawServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    if name == "openai":  # what the SDK reads from the environment goes on the wire both ways
        monkeypatch.setenv("OPENAI_ORG_ID", "org-1")
        monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-1")
        monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Env: from-env\nX-Team: env-loses")
    options = {"headers": {"X-Team": "eval", "user-agent": "custom-agent/1"}} if name == "openai" else {}
    lean, sdk = both(name, server, REQUESTS[which], Scripted(body=ok_body()), **options)
    assert lean == sdk and lean[0] == "ok"
    lean_seen, sdk_seen = server.seen
    assert lean_seen.path == sdk_seen.path
    # The same JSON: members, values and order (json.loads keeps the order of the members).
    assert list(json.loads(lean_seen.raw).items()) == list(json.loads(sdk_seen.raw).items())
    strip = lambda h: {k: v for k, v in h.items() if k not in TRANSPORT_HEADERS}
    assert strip(lean_seen.headers) == strip(sdk_seen.headers)
    assert lean_seen.headers["authorization"] == f"Bearer {KEY}"
    if name == "openai":
        assert lean_seen.headers["x-team"] == "eval" and lean_seen.headers["x-env"] == "from-env"
        assert lean_seen.headers["user-agent"] == "custom-agent/1"
        assert lean_seen.headers["openai-organization"] == "org-1"


def json_answer(status: int, doc: Any, **headers: str) -> Scripted:
    return Scripted(status, json.dumps(doc).encode(), {"Content-Type": "application/json", **headers})


ANSWERS = {
    "ok": Scripted(body=ok_body()),
    "ok-charset": Scripted(body=ok_body(), headers={"Content-Type": "application/json; charset=utf-8"}),
    "ok-extra-members": Scripted(body=ok_body(system_fingerprint="fp", service_tier="default")),
    "ok-no-usage": Scripted(body=json.dumps({k: v for k, v in json.loads(ok_body()).items() if k != "usage"}).encode()),
    "ok-usage-as-strings": Scripted(body=ok_body(usage={"prompt_tokens": "12", "completion_tokens": "3",
                                                        "total_tokens": "15"})),
    "ok-null-content": Scripted(body=ok_body(content=None)),
    "ok-chunked-content": Scripted(body=ok_body(content=[{"type": "thinking", "thinking": [{"type": "text",
                                                                                              "text": "hm"}]},
                                                         {"type": "text", "text": "neg"},
                                                         {"type": "text", "text": "ative"}])),
    "ok-int-content": Scripted(body=ok_body(content=7)),
    "ok-no-id": Scripted(body=json.dumps({k: v for k, v in json.loads(ok_body()).items() if k != "id"}).encode()),
    "rate-limit": json_answer(429, {"error": {"message": "slow down", "type": "rate_limited"}}, **{"Retry-After": "7"}),
    "rate-limit-ms": json_answer(429, {"message": "slow down"}, **{"retry-after-ms": "250", "Retry-After": "9"}),
    "server-error-text": Scripted(500, b"upstream exploded", {"Content-Type": "text/plain"}),
    "bad-gateway-html": Scripted(502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}),
    "bad-request": json_answer(400, {"object": "error", "message": "bad max_tokens", "type": "invalid_request"}),
    "unauthorized-echo": json_answer(401, {"message": f"invalid api key {KEY}"}),
    "not-found-empty": Scripted(404, b"", {"Content-Type": "application/json"}),
    "unprocessable": json_answer(422, {"detail": [{"loc": ["body", "max_tokens"], "msg": "too big",
                                                   "type": "value_error"}]}),
    "unprocessable-not-json": Scripted(422, b"{nope", {"Content-Type": "application/json"}),
    "truncated-json": Scripted(200, b'{"id": "cmpl-bad", "object": "chat.completion", "choices": [{"index": 0, "mess'),
    "html-200": Scripted(200, b"<html>login</html>", {"Content-Type": "text/html"}),
    "json-without-content-type": Scripted(200, ok_body(), {}),
    "null": Scripted(200, b"null"),
    "list": Scripted(200, b"[1, 2]"),
    "no-choices": Scripted(200, b'{"id": "x", "object": "chat.completion", "choices": []}'),
    "choice-without-message": Scripted(200, json.dumps({**json.loads(ok_body()), "choices": [{"index": 0}]}).encode()),
    "no-content-204": Scripted(204, b"", {}),
}
@pytest.mark.parametrize("name", ["openai", "mistral"])
@pytest.mark.parametrize("which", sorted(ANSWERS))
@pytest.mark.parametrize("request_", ["chat", "text"])
def test_the_same_outcome_as_the_sdk(name: str, which: str, request_: str, server: RawServer) -> None:
    lean, sdk = both(name, server, REQUESTS[request_], ANSWERS[which])
    assert lean == sdk
    assert KEY not in repr(lean)


@pytest.mark.parametrize("name", ["openai", "mistral"])
def test_a_dropped_connection_is_the_same_retryable_connection_failure(name: str, server: RawServer) -> None:
    lean, sdk = both(name, server, CHAT, Scripted(drop=True))
    # The transport's own exception is named in the message (aiohttp's vs httpx2's); the classification is equal.
    assert lean[0] == sdk[0] == "error" and lean[2:] == sdk[2:] == (True, None, None)
    assert "API connection failed" in lean[1] and "API connection failed" in sdk[1]


class RecordingProxy:
    """A forward HTTP proxy on loopback that records the absolute URLs it is asked for and relays the calls."""

    def __init__(self) -> None:
        import http.client
        from urllib.parse import urlsplit

        self.urls: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                outer.urls.append(self.path)
                target = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "host")}
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                conn.request("POST", target.path, body=body, headers=headers)
                res = conn.getresponse()
                data = res.read()
                self.send_response(res.status)
                for k, v in res.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("name", ["openai", "mistral"])
def test_the_environment_proxy_is_used_as_by_the_sdk(name: str, server: RawServer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = RecordingProxy()
    try:
        for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        lean, sdk = both(name, server, CHAT, Scripted(body=ok_body()))
        assert lean == sdk and lean[0] == "ok"
        assert proxy.urls == [server.url + "/v1/chat/completions"] * 2  # both calls went through the proxy
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        both(name, server, CHAT, Scripted(body=ok_body()))
        assert len(proxy.urls) == 2 and len(server.seen) == 4  # ... and NO_PROXY bypasses it, both ways
    finally:
        proxy.close()


def test_the_default_mistral_server_is_the_sdks() -> None:
    from mistralai.client.sdkconfiguration import SERVERS

    from evalkit.providers.mistral import DEFAULT_SERVER_URL

    assert DEFAULT_SERVER_URL == SERVERS["global"]
