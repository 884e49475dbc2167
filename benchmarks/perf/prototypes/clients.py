"""Per-request CPU of HTTP client variants alone, against benchmarks/perf/server.py (instant answers).

    python benchmarks/perf/prototypes/clients.py                       # every variant, 10,000 requests, C = 64
    python benchmarks/perf/prototypes/clients.py --reps 3 aiohttp-orjson aiohttp-orjson:uvloop

Each variant sends the same chat body evalkit sends (system + user message, max_tokens 4) with C requests in
flight, in a fresh process (after a warm-up of 2 x C requests: imports and first connections are not
per-request costs), and reports CPU and wall microseconds per request. Variants run interleaved, `--reps`
times. A `:uvloop` suffix runs the variant on uvloop (needs `pip install uvloop`). The mistral variants use
evalkit's own `_build_sdk_models_once` from the checkout (or $PYTHONPATH). Measurement sketches for the lean
call path (RESULTS.md), not product code.
"""
import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson

PERF = Path(__file__).resolve().parents[1]

SYSTEM = "Answer positive or negative."


def body(i):
    return {"model": "bench-model", "messages": [{"role": "system", "content": SYSTEM},
                                                  {"role": "user", "content": f"review {i}: the food was {'good' if i % 3 == 0 else 'bad'}"}],
            "temperature": 0.0, "max_tokens": 4, "top_p": 1.0, "seed": 0}


async def drive(n, c, one):
    it = iter(range(n))
    ok = 0

    async def worker():
        nonlocal ok
        for i in it:
            text = await one(i)
            ok += text in ("positive", "negative")

    await asyncio.gather(*(worker() for _ in range(c)))
    return ok


def k_clients(c):
    return max(1, -(-c // 8))


async def v_openai_sdk(url, n, c, aio=False):
    import openai
    from openai.types.chat import ChatCompletion
    k = k_clients(c) if not aio else 1
    kw = {}
    clients = []
    for _ in range(k):
        if aio:
            kw = {"http_client": openai.DefaultAioHttpClient(limits=__import__("httpx2").Limits(max_connections=c, max_keepalive_connections=c))}
        clients.append(openai.AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=60, **kw))

    async def one(i):
        r = await clients[i % k].post("/chat/completions", body=body(i), cast_to=ChatCompletion)
        return r.choices[0].message.content
    ok = await drive(n, c, one)
    for cl in clients:
        await cl.close()
    return ok


async def v_openai_create(url, n, c):
    import openai
    k = k_clients(c)
    clients = [openai.AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=60) for _ in range(k)]

    async def one(i):
        r = await clients[i % k].chat.completions.create(**body(i))
        return r.choices[0].message.content
    return await drive(n, c, one)


async def v_httpx(url, n, c, mod="httpx2", fast=False):
    httpx = __import__(mod)
    dumps, loads = (orjson.dumps, orjson.loads) if fast else (lambda o: json.dumps(o).encode(), json.loads)
    k = k_clients(c)
    clients = [httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=8, max_keepalive_connections=8)) for _ in range(k)]
    headers = {"content-type": "application/json", "authorization": "Bearer x"}

    async def one(i):
        r = await clients[i % k].post("/v1/chat/completions", content=dumps(body(i)), headers=headers)
        r.raise_for_status()
        return loads(r.content)["choices"][0]["message"]["content"]
    return await drive(n, c, one)


async def v_aiohttp(url, n, c, fast=False):
    import aiohttp
    dumps, loads = (orjson.dumps, orjson.loads) if fast else (lambda o: json.dumps(o).encode(), json.loads)
    conn = aiohttp.TCPConnector(limit=c)
    headers = {"content-type": "application/json", "authorization": "Bearer x"}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as s:
        async def one(i):
            async with s.post(url + "/v1/chat/completions", data=dumps(body(i)), headers=headers) as r:
                if r.status != 200:
                    raise RuntimeError(r.status)
                return loads(await r.read())["choices"][0]["message"]["content"]
        return await drive(n, c, one)


async def v_mistral_sdk(url, n, c):
    from evalkit.providers.mistral import _build_sdk_models_once
    import httpx2
    from mistralai.client import Mistral
    from mistralai.client.utils import BackoffStrategy, RetryConfig
    _build_sdk_models_once()
    k = k_clients(c)
    clients = [Mistral(api_key="x", server_url=url, async_client=httpx2.AsyncClient(follow_redirects=True),
                       retry_config=RetryConfig("none", BackoffStrategy(1, 1, 1.0, 1), retry_connection_errors=False),
                       timeout_ms=60000) for _ in range(k)]

    async def one(i):
        b = body(i)
        r = await clients[i % k].chat.complete_async(model=b["model"], messages=b["messages"], temperature=0.0, max_tokens=4, top_p=1.0, random_seed=0)
        return r.choices[0].message.content
    return await drive(n, c, one)


async def v_mistral_sdk_aio(url, n, c):
    """The mistral SDK on openai's vendored httpx2->aiohttp transport (one client, C connections)."""
    from evalkit.providers.mistral import _build_sdk_models_once
    import httpx2
    from openai._vendor.httpx_aiohttp import Httpx2AiohttpClient
    from mistralai.client import Mistral
    from mistralai.client.utils import BackoffStrategy, RetryConfig
    _build_sdk_models_once()
    client = Mistral(api_key="x", server_url=url, async_client=Httpx2AiohttpClient(follow_redirects=True, limits=httpx2.Limits(max_connections=c)),
                     retry_config=RetryConfig("none", BackoffStrategy(1, 1, 1.0, 1), retry_connection_errors=False),
                     timeout_ms=60000)

    async def one(i):
        b = body(i)
        r = await client.chat.complete_async(model=b["model"], messages=b["messages"], temperature=0.0, max_tokens=4, top_p=1.0, random_seed=0)
        return r.choices[0].message.content
    return await drive(n, c, one)


def patch_mistral_lean():
    """Two SDK-internal costs removed: per-call typing.get_type_hints (query/path params of a request type
    that has none) cached per class, and the two asyncio.to_thread hops per call for the (empty) hooks."""
    import functools
    import typing
    from mistralai.client import basesdk
    from mistralai.client.utils import queryparams, url as url_mod
    cached = functools.lru_cache(maxsize=None)(typing.get_type_hints)
    queryparams.get_type_hints = cached
    url_mod.get_type_hints = cached

    async def inline(func, *args):
        return func(*args)
    basesdk.run_sync_in_thread = inline


async def v_mistral_patched(url, n, c, aio=False):
    patch_mistral_lean()
    return await (v_mistral_sdk_aio(url, n, c) if aio else v_mistral_sdk(url, n, c))


def patch_mistral_hints_only():
    import functools
    import typing
    from mistralai.client.utils import queryparams, url as url_mod
    cached = functools.lru_cache(maxsize=None)(typing.get_type_hints)
    queryparams.get_type_hints = cached
    url_mod.get_type_hints = cached


async def v_mistral_hints(url, n, c):
    patch_mistral_hints_only()
    return await v_mistral_sdk(url, n, c)


async def v_null(url, n, c):
    async def one(i):
        orjson.dumps(body(i))
        await asyncio.sleep(0)
        return "positive"
    return await drive(n, c, one)


VARIANTS = {
    "openai-sdk-post": lambda u, n, c: v_openai_sdk(u, n, c),
    "openai-sdk-create": v_openai_create,
    "openai-sdk-post-aiohttp": lambda u, n, c: v_openai_sdk(u, n, c, aio=True),
    "httpx2-json": lambda u, n, c: v_httpx(u, n, c, "httpx2"),
    "httpx2-orjson": lambda u, n, c: v_httpx(u, n, c, "httpx2", True),
    "aiohttp-json": lambda u, n, c: v_aiohttp(u, n, c),
    "aiohttp-orjson": lambda u, n, c: v_aiohttp(u, n, c, True),
    "mistral-sdk": v_mistral_sdk,
    "mistral-sdk-aiohttp": v_mistral_sdk_aio,
    "mistral-sdk-hints": v_mistral_hints,
    "mistral-sdk-patched": v_mistral_patched,
    "mistral-sdk-patched-aiohttp": lambda u, n, c: v_mistral_patched(u, n, c, aio=True),
    "null": v_null,
}

def one_variant(variant: str, url: str, n: int, c: int, loop_kind: str) -> None:
    if loop_kind == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(VARIANTS[variant](url, 2 * c, c))  # warm-up
    t0, w0 = time.process_time(), time.perf_counter()
    ok = asyncio.run(VARIANTS[variant](url, n, c))
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    print(json.dumps({"variant": variant, "loop": loop_kind, "n": n, "c": c, "ok": ok, "cpu_us": 1e6 * cpu / n,
                      "wall_us": 1e6 * wall / n}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", help=f"default: all of {', '.join(VARIANTS)}")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--c", type=int, default=64)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--one", nargs=2, metavar=("VARIANT", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        name, _, loop_kind = args.one[0].partition(":")
        one_variant(name, args.one[1], args.n, args.c, loop_kind or "asyncio")
        return 0
    variants = args.variants or [v for v in VARIANTS if v != "null"]
    srv = subprocess.Popen([sys.executable, str(PERF / "server.py")], stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{srv.stdout.readline().split()[1]}"
        results: dict[str, list[float]] = {v: [] for v in variants}
        for rep in range(args.reps):
            for v in variants:
                proc = subprocess.run([sys.executable, __file__, "--one", v, url, "--n", str(args.n), "--c",
                                       str(args.c)], capture_output=True, text=True)
                line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
                load = os.getloadavg()[0]
                if proc.returncode != 0 or not line.startswith("{"):
                    print(f"rep {rep + 1} {v:<32} FAILED: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
                    continue
                r = json.loads(line)
                results[v].append(r["cpu_us"])
                print(f"rep {rep + 1} {v:<32} cpu {r['cpu_us']:8.1f} us/request  wall {r['wall_us']:8.1f}  "
                      f"ok {r['ok']}/{args.n}  load {load:.1f}", flush=True)
    finally:
        srv.terminate()
        srv.wait()
    print("\n| variant | CPU µs per request (each rep) |\n|---|---|")
    for v, xs in results.items():
        print(f"| {v} | {' / '.join(f'{x:.0f}' for x in xs) or 'failed'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
