"""A lean loopback OpenAI-protocol server for benchmarks: fixed latency, keep-alive, thousands of requests/s.

The test suite's FakeLLMServer (a thread per connection, fault injection, request recording) is built for
correctness and would itself be the bottleneck at concurrency 64; this one is a single asyncio loop that
parses just enough HTTP/1.1 to answer POST /v1/chat/completions, so what is measured is the client.

    python benchmarks/perf/server.py --latency 0.2      # prints "PORT <n>", then serves until killed

GET /stats answers {"requests": n, "first_at": t, "last_at": t} (server monotonic seconds: the first request's
arrival and the last response's completion), so a benchmark can count calls and time the call phase.
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
        self.requests = 0
        self.first_at: float | None = None
        self.last_at: float | None = None


def _answer(body: bytes, n: int) -> bytes:
    """A chat completion whose label follows the prompt, so the benchmark's scores are meaningful."""
    try:
        req = json.loads(body)
        text = req["messages"][-1]["content"]
        model = req.get("model", "bench")
    except (ValueError, KeyError, IndexError, TypeError):
        text, model = "", "bench"
    label = "positive" if "good" in text else "negative"
    return json.dumps({
        "id": f"cmpl-{n}", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": label}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": len(text.split()) or 1, "completion_tokens": 1,
                  "total_tokens": (len(text.split()) or 1) + 1},
    }).encode()


def _response(status: str, payload: bytes) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            f"Connection: keep-alive\r\n\r\n").encode() + payload


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float,
                            stats: Stats) -> None:
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
            if method == "GET" and path == "/stats":
                payload = json.dumps({"requests": stats.requests, "first_at": stats.first_at,
                                      "last_at": stats.last_at}).encode()
                writer.write(_response("200 OK", payload))
                await writer.drain()
                continue
            stats.requests += 1
            n = stats.requests
            if stats.first_at is None:
                stats.first_at = time.monotonic()
            if latency > 0:
                await asyncio.sleep(latency)
            writer.write(_response("200 OK", _answer(body, n)))
            await writer.drain()
            stats.last_at = time.monotonic()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
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
