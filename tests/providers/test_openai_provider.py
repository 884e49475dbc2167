"""The openai provider through the real `openai` SDK against the loopback fake server (chat and completions)."""

from __future__ import annotations

import asyncio

import pytest
from fakeserver import FakeLLMServer, Reply

from evalkit.errors import ConfigError
from evalkit.model_spec import ModelSpec
from evalkit.providers import create_provider
from evalkit.providers.openai_compat import PLACEHOLDER_KEY, OpenAIProvider
from evalkit.records import GenerationParams, Message, Prompt, ProviderResponse, Request

KEY_ENV = "EVALKIT_TEST_API_KEY"
SCHEMA = {"type": "object", "properties": {"label": {"enum": ["yes", "no"]}}, "required": ["label"]}
PARAMS = GenerationParams(temperature=0.3, max_tokens=12, top_p=0.8, seed=7, stop=("###",), json_schema=SCHEMA)


def spec(server: FakeLLMServer, model: str = "my-org/ft-model", **kw: object) -> ModelSpec:
    return ModelSpec(name="ft", provider="openai", model=model, base_url=server.url + "/v1", **kw)  # type: ignore[arg-type]


def call(provider: OpenAIProvider, request: Request) -> ProviderResponse:
    async def go() -> ProviderResponse:
        try:
            return await provider.generate(request)
        finally:
            await provider.aclose()
    return asyncio.run(go())


def test_chat_prompt_goes_to_chat_completions(fake_server: FakeLLMServer, api_key: str) -> None:
    prompt = Prompt(messages=(Message(role="system", content="Classify."), Message(role="user", content="sky")))
    out = call(create_provider(spec(fake_server, api_key_env=KEY_ENV)), Request(prompt=prompt, params=PARAMS))  # type: ignore[arg-type]

    sent = fake_server.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {api_key}"
    assert sent.body["model"] == "my-org/ft-model"
    assert sent.body["messages"] == [{"role": "system", "content": "Classify."}, {"role": "user", "content": "sky"}]
    assert (sent.body["temperature"], sent.body["max_tokens"], sent.body["top_p"], sent.body["seed"]) == (0.3, 12, 0.8, 7)
    assert sent.body["stop"] == ["###"]
    assert sent.body["response_format"] == {"type": "json_schema",
                                            "json_schema": {"name": "output", "schema": SCHEMA, "strict": True}}
    assert out.text == "echo: sky"


def test_text_prompt_goes_to_legacy_completions(fake_server: FakeLLMServer) -> None:
    fake_server.responder = lambda body: Reply(" Paris.", finish_reason="length", prompt_tokens=9, completion_tokens=2)
    out = call(OpenAIProvider(spec(fake_server, model="base-7b")),
               Request(prompt=Prompt(text="The capital of France is"), params=PARAMS))

    sent = fake_server.last_request
    assert sent.path == "/v1/completions"
    assert sent.body["prompt"] == "The capital of France is"
    assert "messages" not in sent.body
    assert (sent.body["temperature"], sent.body["max_tokens"], sent.body["seed"], sent.body["stop"]) == (0.3, 12, 7, ["###"])
    assert sent.body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert out == ProviderResponse(text=" Paris.", usage=out.usage, finish_reason="length")
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (9, 2)


def test_unset_params_are_omitted(fake_server: FakeLLMServer) -> None:
    call(OpenAIProvider(spec(fake_server)), Request(prompt=Prompt(text="x")))
    body = fake_server.last_request.body
    assert "seed" not in body and "stop" not in body and "response_format" not in body


def test_without_key_variable_a_placeholder_key_is_sent(fake_server: FakeLLMServer) -> None:
    call(OpenAIProvider(spec(fake_server)), Request(prompt=Prompt(text="x")))
    assert fake_server.last_request.headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"


def test_headers_option_is_sent(fake_server: FakeLLMServer) -> None:
    call(OpenAIProvider(spec(fake_server, options={"headers": {"X-Team": "eval"}})), Request(prompt=Prompt(text="x")))
    assert fake_server.last_request.headers["x-team"] == "eval"


def test_missing_key_is_a_config_error_before_any_request(
        fake_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ConfigError) as err:
        create_provider(spec(fake_server, api_key_env=KEY_ENV))
    assert "'ft'" in str(err.value) and "my-org/ft-model" in str(err.value) and KEY_ENV in str(err.value)
    assert fake_server.call_count == 0


@pytest.mark.parametrize(("kw", "needle"), [
    ({"base_url": None}, "base_url"),
    ({"options": {"header": {}}}, "header"),
    ({"options": {"headers": {"X": 1}}}, "headers"),
])
def test_bad_config_is_a_config_error(kw: dict[str, object], needle: str) -> None:
    s = ModelSpec(**{"name": "ft", "provider": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1", **kw})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=needle) as err:
        OpenAIProvider(s)
    assert "'ft'" in str(err.value)


@pytest.mark.parametrize("name", ["openai", "mistral"])
def test_one_provider_serves_calls_on_successive_event_loops(name: str, fake_server: FakeLLMServer,
                                                              api_key: str) -> None:
    """The connection pool belongs to the loop that opened it: a later asyncio.run gets a pool of its own."""
    provider = create_provider(ModelSpec(name="ft", provider=name, model="m", api_key_env=KEY_ENV,
                                         base_url=fake_server.url + ("/v1" if name == "openai" else "")))
    first = asyncio.run(provider.generate(Request(prompt=Prompt(text="one"))))  # no aclose: the loop just ends
    second = call(provider, Request(prompt=Prompt(text="two")))  # type: ignore[arg-type]
    assert (first.text, second.text) == ("echo: one", "echo: two")
    assert fake_server.call_count == 2
    assert provider._transport._session is None  # closed by aclose on the second loop
