"""A lean loopback OpenAI-protocol server for benchmarks: fixed latency, keep-alive, thousands of requests/s.

The test suite's FakeLLMServer (a thread per connection, fault injection, request recording) is built for
correctness and would itself be the bottleneck at concurrency 64; this one is a single asyncio loop that
parses just enough HTTP/1.1 to answer POST /v1/chat/completions, so what is measured is the client.

    python benchmarks/perf/server.py --latency 0.2      # prints "PORT <n>", then serves until killed

GET /stats answers {"requests": n, "first_at": t, "last_at": t, "max_in_flight": k, "max_connections": m}
(server monotonic seconds: the first request's arrival and the last response's completion; the most requests
it held at once, which with latency 0 is always 1 since each is answered before the next is read; the most
connections open at once), so a benchmark can count calls, time the call phase and see the concurrency a
client really reached. GET /reset zeroes them (the open connections stay counted), so one server serves a
sequence of measured runs.

The answer is built from bytes without parsing the request (the label follows `good` anywhere in the body:
the benchmark's system message never contains it), so that the server, which shares the machine's cores with
the client being measured, costs as little as possible per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

_HEADERS_END = b"\r\n\r\n"


class Stats:
    """Counters since the server started."""

    def __init__(self) -> None:
        self.connections = 0
        """Open now (not reset: a client's keep-alive connections outlive a measured run's counters)."""
        self.reset()

    def reset(self) -> None:
        """Back to no request seen."""
        self.requests = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.max_connections = self.connections

    def as_json(self) -> bytes:
        return json.dumps({"requests": self.requests, "first_at": self.first_at, "last_at": self.last_at,
                           "max_in_flight": self.max_in_flight, "max_connections": self.max_connections}).encode()


def _answer(body: bytes, n: int) -> bytes:
    """A chat completion whose label follows the prompt, so the benchmark's scores are meaningful."""
    good = b"good" in body
    if b'"ft-model"' in body and len(body) % 5 == 0:
        # The model `ft-model` disagrees on about a fifth of the items (fixed per item), so a base-vs-ft run
        # has discordant pairs and its paired statistics do real work.
        good = not good
    label = b"positive" if good else b"negative"
    words = body.count(b" ") + 1  # a rough prompt token count: only its presence matters to clients
    return (b'{"id":"cmpl-%d","object":"chat.completion","created":0,"model":"bench-model","choices":[{"index":0,'
            b'"message":{"role":"assistant","content":"%s"},"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,'
            b'"completion_tokens":1,"total_tokens":%d}}') % (n, label, words, words + 1)


def _response(status: str, payload: bytes) -> bytes:
    return (b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: keep-alive\r\n\r\n" % (status.encode(), len(payload))) + payload


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float,
                            stats: Stats) -> None:
    stats.connections += 1
    stats.max_connections = max(stats.max_connections, stats.connections)
    try:
        while True:
            try:
                head = await reader.readuntil(_HEADERS_END)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            length = 0
            for line in lines[1:]:
                if line[:15].lower() == "content-length:":
                    length = int(line[15:].strip())
            body = await reader.readexactly(length) if length else b""
            if method == "GET" and path in ("/stats", "/reset"):
                if path == "/reset":
                    stats.reset()
                writer.write(_response("200 OK", stats.as_json()))
                await writer.drain()
                continue
            stats.requests += 1
            n = stats.requests
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            if stats.first_at is None:
                stats.first_at = time.monotonic()
            if latency > 0:
                await asyncio.sleep(latency)
            writer.write(_response("200 OK", _answer(body, n)))
            await writer.drain()
            stats.in_flight -= 1
            stats.last_at = time.monotonic()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        stats.connections -= 1
        writer.close()


async def serve(port: int, latency: float) -> None:
    """Serve on 127.0.0.1:`port` (0: any free port, printed as `PORT <n>`) until cancelled."""
    stats = Stats()
    server = await asyncio.start_server(lambda r, w: _serve_connection(r, w, latency, stats), "127.0.0.1", port,
                                        backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer (default 0)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, args.latency))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
