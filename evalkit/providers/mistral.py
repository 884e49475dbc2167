"""The `mistral` provider: Mistral's chat completions API through the official `mistralai` SDK (3.x).

Serves base ids (`mistral-small-latest`) and fine-tuned ids (`ft:open-mistral-7b:...`) alike. The SDK is
imported here only, when a model needs it. SDK retries are off: evalkit.model owns retries.

The hot path, `generate`, does not go through the SDK's `chat.complete_async`: it POSTs the body the SDK
would marshal (same members, order and defaults: `stream: false`, `prefix: false` on assistant turns) with
the headers the SDK sends (its user agent, bearer key) over the shared aiohttp transport
(evalkit.providers._transport), and reads the response with the SDK's own rules and models: a 200 with a JSON
content type is validated by `models.ChatCompletionResponse` (a body it refuses is a malformed, retryable
response with the SDK's own validation message), 422 bodies by `HTTPValidationErrorData`, 4xx/5xx are status
errors with the body text, anything else is "unexpected"; the SDK's deprecation-warning hook still runs on a
response that carries its header. What it bypasses, and why (benchmarks/perf/profiles: 3.4 ms of CPU per call
through the SDK at 64 in flight): the SDK's per-call request building (a `typing.get_type_hints` walk over
the query parameters, pydantic marshalling through throwaway models), its hooks run in threads twice per call
(`asyncio.to_thread`), and the httpx2/httpcore2/h11 stack. Of its hooks only the deprecation warning applies
to a chat completion with an API key (the others trace workflows or swap in service-account tokens when no
key is set). tests/providers/test_sdk_parity.py sends every kind of request and failure both ways and
checks that bodies, headers and ProviderErrors agree.

The SDK stays the contract for streaming (`stream`), the Batch API (evalkit.providers.mistral_batch), the
fine-tuning jobs API (evalkit.providers.mistral_jobs) and the response model.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from evalkit.errors import ConfigError, MissingDependencyError, ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.providers import _http
from evalkit.providers._transport import HttpReply, JsonTransport, dumps
from evalkit.providers.base import Provider, StreamChunk
from evalkit.providers.batch import BatchAPI
from evalkit.records import ProviderResponse, Request, Usage

__all__ = ["MistralProvider"]

_VENDOR = "Mistral"
DEFAULT_KEY_ENV = "MISTRAL_API_KEY"
DEFAULT_SERVER_URL = "https://api.mistral.ai"
"""The SDK's default server (`mistralai.client.sdkconfiguration.SERVERS["global"]`)."""
_DEPRECATION_HEADER = "x-model-deprecation-timestamp"
_NOT_JSON = object()


@dataclass(frozen=True)
class _Sdk:
    """The parts of `mistralai.client` the provider uses, resolved once."""

    client: Any
    """The `mistralai.client` package (Mistral, models, utils for the SDK clients)."""
    response_model: Any
    validation_error_model: Any
    sdk_error: Any
    match_content_type: Callable[[str, str], bool]
    unmarshal_json: Callable[[str, Any], Any]


class MistralProvider(Provider):
    """Chat completions as the SDK's `chat.complete_async` sends them (see the module docstring); a
    completion-style text prompt is sent as one user message.

    Abilities: streaming (`chat.stream_async`), Mistral's Batch API (evalkit.providers.mistral_batch) and the
    fine-tuning jobs API (evalkit.providers.mistral_jobs).
    """

    supports_streaming = True

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        if spec.options:
            raise ConfigError(f"{_http.label(spec)}: provider 'mistral' takes no options, got "
                              f"{sorted(spec.options)}")
        key_env = spec.api_key_env or DEFAULT_KEY_ENV
        key = os.environ.get(key_env, "").strip()
        if not key:
            raise ConfigError(f"{_http.label(spec)}: no Mistral API key: the environment variable {key_env} is "
                              f"unset or empty. Export it (or set `api_key_env` to the variable holding the key).")
        if importlib.util.find_spec("mistralai") is None or importlib.util.find_spec("httpx2") is None:
            raise MissingDependencyError("mistralai", f"{_http.label(spec)} (provider 'mistral')")
        self._key = key
        self._server_url = _server_url(spec.base_url)
        # The headers the SDK sends (its CustomUserAgentHook rewrites the generated user agent to this one).
        headers = {"Accept": "application/json",
                   "User-Agent": f"mistral-client-python/{importlib.metadata.version('mistralai')}",
                   "Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self._transport = JsonTransport(spec, _VENDOR, (self._server_url or DEFAULT_SERVER_URL) + "/v1", headers,
                                        key)
        self._sdk: _Sdk | None = None
        self._https: list[Any] = []
        # SDK clients (streaming, batch jobs, files, fine-tuning jobs) are built on first use: a run of plain
        # calls, or one served from the cache, never needs them. Streamed calls are spread over several clients,
        # each with its own small connection pool (see _http).
        self._clients: list[Any] = [None] * _http.client_count(spec.concurrency)
        self._turn = itertools.count()

    def _sdk_modules(self) -> _Sdk:
        """What the provider uses of `mistralai.client`, imported and resolved on first use (the SDK's `models`
        attributes are lazy imports, ~15 µs per lookup), with its pydantic models made once per type."""
        if self._sdk is None:
            try:
                from mistralai import client
                from mistralai.client import errors, models, utils
                from mistralai.client.utils import serializers
            except ImportError as exc:
                raise MissingDependencyError("mistralai", f"{_http.label(self.spec)} (provider 'mistral')") from exc
            _build_sdk_models_once()
            _share_unset_sentinel_once()
            self._sdk = _Sdk(client=client, response_model=models.ChatCompletionResponse,
                             validation_error_model=errors.HTTPValidationErrorData, sdk_error=errors.SDKError,
                             match_content_type=utils.match_content_type, unmarshal_json=serializers.unmarshal_json)
        return self._sdk

    @property
    def _models(self) -> Any:
        return self._sdk_modules().client.models

    @property
    def _httpx(self) -> Any:
        import httpx2

        return httpx2

    def _new_client(self) -> Any:
        sdk = self._sdk_modules().client
        # Our own HTTP client so aclose() can close it; the SDK only closes clients it created, at finalization.
        http = self._httpx.AsyncClient(follow_redirects=True)
        self._https.append(http)
        return sdk.Mistral(
            api_key=self._key,
            server_url=self._server_url,
            async_client=http,
            retry_config=sdk.utils.RetryConfig("none", sdk.utils.BackoffStrategy(1, 1, 1.0, 1),
                                               retry_connection_errors=False),
            timeout_ms=int(self.spec.timeout_s * 1000),
        )

    @property
    def client(self) -> Any:
        """One SDK client for single calls outside the hot path (batch jobs, file uploads, fine-tuning jobs)."""
        if self._clients[0] is None:
            self._clients[0] = self._new_client()
        return self._clients[0]

    def _next_client(self) -> Any:
        """The SDK client for the next streamed call (round robin)."""
        i = next(self._turn) % len(self._clients)
        if self._clients[i] is None:
            self._clients[i] = self._new_client()
        return self._clients[i]

    async def generate(self, request: Request) -> ProviderResponse:
        """One chat completion; ProviderError classified as retryable or not on any failure."""
        sdk = self._sdk or self._sdk_modules()
        body = dumps(self.request_body(request), ensure_ascii=True)
        return self.parse_reply(await self._transport.post("/chat/completions", body), sdk)

    def request_body(self, request: Request) -> dict[str, Any]:
        """The JSON body `chat.complete_async(**request_kwargs(request))` sends: the same members in the same
        order, with the defaults the SDK's models add (`stream: false`; `prefix: false` on assistant turns)."""
        params = request.params
        prompt = request.prompt
        if prompt.text is not None:
            messages: list[dict[str, Any]] = [{"content": prompt.text, "role": "user"}]
        else:
            messages = [{"role": "assistant", "content": m.content, "prefix": False} if m.role == "assistant"
                        else {"content": m.content, "role": m.role} for m in prompt.messages]
        body: dict[str, Any] = {"model": self.spec.model, "messages": messages, "temperature": params.temperature,
                                "top_p": params.top_p, "max_tokens": params.max_tokens, "stream": False}
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["random_seed"] = params.seed
        if params.json_schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "output", "schema": params.json_schema, "strict": True}}
        return body

    def parse_reply(self, reply: HttpReply, sdk: _Sdk | None = None) -> ProviderResponse:
        """An HTTP response to `POST /v1/chat/completions`, read by the SDK's rules (see the module docstring)."""
        sdk = sdk or self._sdk_modules()
        status = reply.status
        content_type = reply.content_type or "application/octet-stream"
        json_type = content_type == "application/json" or sdk.match_content_type(content_type, "application/json")
        if status == 200 and json_type:
            try:
                data = orjson.loads(reply.body)
            except orjson.JSONDecodeError:
                data = _NOT_JSON
            try:
                if data is _NOT_JSON:
                    raise ValueError("not JSON for orjson")
                response = sdk.response_model.model_validate(data)
            except Exception:  # noqa: BLE001 - the SDK's own unmarshalling decides, with its own message
                try:
                    response = sdk.unmarshal_json(reply.text(), sdk.response_model)
                except Exception as exc:
                    raise _http.malformed_error(self.spec, _VENDOR, str(exc), self._key, status) from exc
            if _DEPRECATION_HEADER in reply.headers:
                self._warn_deprecated(reply)
            return self.parse_response(response)
        text = reply.text()
        if status == 422 and json_type:
            try:
                sdk.unmarshal_json(text, sdk.validation_error_model)
            except Exception as exc:
                raise _http.malformed_error(self.spec, _VENDOR, str(exc), self._key, status) from exc
        if 400 <= status < 600:
            raise _http.status_error(self.spec, _VENDOR, status, reply.headers, text, self._key)
        # A 2xx or 3xx the SDK has no use for: its own "Unexpected response received" error, classified.
        raise self.classify(sdk.sdk_error("Unexpected response received", self._sdk_response(reply)))

    def _sdk_response(self, reply: HttpReply) -> Any:
        """The reply as the httpx2 Response the SDK would have had (for its own error types and hooks)."""
        httpx = self._httpx
        return httpx.Response(reply.status, headers=list(reply.headers.items()), content=reply.body,
                              request=httpx.Request("POST", str(self._transport.url("/chat/completions"))))

    def _warn_deprecated(self, reply: HttpReply) -> None:
        """The SDK's DeprecationWarningHook (a logged warning naming the model and its removal date)."""
        from mistralai.client._hooks.deprecation_warning import DeprecationWarningHook

        DeprecationWarningHook().after_success(None, self._sdk_response(reply))  # type: ignore[arg-type]

    async def stream(self, request: Request) -> AsyncIterator[StreamChunk]:
        """The same call through `chat.stream_async` (server-sent events); usage comes with the last chunk."""
        kwargs = self.request_kwargs(request)
        events = None
        try:
            events = await self._next_client().chat.stream_async(**kwargs)
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
        except Exception as exc:
            raise self.classify(exc) from exc
        finally:
            if events is not None:
                await events.close()

    def batch_api(self) -> BatchAPI:
        """Mistral's Batch API for this model."""
        from evalkit.providers.mistral_batch import MistralBatch

        return MistralBatch(self)

    async def fine_tuning_job(self, job_id: str) -> dict[str, Any]:
        """The fine-tuning job `job_id` as the API sends it (GET /v1/fine_tuning/jobs/{job_id})."""
        from evalkit.providers.mistral_jobs import get_job

        return await get_job(self, job_id)

    async def warmup(self) -> None:
        """Import the SDK's models and the HTTP client (evalkit.model does this before the first call is timed
        or rate-limited)."""
        self._sdk_modules()
        self._transport.prepare()

    async def aclose(self) -> None:
        """Close the HTTP connection pools."""
        await self._transport.aclose()
        for http in self._https:
            await http.aclose()

    # -------------------------------------------------------------------------------------------------------

    def request_kwargs(self, request: Request) -> dict[str, Any]:
        """The chat-completion call's keyword arguments (also each batch line's body)."""
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

    def parse_response(self, response: Any) -> ProviderResponse:
        """An SDK ChatCompletionResponse as a ProviderResponse (malformed: a retryable ProviderError)."""
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

    def classify(self, exc: Exception) -> ProviderError:
        """Any SDK or transport failure as a ProviderError, retryable or not; the key never appears in it."""
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


def _build_sdk_models_once() -> None:
    """Make the SDK build each of its throwaway pydantic models once per type instead of once per call.

    mistralai 3.x marshals every request and unmarshals every response through a pydantic model class it
    creates on the spot (`utils/serializers.py`: `create_model("Marshaller" | "Unmarshaller", body=(typ, ...))`),
    ~4 ms of CPU per call (benchmarks/perf): at 64 calls in flight that alone saturates a core. The class
    depends only on its name and `typ` (the config is a constant), so it is cached by those; anything else, or
    an unhashable type, goes to the SDK's own create_model unchanged.
    """
    from mistralai.client.utils import serializers

    original = getattr(serializers, "create_model", None)
    if original is None or getattr(original, "evalkit_cached", False):
        return
    built: dict[tuple[str, Any], Any] = {}

    def create_model(name: str, /, **fields: Any) -> Any:
        body = fields.get("body")
        key = (name, body[0]) if name in ("Marshaller", "Unmarshaller") and isinstance(body, tuple) else None
        try:
            hit = built.get(key) if key is not None else None
        except TypeError:  # an unhashable type annotation: no caching
            key, hit = None, None
        if hit is None:
            hit = original(name, **fields)
            if key is not None:
                built[key] = hit
        return hit

    create_model.evalkit_cached = True  # type: ignore[attr-defined]
    serializers.create_model = create_model


def _share_unset_sentinel_once() -> None:
    """Make copies of the SDK's `UNSET` sentinel the sentinel itself.

    pydantic deep-copies a field's default whenever a value omits the field, and mistralai's optional fields
    default to `UNSET`, a field-less pydantic model: validating one chat completion made 5 deep copies of it,
    ~70 % of the validation's CPU (benchmarks/perf). The SDK tells UNSET apart by `isinstance(value, Unset)`, and
    an instance has no state, so a copy and the original are interchangeable.
    """
    from mistralai.client.types.basemodel import Unset

    if getattr(Unset, "evalkit_shared", False):
        return
    Unset.__copy__ = lambda self: self  # type: ignore[method-assign]
    Unset.__deepcopy__ = lambda self, memo=None: self  # type: ignore[method-assign]
    Unset.evalkit_shared = True  # type: ignore[attr-defined]


def _server_url(base_url: str | None) -> str | None:
    """The SDK appends `/v1/...` itself, so a base URL given with a trailing `/v1` is trimmed."""
    if not base_url:
        return None
    url = base_url.rstrip("/")
    return url.removesuffix("/v1")


def _content_text(content: Any) -> str:
    """Message content as text: a plain string, or the text chunks of a chunk list (thinking is skipped)."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return "".join(getattr(chunk, "text", "") for chunk in content
                       if getattr(chunk, "type", None) == "text")
    return ""  # the SDK's UNSET sentinel: the model said nothing
