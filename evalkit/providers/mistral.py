"""The `mistral` provider: Mistral's chat completions API through the official `mistralai` SDK (3.x).

Serves base ids (`mistral-small-latest`) and fine-tuned ids (`ft:open-mistral-7b:...`) alike. The SDK is
imported here only, when a model needs it. SDK retries are off: evalkit.model owns retries.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from evalkit.errors import ConfigError, MissingDependencyError, ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.providers import _http
from evalkit.providers.base import StreamChunk
from evalkit.records import ProviderResponse, Request, Usage

__all__ = ["MistralProvider"]

_VENDOR = "Mistral"
DEFAULT_KEY_ENV = "MISTRAL_API_KEY"


class MistralProvider:
    """Calls `chat.complete_async`; a completion-style text prompt is sent as one user message."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        if spec.options:
            raise ConfigError(f"{_http.label(spec)}: provider 'mistral' takes no options, got "
                              f"{sorted(spec.options)}")
        key_env = spec.api_key_env or DEFAULT_KEY_ENV
        key = os.environ.get(key_env, "").strip()
        if not key:
            raise ConfigError(f"{_http.label(spec)}: no Mistral API key: the environment variable {key_env} is "
                              f"unset or empty. Export it (or set `api_key_env` to the variable holding the key).")
        try:
            import httpx2
            from mistralai.client import Mistral, models
            from mistralai.client.utils import BackoffStrategy, RetryConfig
        except ImportError as exc:
            raise MissingDependencyError("mistralai", f"{_http.label(spec)} (provider 'mistral')") from exc
        self._key = key
        self._models = models
        self._httpx = httpx2
        # Our own client so aclose() can close it; the SDK only closes clients it created, at finalization.
        self._http = httpx2.AsyncClient(follow_redirects=True)
        self._client = Mistral(
            api_key=key,
            server_url=_server_url(spec.base_url),
            async_client=self._http,
            retry_config=RetryConfig("none", BackoffStrategy(1, 1, 1.0, 1), retry_connection_errors=False),
            timeout_ms=int(spec.timeout_s * 1000),
        )

    async def generate(self, request: Request) -> ProviderResponse:
        """One chat completion; ProviderError classified as retryable or not on any failure."""
        kwargs = self._request_kwargs(request)
        try:
            response = await self._client.chat.complete_async(**kwargs)
        except Exception as exc:  # noqa: BLE001 - every SDK failure is translated, none leaks
            raise self._classify(exc) from exc
        return self._response(response)

    async def stream(self, request: Request) -> AsyncIterator[StreamChunk]:
        """The same call through `chat.stream_async` (server-sent events); usage comes with the last chunk."""
        kwargs = self._request_kwargs(request)
        events = None
        try:
            events = await self._client.chat.stream_async(**kwargs)
            async for event in events:
                chunk = event.data
                usage = getattr(chunk, "usage", None)
                text, finish = "", None
                if chunk.choices:
                    choice = chunk.choices[0]
                    text = _content_text(getattr(choice.delta, "content", None))
                    finish = str(choice.finish_reason) if choice.finish_reason is not None else None
                yield StreamChunk(text=text, finish_reason=finish, usage=None if usage is None else Usage(
                    prompt_tokens=getattr(usage, "prompt_tokens", None),
                    completion_tokens=getattr(usage, "completion_tokens", None)))
        except Exception as exc:  # noqa: BLE001 - every SDK failure is translated, none leaks
            raise self._classify(exc) from exc
        finally:
            if events is not None:
                await events.close()

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    # -------------------------------------------------------------------------------------------------------

    def _request_kwargs(self, request: Request) -> dict[str, Any]:
        params = request.params
        prompt = request.prompt
        if prompt.text is not None:
            messages = [{"role": "user", "content": prompt.text}]
        else:
            messages = [{"role": m.role, "content": m.content} for m in prompt.messages]
        kwargs: dict[str, Any] = {
            "model": self.spec.model,
            "messages": messages,
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
            "top_p": params.top_p,
        }
        if params.seed is not None:
            kwargs["random_seed"] = params.seed
        if params.stop:
            kwargs["stop"] = list(params.stop)
        if params.json_schema is not None:
            kwargs["response_format"] = self._models.ResponseFormat(
                type="json_schema",
                json_schema=self._models.JSONSchema(name="output", schema_definition=params.json_schema,
                                                    strict=True),
            )
        return kwargs

    def _response(self, response: Any) -> ProviderResponse:
        choices = getattr(response, "choices", None) or []
        message = getattr(choices[0], "message", None) if choices else None
        if message is None:
            raise _http.malformed_error(self.spec, _VENDOR, "no choices[0].message in the response", self._key)
        usage = getattr(response, "usage", None)
        return ProviderResponse(
            text=_content_text(message.content),
            usage=Usage(prompt_tokens=getattr(usage, "prompt_tokens", None),
                        completion_tokens=getattr(usage, "completion_tokens", None)),
            finish_reason=str(choices[0].finish_reason) if choices[0].finish_reason is not None else None,
        )

    def _classify(self, exc: Exception) -> ProviderError:
        from mistralai.client import errors
        from pydantic import ValidationError

        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, errors.ResponseValidationError):
            return _http.malformed_error(self.spec, _VENDOR, str(exc.cause or exc), self._key, exc.status_code)
        if isinstance(exc, errors.MistralError):
            if exc.status_code < 400:  # a 2xx the SDK could not use (wrong content type, unexpected shape)
                return _http.malformed_error(self.spec, _VENDOR, exc.body or str(exc), self._key, exc.status_code)
            return _http.status_error(self.spec, _VENDOR, exc.status_code, exc.headers, exc.body, self._key)
        if isinstance(exc, self._httpx.TimeoutException):
            return _http.timeout_error(self.spec, _VENDOR, exc)
        if isinstance(exc, (self._httpx.TransportError, errors.NoResponseError)):
            return _http.connection_error(self.spec, _VENDOR, exc, self._key)
        if isinstance(exc, ValidationError):  # the SDK refused to build the request: it would fail every time
            return ProviderError(_http.redact(f"{_http.label(self.spec)}: invalid Mistral request: {exc}", self._key),
                                 retryable=False)
        return ProviderError(_http.redact(f"{_http.label(self.spec)}: Mistral call failed: "
                                          f"{type(exc).__name__}: {exc}", self._key), retryable=False)


def _server_url(base_url: str | None) -> str | None:
    """The SDK appends `/v1/...` itself, so a base URL given with a trailing `/v1` is trimmed."""
    if not base_url:
        return None
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _content_text(content: Any) -> str:
    """Message content as text: a plain string, or the text chunks of a chunk list (thinking is skipped)."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return "".join(getattr(chunk, "text", "") for chunk in content
                       if getattr(chunk, "type", None) == "text")
    return ""  # the SDK's UNSET sentinel: the model said nothing
