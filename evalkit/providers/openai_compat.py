"""The `openai` provider: any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server, TGI) via `openai`.

Chat prompts go to `/chat/completions`; completion-style text prompts go to the legacy `/completions`
endpoint, which is how servers expose base (non-chat) models. `base_url` includes the API prefix, e.g.
`http://localhost:8000/v1`. SDK retries are off: evalkit.model owns retries.

The hot path, `generate`, does not go through the `openai` SDK: it POSTs the same body, with the same headers
the SDK's `AsyncOpenAI` sends (auth, user agent, its `X-Stainless-*` platform headers, `OpenAI-Organization` /
`OpenAI-Project` / `OPENAI_CUSTOM_HEADERS` from the environment, then the `headers` option), over the shared
aiohttp transport (evalkit.providers._transport), and reads the response as the SDK's `post(cast_to=...)`
does: without validation (the SDK `construct`s its response models), JSON read even under another content type,
the same error-body rendering. What it bypasses, and why (benchmarks/perf/profiles: 1.5 ms of CPU per call
through the SDK at 64 in flight, ~0.1 ms through aiohttp): the SDK's request options and header assembly per
call, its httpx2/httpcore2/h11/anyio stack, its response `construct` (a quarter of it in `copy`), and the
import of the SDK itself (0.5 s) for runs that only make plain calls. Bypassed with them: SDK features evalkit
never enables (its retries, idempotency keys, workload identity). tests/providers/test_sdk_parity.py sends
every kind of request and failure both ways and checks that bodies, headers and ProviderErrors agree.

The SDK stays the contract for streaming (`stream`), OpenAI's batch files API (evalkit.providers.openai_batch:
`client`, `request_body`, `parse_body`, `classify`) and the response types.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import json
import os
import platform
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from evalkit.errors import ConfigError, MissingDependencyError, ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.providers import _http
from evalkit.providers._transport import HttpReply, JsonTransport, dumps
from evalkit.providers.base import Provider, StreamChunk
from evalkit.providers.batch import BatchAPI
from evalkit.records import ProviderResponse, Request, Usage

__all__ = ["OpenAIProvider"]

_VENDOR = "OpenAI-compatible"
PLACEHOLDER_KEY = "not-needed"
"""Sent when no `api_key_env` is configured: local servers ignore the key but the SDK requires one."""
_OPTIONS = ("headers",)


class OpenAIProvider(Provider):
    """Calls `/chat/completions` for messages and `/completions` for raw text prompts.

    Options: `headers`, a mapping of extra HTTP headers sent with every request (part of the cache key, as
    a gateway may route by header). Abilities: streaming, and OpenAI's batch files API
    (evalkit.providers.openai_batch), which vLLM also serves.
    """

    supports_streaming = True

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        if not spec.base_url:
            raise ConfigError(f"{_http.label(spec)}: provider 'openai' needs `base_url`, the endpoint's API root "
                              "(e.g. http://localhost:8000/v1 for vLLM, http://localhost:11434/v1 for Ollama)")
        unknown = sorted(set(spec.options) - set(_OPTIONS))
        if unknown:
            raise ConfigError(f"{_http.label(spec)}: unknown option(s) {unknown} for provider 'openai'; "
                              f"allowed: {list(_OPTIONS)}")
        headers = spec.options.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in headers.items()):
            raise ConfigError(f"{_http.label(spec)}: option `headers` must map header names to strings, "
                              f"got {type(headers).__name__}")
        if spec.api_key_env:
            key = os.environ.get(spec.api_key_env, "").strip()
            if not key:
                raise ConfigError(f"{_http.label(spec)}: no API key: the environment variable {spec.api_key_env} "
                                  "is unset or empty. Export it, or drop `api_key_env` for a server without keys.")
            self._key: str | None = key
        else:
            key, self._key = PLACEHOLDER_KEY, None
        if importlib.util.find_spec("openai") is None:
            raise MissingDependencyError("openai", f"{_http.label(spec)} (provider 'openai')")
        self._api_key = key
        self._custom_headers = headers
        self._transport = JsonTransport(spec, _VENDOR, spec.base_url, sdk_headers(spec, key, headers), self._key)
        # SDK clients (streaming, batch files) are built on first use: `import openai` alone costs ~0.5 s, which
        # a run of plain calls or one served from the cache never needs. Streaming spreads its calls over
        # several clients, each with its own small connection pool (see _http).
        self._clients: list[Any] = [None] * _http.client_count(spec.concurrency)
        self._turn = itertools.count()

    @property
    def _openai(self) -> Any:
        import openai

        return openai

    def _new_client(self) -> Any:
        return self._openai.AsyncOpenAI(base_url=self.spec.base_url, api_key=self._api_key, max_retries=0,
                                        timeout=self.spec.timeout_s, default_headers=self._custom_headers or None)

    @property
    def client(self) -> Any:
        """The SDK client for the next SDK call (round robin; streaming, batch files)."""
        i = next(self._turn) % len(self._clients)
        if self._clients[i] is None:
            self._clients[i] = self._new_client()
        return self._clients[i]

    def request_body(self, request: Request) -> tuple[str, dict[str, Any]]:
        """The endpoint path (`/chat/completions` or `/completions`) and the wire-format body of one call."""
        chat = request.prompt.is_chat
        body = self._chat_kwargs(request) if chat else self._completion_kwargs(request)
        body.update(body.pop("extra_body", None) or {})
        return ("/chat/completions" if chat else "/completions"), body

    async def generate(self, request: Request) -> ProviderResponse:
        """One chat or text completion; ProviderError classified as retryable or not on any failure."""
        chat = request.prompt.is_chat
        path, body = self.request_body(request)
        try:
            data = dumps(body, ensure_ascii=False)
        except Exception as exc:
            raise self.classify(exc) from exc
        return self.parse_reply(await self._transport.post(path, data), chat=chat)

    def parse_reply(self, reply: HttpReply, *, chat: bool) -> ProviderResponse:
        """An HTTP response to a completion call, read as the SDK's `post(cast_to=...)` reads it."""
        if not 200 <= reply.status < 300:
            return self._raise_status(reply)
        data: Any
        mime = (reply.content_type or "*").split(";")[0]
        try:
            data = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            try:  # the stdlib parser accepts a little more (NaN, lone surrogates) and words errors as the SDK does
                data = json.loads(reply.text())
            except json.JSONDecodeError as exc:
                if not mime.endswith("json"):
                    # Not JSON, and not claiming to be: the SDK returns the text, which has no choices.
                    raise _http.malformed_error(self.spec, _VENDOR, "the response has no choices", self._key) from exc
                raise _http.malformed_error(self.spec, _VENDOR, f"invalid JSON body ({exc.msg})", self._key) from exc
        return self._parse_data(data, chat=chat)

    def _raise_status(self, reply: HttpReply) -> ProviderResponse:
        # The SDK's rendering of an error body: its JSON (the `error` member when there is one), else the text.
        text = reply.text().strip()
        body: Any = text
        try:
            body = json.loads(text)
        except ValueError:
            pass
        if isinstance(body, Mapping):
            body = body.get("error", body)
        raise _http.status_error(self.spec, _VENDOR, reply.status, reply.headers,
                                 body if isinstance(body, str) else json.dumps(body), self._key)

    def _parse_data(self, data: Any, *, chat: bool) -> ProviderResponse:
        """A parsed response body as ProviderResponse, with the checks `parse_response` makes on SDK objects
        (the SDK constructs its models from JSON without validating, so these are the only ones)."""
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices, list):
            raise _http.malformed_error(self.spec, _VENDOR, "the response has no choices", self._key)
        choice = choices[0]
        if not isinstance(choice, dict):
            choice = {}
        if chat:
            message = choice.get("message")
            if not isinstance(message, dict):
                raise _http.malformed_error(self.spec, _VENDOR, "choices[0] has no message", self._key)
            text = message.get("content")
        else:
            text = choice.get("text")
        if text is not None and not isinstance(text, str):
            raise _http.malformed_error(self.spec, _VENDOR, f"content is a {type(text).__name__}, not text",
                                        self._key)
        usage = data.get("usage")
        if not isinstance(usage, dict):
            usage = {}
        return ProviderResponse(text=text or "",
                                usage=Usage(prompt_tokens=usage.get("prompt_tokens"),
                                            completion_tokens=usage.get("completion_tokens")),
                                finish_reason=choice.get("finish_reason"))

    def parse_body(self, body: dict[str, Any], *, chat: bool) -> ProviderResponse:
        """A response body (JSON as the server sent it, e.g. a batch result line's) as a ProviderResponse."""
        from openai.types import Completion
        from openai.types.chat import ChatCompletion

        return self.parse_response((ChatCompletion if chat else Completion).model_validate(body), chat=chat)

    async def stream(self, request: Request) -> AsyncIterator[StreamChunk]:
        """The same call with `stream=True` (server-sent events); usage comes in the last chunk through
        `stream_options.include_usage` (servers that ignore it leave the usage unknown)."""
        chat = request.prompt.is_chat
        kwargs = self._chat_kwargs(request) if chat else self._completion_kwargs(request)
        kwargs.update(stream=True, stream_options={"include_usage": True})
        events = None
        try:
            client = self.client
            create = client.chat.completions.create if chat else client.completions.create
            events = await create(**kwargs)
            async for chunk in events:
                usage = getattr(chunk, "usage", None)
                choices = getattr(chunk, "choices", None) or []
                text, finish = "", None
                if choices:
                    choice = choices[0]
                    text = (getattr(getattr(choice, "delta", None), "content", None) if chat
                            else getattr(choice, "text", None)) or ""
                    finish = getattr(choice, "finish_reason", None)
                yield StreamChunk(text=text if isinstance(text, str) else "", finish_reason=finish,
                                  usage=None if usage is None else Usage(
                                      prompt_tokens=getattr(usage, "prompt_tokens", None),
                                      completion_tokens=getattr(usage, "completion_tokens", None)))
        except Exception as exc:
            raise self.classify(exc) from exc
        finally:
            if events is not None:
                await events.close()

    def batch_api(self) -> BatchAPI:
        """OpenAI's batch files API for this model (`/v1/batches`)."""
        from evalkit.providers.openai_batch import OpenAIBatch

        return OpenAIBatch(self)

    async def warmup(self) -> None:
        """Import the HTTP client (evalkit.model does this before the first call is timed or rate-limited)."""
        self._transport.prepare()

    async def aclose(self) -> None:
        """Close the HTTP connection pools."""
        await self._transport.aclose()
        for client in self._clients:
            if client is not None:
                await client.close()

    # -------------------------------------------------------------------------------------------------------

    def _common_kwargs(self, request: Request) -> dict[str, Any]:
        params = request.params
        kwargs: dict[str, Any] = {"model": self.spec.model, "temperature": params.temperature,
                                  "max_tokens": params.max_tokens, "top_p": params.top_p}
        if params.seed is not None:
            kwargs["seed"] = params.seed
        if params.stop:
            kwargs["stop"] = list(params.stop)
        return kwargs

    def _chat_kwargs(self, request: Request) -> dict[str, Any]:
        kwargs = self._common_kwargs(request)
        kwargs["messages"] = [{"role": m.role, "content": m.content} for m in request.prompt.messages]
        if request.params.json_schema is not None:
            kwargs["response_format"] = _response_format(request.params.json_schema)
        return kwargs

    def _completion_kwargs(self, request: Request) -> dict[str, Any]:
        kwargs = self._common_kwargs(request)
        kwargs["prompt"] = request.prompt.text
        if request.params.json_schema is not None:
            # Not part of OpenAI's legacy completions API, but vLLM and llama.cpp's server read it there.
            kwargs["extra_body"] = {"response_format": _response_format(request.params.json_schema)}
        return kwargs

    def parse_response(self, response: Any, *, chat: bool) -> ProviderResponse:
        """An SDK ChatCompletion or Completion as a ProviderResponse (malformed: a retryable ProviderError)."""
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise _http.malformed_error(self.spec, _VENDOR, "the response has no choices", self._key)
        choice = choices[0]
        if chat:
            message = getattr(choice, "message", None)
            if message is None:
                raise _http.malformed_error(self.spec, _VENDOR, "choices[0] has no message", self._key)
            text = message.content
        else:
            text = getattr(choice, "text", None)
        if text is not None and not isinstance(text, str):
            raise _http.malformed_error(self.spec, _VENDOR, f"content is a {type(text).__name__}, not text",
                                        self._key)
        usage = getattr(response, "usage", None)
        return ProviderResponse(
            text=text or "",
            usage=Usage(prompt_tokens=getattr(usage, "prompt_tokens", None),
                        completion_tokens=getattr(usage, "completion_tokens", None)),
            finish_reason=getattr(choice, "finish_reason", None),
        )

    def classify(self, exc: Exception) -> ProviderError:
        """Any SDK or transport failure as a ProviderError, retryable or not; the key never appears in it."""
        oa = self._openai
        if isinstance(exc, ProviderError):
            return exc
        # Timeout first: APITimeoutError is a subclass of APIConnectionError.
        if isinstance(exc, oa.APITimeoutError):
            return _http.timeout_error(self.spec, _VENDOR, exc)
        if isinstance(exc, oa.APIConnectionError):
            return _http.connection_error(self.spec, _VENDOR, exc.__cause__ or exc, self._key)
        if isinstance(exc, oa.APIStatusError):
            return _http.status_error(self.spec, _VENDOR, exc.status_code, exc.response.headers,
                                      _body_text(exc), self._key)
        if isinstance(exc, oa.APIResponseValidationError):
            return _http.malformed_error(self.spec, _VENDOR, str(exc), self._key, exc.status_code)
        if isinstance(exc, json.JSONDecodeError):  # a 200 whose body is not JSON
            return _http.malformed_error(self.spec, _VENDOR, f"invalid JSON body ({exc.msg})", self._key)
        return ProviderError(_http.redact(f"{_http.label(self.spec)}: {_VENDOR} call failed: "
                                          f"{type(exc).__name__}: {exc}", self._key), retryable=False)


def sdk_headers(spec: ModelSpec, key: str, custom: Mapping[str, str]) -> dict[str, str]:
    """The headers `openai.AsyncOpenAI(api_key=key, default_headers=custom, timeout=spec.timeout_s)` sends with
    every call (openai 1.x-3.x `_base_client`: auth, defaults, platform headers, organization and project from
    the environment, OPENAI_CUSTOM_HEADERS, `default_headers`, then retry count and read timeout), computed once
    without importing the SDK. tests/providers/test_sdk_parity.py checks them against what the SDK sends."""
    version = importlib.metadata.version("openai")
    headers: dict[str, str] = {}

    def put(name: str, value: str) -> None:  # header names are case-insensitive: a later one replaces
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value

    put("Authorization", f"Bearer {key}")
    for name, value in (("Accept", "application/json"), ("Content-Type", "application/json"),
                        ("User-Agent", f"AsyncOpenAI/Python {version}"), ("X-Stainless-Lang", "python"),
                        ("X-Stainless-Package-Version", version), ("X-Stainless-OS", _sdk_os()),
                        ("X-Stainless-Arch", _sdk_arch()), ("X-Stainless-Runtime", platform.python_implementation()),
                        ("X-Stainless-Runtime-Version", platform.python_version()),
                        ("X-Stainless-Async", "async:asyncio")):
        put(name, value)
    for env, name in (("OPENAI_ORG_ID", "OpenAI-Organization"), ("OPENAI_PROJECT_ID", "OpenAI-Project")):
        if os.environ.get(env) is not None:
            put(name, os.environ[env])
    extra: dict[str, str] = {}
    for line in (os.environ.get("OPENAI_CUSTOM_HEADERS") or "").split("\n"):
        colon = line.find(":")
        if colon >= 0:
            extra[line[:colon].strip()] = line[colon + 1:].strip()
    for name, value in {**extra, **custom}.items():
        put(name, value)
    if not any(k.lower() == "x-stainless-retry-count" for k in custom):
        put("x-stainless-retry-count", "0")  # evalkit's retries are new calls: the SDK counted 0 for each
    if not any(k.lower() == "x-stainless-read-timeout" for k in custom):
        put("x-stainless-read-timeout", str(spec.timeout_s))
    return headers


def _sdk_os() -> str:
    system, name = platform.system().lower(), platform.platform().lower()
    if "iphone" in name or "ipad" in name:
        return "iOS"
    named = {"darwin": "MacOS", "windows": "Windows"}.get(system)
    if named:
        return named
    if "android" in name:
        return "Android"
    if system == "linux":
        return "Linux"
    return f"Other:{name}" if name else "Unknown"


def _sdk_arch() -> str:
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "arm64"
    if machine in ("arm", "x86_64"):
        return {"arm": "arm", "x86_64": "x64"}[machine]
    if sys.maxsize <= 2**32:
        return "x32"
    return f"other:{machine}" if machine else "unknown"


def _response_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}}


def _body_text(exc: Any) -> str | None:
    """The error response body, for the message (JSON re-serialized when the SDK already parsed it)."""
    body = getattr(exc, "body", None)
    if body is None:
        return None
    return body if isinstance(body, str) else json.dumps(body)
