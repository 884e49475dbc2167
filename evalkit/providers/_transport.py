"""The HTTP transport of the API providers' `generate`: one JSON POST per call over a pooled aiohttp session.

Why not the vendor SDKs' own stack for this one call: at 64 calls in flight against an instant server the
openai SDK + httpx2/httpcore2/h11/anyio stack cost ~1.5 ms of CPU per call and mistralai's ~3.4 ms
(benchmarks/perf/profiles), against ~0.1 ms for aiohttp. The SDKs stay the contract for everything else
(streaming, batch files, fine-tuning jobs, the mistral response model); the providers keep their wire format
and failure classification, and tests compare both with what the SDKs send and raise.

What this module does: open one `aiohttp.ClientSession` per event loop (a connection pool sized to the model's
concurrency, keep-alive, no cookie jar), POST bytes, return the status, headers and body bytes. What it decides:
only transport failures (a timeout, a refused or dropped connection, an HTTP protocol error), as the same
retryable ProviderErrors the SDK paths produced (evalkit.providers._http). Statuses and bodies are the
provider's to interpret, since each vendor's SDK treats them differently.

Environment, as the SDKs' httpx2 clients read it (`trust_env`): HTTP(S)_PROXY / NO_PROXY pick the proxy, once
per session; https endpoints verify with httpx2's own default SSL context (certifi, or SSL_CERT_FILE /
SSL_CERT_DIR), built only when the endpoint is https.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # imported on the first call (~0.15 s): a run served from the cache never needs them
    import aiohttp
    from yarl import URL

from evalkit.model_spec import ModelSpec
from evalkit.providers import _http

__all__ = ["HttpReply", "JsonTransport", "dumps"]


@dataclass(frozen=True, slots=True)
class HttpReply:
    """One HTTP response: status, headers (case-insensitive) and the body as received."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str | None:
        """The Content-Type header, or None when the server sent none."""
        return self.headers.get("Content-Type")

    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced, as httpx's `.text` does by default)."""
        return self.body.decode("utf-8", "replace")


def dumps(body: Any, *, ensure_ascii: bool) -> bytes:
    """`body` as compact JSON bytes, with orjson (UTF-8).

    orjson refuses a string with a lone surrogate (dataset text decoded from a broken `\\ud800` escape); the
    stdlib's encoder is then the fallback, with the SDK's escaping: `ensure_ascii=True` (mistralai) sends the
    surrogate escaped, as that SDK does; `ensure_ascii=False` (httpx2, under openai) fails to encode it, as there.
    """
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(body, separators=(",", ":"), ensure_ascii=ensure_ascii).encode("utf-8")


class JsonTransport:
    """POSTs JSON to one API root for one model; a connection pool per event loop, opened on first use."""

    def __init__(self, spec: ModelSpec, vendor: str, base_url: str, headers: Mapping[str, str],
                 secret: str | None) -> None:
        self.spec = spec
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        # What httpx2 adds under both SDKs (aiohttp would send its own Accept-Encoding and no Connection).
        self.headers = {"Accept-Encoding": "gzip, deflate", "Connection": "keep-alive", **headers}
        self._secret = secret
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._urls: dict[str, URL] = {}
        self._proxy: URL | None = None
        self._proxy_auth: aiohttp.BasicAuth | None = None
        self._failures: tuple[type[BaseException], ...] = (OSError,)

    def url(self, path: str) -> URL:
        """The absolute URL of `path` under the API root, parsed once."""
        url = self._urls.get(path)
        if url is None:
            from yarl import (
                URL,  # aiohttp's URL type: parsed here once, not by aiohttp on every call
            )

            url = self._urls[path] = URL(self.base_url + path)
        return url

    def prepare(self) -> None:
        """Import the HTTP client now (the provider's warm-up), not inside the first call: that one would
        otherwise arrive late at the server, after its rate-limiter slot, by the import's ~0.15 s."""
        import aiohttp  # noqa: F401

        self.url("")

    async def post(self, path: str, body: bytes) -> HttpReply:
        """POST `body` (JSON bytes) to `path`; a transport failure is a retryable ProviderError."""
        session = self._session
        if session is None or self._loop is not asyncio.get_running_loop():
            session = await self._open()
        try:
            # One deadline for the whole call (a single timer), not aiohttp's per-read timeouts, which re-arm a
            # timer on every chunk received (~8 % of the call path's CPU, benchmarks/perf). For a non-streamed
            # answer, which arrives all at once at the end, the two are the same bound as httpx's read timeout.
            async with asyncio.timeout(self.spec.timeout_s):
                async with session.post(self.url(path), data=body, proxy=self._proxy,
                                        proxy_auth=self._proxy_auth) as res:
                    raw = await res.read()
                    return HttpReply(res.status, res.headers, raw)
        except TimeoutError as exc:  # aiohttp's timeouts derive from it (asyncio.TimeoutError is TimeoutError)
            raise _http.timeout_error(self.spec, self.vendor, exc) from exc
        except self._failures as exc:
            # Refused, reset or dropped connections, truncated bodies, HTTP protocol errors: what httpx2 calls
            # a TransportError, and both SDKs report as a connection failure.
            raise _http.connection_error(self.spec, self.vendor, exc, self._secret) from exc

    async def aclose(self) -> None:
        """Close the connection pool (one opened on another event loop is let go, see _abandon)."""
        if self._session is not None and self._loop is not asyncio.get_running_loop():
            self._abandon()
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
        self._loop = None

    def _abandon(self) -> None:
        """Let go of a pool opened on an earlier event loop (a caller that ran asyncio.run twice without aclose):
        it cannot be awaited closed from here, so it is detached and marked closed (aiohttp would otherwise
        report it through that dead loop's exception handler); its sockets close when collected."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            connector = session.connector
            session.detach()
            if connector is not None:
                connector._close()  # the synchronous part of BaseConnector.close(): marks it closed
        self._loop = None

    async def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        loop = asyncio.get_running_loop()
        self._failures = (aiohttp.ClientError, OSError)
        if self._session is not None:  # a pool of an earlier event loop, which may be gone: not reusable
            self._abandon()
        url = self.url("")
        ssl: Any = True
        if url.scheme == "https":
            import httpx2  # the SDKs' HTTP client: the same trust store and SSL_CERT_* handling as theirs

            ssl = httpx2.create_ssl_context(trust_env=True)
        try:
            proxy, auth = aiohttp.helpers.get_env_proxy_for_url(url)
            self._proxy, self._proxy_auth = type(url)(str(proxy)), auth
        except LookupError:  # no proxy configured for this URL (or NO_PROXY matches it)
            self._proxy, self._proxy_auth = None, None
        connector = aiohttp.TCPConnector(limit=max(1, self.spec.concurrency), ssl=ssl)
        timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_read=None, sock_connect=None)  # see post()
        self._session = aiohttp.ClientSession(connector=connector, headers=self.headers, timeout=timeout,
                                              cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True)
        self._loop = loop
        return self._session
