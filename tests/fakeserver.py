"""A loopback fake LLM server speaking the Mistral and OpenAI chat/completions JSON protocols, with faults.

Used by the provider tests and by any test that needs a model endpoint without a network or a key:

    with FakeLLMServer(responder=lambda body: "positive") as server:
        spec = ModelSpec(name="ft", provider="mistral", model="ft:x", base_url=server.url, ...)
        server.queue_faults("rate_limit", "drop")      # the next two requests fail, then all succeed
        ...
        assert server.call_count == 3

Endpoints: POST /v1/chat/completions (Mistral and OpenAI share the shape) and POST /v1/completions (OpenAI's
legacy text completions). Every request is recorded (path, lower-cased headers, parsed body, fault applied).
A body with `"stream": true` is answered with server-sent events (one chunk per word, `chunk_delay_s` apart,
usage in the last chunk, then `data: [DONE]`); `latency_s` is then the time to the first byte.
GET /v1/fine_tuning/jobs/{id} answers the job stored in `jobs[id]` (404 otherwise), for the fine-tuning
metrics command.

Faults, applied to one request each, either from an explicit queue (first) or drawn at random from
`fault_rates` with `seed`:
    rate_limit    429 with a Retry-After header (`Fault.retry_after`, seconds or an HTTP-date)
    server_error  500
    bad_request   400 (not retryable)
    unauthorized  401 (not retryable)
    timeout       no answer for `timeout_sleep_s` (longer than the client's timeout), then a normal answer
    drop          the connection is closed without any response
    malformed     200 with a truncated, invalid JSON body
"""

from __future__ import annotations

import json
import random
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = ["FAULT_KINDS", "FakeLLMServer", "Fault", "RecordedRequest", "Reply", "echo_responder"]

FaultKind = Literal["rate_limit", "server_error", "bad_request", "unauthorized", "timeout", "drop", "malformed"]
FAULT_KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]

_STATUS = {"rate_limit": 429, "server_error": 500, "bad_request": 400, "unauthorized": 401}
_ERROR_TYPES = {429: "rate_limited", 500: "internal_error", 400: "invalid_request_error", 401: "unauthorized"}


@dataclass(frozen=True)
class Fault:
    """One fault to apply to one request."""

    kind: FaultKind
    retry_after: str | None = "1"
    """The Retry-After header sent with `rate_limit` (None sends no header)."""
    message: str | None = None
    """The error message in the JSON body of a status fault (default: `fake <kind>`)."""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")


@dataclass(frozen=True)
class Reply:
    """What a responder may return instead of a plain string, to control finish reason, usage or chunks."""

    content: str | list[dict[str, Any]]
    """The message content; a list of chunks (`{"type": "text", "text": ...}`) mimics Mistral's SDK 3 shape."""
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    """The parsed JSON body (None when it was not JSON)."""
    fault: str | None = None
    """The fault applied to this request, if any."""
    received_at: float = 0.0
    """`time.monotonic()` when the request arrived (to check client-side waits such as Retry-After)."""


Responder = Callable[[dict[str, Any]], "str | Reply"]


def echo_responder(body: dict[str, Any]) -> str:
    """The default content: `echo: ` plus the last message (or the completion prompt), deterministically."""
    if "messages" in body:
        messages = body.get("messages") or [{}]
        last = messages[-1].get("content", "")
        if isinstance(last, list):  # chunked content
            last = "".join(c.get("text", "") for c in last if isinstance(c, dict))
        return f"echo: {last}"
    prompt = body.get("prompt", "")
    return f"echo: {prompt if isinstance(prompt, str) else json.dumps(prompt)}"


def _count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: whitespace-separated words, at least 1."""
    return max(1, len(text.split()))


def _content_text(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(c.get("text", "")) for c in content)


def _prompt_text(body: dict[str, Any]) -> str:
    if "messages" in body:
        parts = []
        for m in body.get("messages") or []:
            c = m.get("content", "") if isinstance(m, dict) else ""
            parts.append(c if isinstance(c, str) else json.dumps(c))
        return " ".join(parts)
    prompt = body.get("prompt", "")
    return prompt if isinstance(prompt, str) else json.dumps(prompt)


class FakeLLMServer:
    """A ThreadingHTTPServer on 127.0.0.1 (ephemeral port) in a daemon thread; a context manager.

    Args:
        responder: body -> content (str or Reply); default `echo_responder`.
        latency_s: fixed delay before every answer.
        faults: faults for the next requests, in order (kind names or Fault objects).
        fault_rates: {kind: probability} drawn per request (after the queue is empty), with `seed`.
        seed: seed of the fault draws, so a run with fault_rates is reproducible.
        timeout_sleep_s: how long a `timeout` fault keeps the client waiting (interrupted by `stop()`).
        model_in_response: the `model` field answered; default echoes the requested model.
        rate_limit_retry_after: the Retry-After header of `rate_limit` faults drawn from `fault_rates`
            (queued faults carry their own); small values keep fault-injection runs fast.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency_s: float = 0.0,
        faults: Iterable[FaultKind | Fault] = (),
        fault_rates: Mapping[str, float] | None = None,
        seed: int = 0,
        timeout_sleep_s: float = 10.0,
        model_in_response: str | None = None,
        rate_limit_retry_after: str | None = "1",
        chunk_delay_s: float = 0.0,
        jobs: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self.responder: Responder = responder or echo_responder
        self.latency_s = latency_s
        self.timeout_sleep_s = timeout_sleep_s
        self.model_in_response = model_in_response
        self.rate_limit_retry_after = rate_limit_retry_after
        self.chunk_delay_s = chunk_delay_s
        self.jobs: dict[str, dict[str, Any]] = dict(jobs or {})
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._rates: dict[str, float] = {}
        self._rng = random.Random(seed)
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.queue_faults(*faults)
        self.set_fault_rates(fault_rates or {})

    # -- configuration -----------------------------------------------------------------------------------

    def queue_faults(self, *faults: FaultKind | Fault) -> None:
        """Apply these faults to the next len(faults) requests, in order (after any already queued)."""
        parsed = [f if isinstance(f, Fault) else Fault(f) for f in faults]
        with self._lock:
            self._queue.extend(parsed)

    def set_fault_rates(self, rates: Mapping[str, float], seed: int | None = None) -> None:
        """Draw a fault per request with these probabilities (summing to at most 1); optionally reseed."""
        for kind, p in rates.items():
            Fault(kind)  # type: ignore[arg-type]  # validates the kind name
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"fault rate for {kind!r} must be in [0, 1], got {p}")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError(f"fault rates sum to {sum(rates.values())}, more than 1")
        with self._lock:
            self._rates = dict(rates)
            if seed is not None:
                self._rng = random.Random(seed)

    def reset(self) -> None:
        """Forget recorded requests, queued faults and fault rates."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._rates = {}

    # -- observation ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` (start the server first)."""
        if self._httpd is None:
            raise RuntimeError("FakeLLMServer is not started; use it as a context manager or call start()")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def call_count(self) -> int:
        """How many requests have arrived."""
        with self._lock:
            return len(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request (AssertionError when there is none)."""
        reqs = self.requests
        assert reqs, "FakeLLMServer received no request"
        return reqs[-1]

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        """Bind to an ephemeral loopback port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                         name="FakeLLMServer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes handlers that are sleeping (latency, timeout faults) so nothing hangs."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler -------------------------------------------------------------------------------

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            if not self._rates:
                return None
            draw = self._rng.random()
            acc = 0.0
            for kind, p in self._rates.items():
                acc += p
                if draw < acc:
                    if kind == "rate_limit":
                        return Fault("rate_limit", retry_after=self.rate_limit_retry_after)
                    return Fault(kind)  # type: ignore[arg-type]
            return None

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; True when it is stopping."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()

    def _answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = self.responder(body)
        if isinstance(reply, str):
            reply = Reply(reply)
        text = _content_text(reply.content)
        usage_prompt = reply.prompt_tokens if reply.prompt_tokens is not None else _count_tokens(_prompt_text(body))
        usage_completion = (reply.completion_tokens if reply.completion_tokens is not None
                            else _count_tokens(text))
        model = self.model_in_response or str(body.get("model", "fake-model"))
        common = {"id": f"cmpl-{self.call_count}", "created": int(time.time()), "model": model,
                  "usage": {"prompt_tokens": usage_prompt, "completion_tokens": usage_completion,
                            "total_tokens": usage_prompt + usage_completion}}
        if path.endswith("/chat/completions"):
            choice = {"index": 0, "message": {"role": "assistant", "content": reply.content},
                      "finish_reason": reply.finish_reason}
            return {**common, "object": "chat.completion", "choices": [choice]}
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": reply.finish_reason}
        return {**common, "object": "text_completion", "choices": [choice]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # never join handler threads at close: a sleeping handler must not hang a test
    allow_reuse_address = True
    # The default listen backlog (5) drops connection attempts beyond it when dozens of clients connect at
    # once; the kernel retries them only after a second, which looks like a timeout to a fast client.
    request_queue_size = 256
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing a kept-alive connection, or hanging up after its own timeout, is routine here:
        # only anything else is worth a traceback on stderr.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real endpoints, so pooled connections get exercised
    timeout = 30  # idle keep-alive connections end eventually

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr access logs
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        fake = self.server.fake
        received_at = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0]
        fault = fake._next_fault() if path in ("/v1/chat/completions", "/v1/completions") else None
        fake._record(RecordedRequest("POST", path, {k.lower(): v for k, v in self.headers.items()}, body,
                                     fault.kind if fault else None, received_at))
        if path not in ("/v1/chat/completions", "/v1/completions"):
            self._json(404, {"object": "error", "message": f"no route {path}", "type": "not_found"})
            return
        if not isinstance(body, dict):
            self._json(400, {"object": "error", "message": "request body is not a JSON object",
                             "type": "invalid_request_error"})
            return
        if fake._sleep(fake.latency_s):
            self._drop()
            return
        if fault is not None and self._apply(fault):
            return
        if body.get("stream") is True:
            self._stream(fake._answer(path, body))
            return
        self._json(200, fake._answer(path, body))

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        fake = self.server.fake
        path = self.path.split("?", 1)[0]
        fake._record(RecordedRequest("GET", path, {k.lower(): v for k, v in self.headers.items()}, None, None,
                                     time.monotonic()))
        prefix = "/v1/fine_tuning/jobs/"
        job = fake.jobs.get(path[len(prefix):]) if path.startswith(prefix) else None
        if job is None:
            self._json(404, {"object": "error", "message": f"no job at {path}", "type": "not_found"})
            return
        if fake._sleep(fake.latency_s):
            self._drop()
            return
        self._json(200, job)

    def _stream(self, answer: dict[str, Any]) -> None:
        """Send `answer` as server-sent events over chunked transfer encoding: one chunk per word."""
        fake = self.server.fake
        choice = answer["choices"][0]
        chat = "message" in choice
        content = choice["message"]["content"] if chat else choice["text"]
        text = content if isinstance(content, str) else _content_text(content)
        words = [w + " " for w in text.split(" ")]
        words[-1] = words[-1][:-1]
        base = {k: answer[k] for k in ("id", "created", "model")}
        kind = "chat.completion.chunk" if chat else "text_completion"

        def event(piece: str | None, finish: str | None, usage: dict[str, Any] | None = None) -> bytes:
            if chat:
                delta = {"role": "assistant", "content": piece} if piece is not None else {}
                c = {"index": 0, "delta": delta, "finish_reason": finish}
            else:
                c = {"index": 0, "text": piece or "", "logprobs": None, "finish_reason": finish}
            payload = {**base, "object": kind, "choices": [c], **({"usage": usage} if usage else {})}
            return f"data: {json.dumps(payload)}\n\n".encode()

        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            events = [event(w, None) for w in words if w]
            events.append(event(None, choice["finish_reason"], answer["usage"]))
            events.append(b"data: [DONE]\n\n")
            for i, data in enumerate(events):
                if i and fake._sleep(fake.chunk_delay_s):
                    break
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:  # the client gave up mid-stream
            self.close_connection = True

    def _apply(self, fault: Fault) -> bool:
        """Apply a fault; True when the request is finished (no normal answer follows)."""
        fake = self.server.fake
        if fault.kind in _STATUS:
            status = _STATUS[fault.kind]
            headers = {"Retry-After": fault.retry_after} if fault.kind == "rate_limit" and fault.retry_after else {}
            message = fault.message or f"fake {fault.kind}"
            self._json(status, {"object": "error", "message": message, "type": _ERROR_TYPES[status],
                                "code": str(status)}, headers)
            return True
        if fault.kind == "timeout":
            if fake._sleep(fake.timeout_sleep_s):
                self._drop()
                return True
            return False  # answer late; the client has usually given up by now
        if fault.kind == "drop":
            self._drop()
            return True
        if fault.kind == "malformed":
            self._send(200, b'{"id": "cmpl-bad", "object": "chat.completion", "choices": [{"index": 0, "mess',
                       "application/json")
            return True
        raise AssertionError(f"unhandled fault {fault.kind}")

    def _json(self, status: int, payload: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status: int, data: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (e.g. after its timeout): nothing to answer
            self.close_connection = True

    def _drop(self) -> None:
        """Close the socket without a byte of response."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
