"""The `openai` provider: any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server, TGI) via `openai`.

Chat prompts go to `/chat/completions`; completion-style text prompts go to the legacy `/completions`
endpoint, which is how servers expose base (non-chat) models. `base_url` includes the API prefix, e.g.
`http://localhost:8000/v1`. SDK retries are off: evalkit.model owns retries.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from evalkit.errors import ConfigError, MissingDependencyError, ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.providers import _http
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
        try:
            import openai
        except ImportError as exc:
            raise MissingDependencyError("openai", f"{_http.label(spec)} (provider 'openai')") from exc
        self._openai = openai
        from openai.types import Completion
        from openai.types.chat import ChatCompletion

        self._chat_type, self._completion_type = ChatCompletion, Completion
        self._new_client = lambda: openai.AsyncOpenAI(base_url=spec.base_url, api_key=key, max_retries=0,
                                                      timeout=spec.timeout_s, default_headers=headers or None)
        # Calls are spread over several clients, each with its own small connection pool (see _http). Only the
        # first is built now (each costs an SSL context): a run served from the cache never needs the others.
        self._clients: list[Any] = [self._new_client()] + [None] * (_http.client_count(spec.concurrency) - 1)
        self._turn = itertools.count()

    @property
    def client(self) -> Any:
        """The SDK client for the next call (round robin)."""
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
            # The SDK's documented low-level call, not `create()`: the body is already in wire format, and
            # create()'s request transform (a walk over the parameter types) was a third of the client's CPU
            # per call (benchmarks/perf). Same client, errors and response types.
            response = await self.client.post(path, body=body, cast_to=self._chat_type if chat else self._completion_type)
        except Exception as exc:  # noqa: BLE001 - every SDK failure is translated, none leaks
            raise self.classify(exc) from exc
        return self.parse_response(response, chat=chat)

    def parse_body(self, body: dict[str, Any], *, chat: bool) -> ProviderResponse:
        """A response body (JSON as the server sent it, e.g. a batch result line's) as a ProviderResponse."""
        return self.parse_response((self._chat_type if chat else self._completion_type).model_validate(body),
                                   chat=chat)

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
        except Exception as exc:  # noqa: BLE001 - every SDK failure is translated, none leaks
            raise self.classify(exc) from exc
        finally:
            if events is not None:
                await events.close()

    def batch_api(self) -> BatchAPI:
        """OpenAI's batch files API for this model (`/v1/batches`)."""
        from evalkit.providers.openai_batch import OpenAIBatch

        return OpenAIBatch(self)

    async def aclose(self) -> None:
        """Close the HTTP connection pools."""
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


def _response_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}}


def _body_text(exc: Any) -> str | None:
    """The error response body, for the message (JSON re-serialized when the SDK already parsed it)."""
    body = getattr(exc, "body", None)
    if body is None:
        return None
    return body if isinstance(body, str) else json.dumps(body)
