"""The mistral provider through the real `mistralai` SDK against the loopback fake server."""

from __future__ import annotations

import asyncio

import pytest
from fakeserver import FakeLLMServer, Reply

from evalkit.errors import ConfigError
from evalkit.model_spec import ModelSpec
from evalkit.providers import create_provider
from evalkit.providers.mistral import MistralProvider
from evalkit.records import GenerationParams, Message, Prompt, ProviderResponse, Request

FT_ID = "ft:open-mistral-7b:587a6b29:20240514:7e773925"
KEY_ENV = "EVALKIT_TEST_API_KEY"


def spec(server: FakeLLMServer, model: str = FT_ID, **kw: object) -> ModelSpec:
    return ModelSpec(name="ft", provider="mistral", model=model, base_url=server.url, api_key_env=KEY_ENV,
                     **kw)  # type: ignore[arg-type]


def call(provider: MistralProvider, request: Request) -> ProviderResponse:
    async def go() -> ProviderResponse:
        try:
            return await provider.generate(request)
        finally:
            await provider.aclose()
    return asyncio.run(go())


def test_chat_request_maps_every_parameter(fake_server: FakeLLMServer, api_key: str) -> None:
    schema = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
    request = Request(
        prompt=Prompt(messages=(Message(role="system", content="Be brief."), Message(role="user", content="Hi"),
                                Message(role="assistant", content="Hello"), Message(role="user", content="Go"))),
        params=GenerationParams(temperature=0.7, max_tokens=33, top_p=0.9, seed=1234, stop=("\n\n", "END"),
                                json_schema=schema),
    )
    call(create_provider(spec(fake_server)), request)  # type: ignore[arg-type]

    sent = fake_server.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {api_key}"
    body = sent.body
    assert body["model"] == FT_ID
    # The SDK adds defaults (e.g. `prefix: false` on assistant turns); roles, order and contents are ours.
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"), ("user", "Go")]
    assert body["temperature"] == 0.7
    assert body["max_tokens"] == 33
    assert body["top_p"] == 0.9
    assert body["random_seed"] == 1234
    assert body["stop"] == ["\n\n", "END"]
    assert body["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "output", "schema": schema, "strict": True}}


def test_text_prompt_becomes_one_user_message_and_unset_params_are_omitted(
        fake_server: FakeLLMServer, api_key: str) -> None:
    call(MistralProvider(spec(fake_server, model="mistral-small-latest")), Request(prompt=Prompt(text="Q: 2+2?\nA:")))
    body = fake_server.last_request.body
    assert body["model"] == "mistral-small-latest"
    assert body["messages"] == [{"role": "user", "content": "Q: 2+2?\nA:"}]
    assert "random_seed" not in body and "stop" not in body and "response_format" not in body


def test_response_maps_text_usage_and_finish_reason(fake_server: FakeLLMServer, api_key: str) -> None:
    fake_server.responder = lambda body: Reply("positive", finish_reason="length", prompt_tokens=41,
                                               completion_tokens=3)
    out = call(MistralProvider(spec(fake_server)), Request(prompt=Prompt(text="x")))
    assert out.text == "positive"
    assert out.usage.prompt_tokens == 41 and out.usage.completion_tokens == 3
    assert out.finish_reason == "length"


def test_chunked_content_keeps_text_and_skips_thinking(fake_server: FakeLLMServer, api_key: str) -> None:
    chunks = [{"type": "thinking", "thinking": [{"type": "text", "text": "let me think"}]},
              {"type": "text", "text": "neg"}, {"type": "text", "text": "ative"}]
    fake_server.responder = lambda body: Reply(chunks)
    out = call(MistralProvider(spec(fake_server)), Request(prompt=Prompt(text="x")))
    assert out.text == "negative"


def test_base_url_with_v1_suffix_is_not_doubled(fake_server: FakeLLMServer, api_key: str) -> None:
    s = ModelSpec(name="base", provider="mistral", model="open-mistral-7b", base_url=fake_server.url + "/v1/",
                  api_key_env=KEY_ENV)
    call(MistralProvider(s), Request(prompt=Prompt(text="x")))
    assert fake_server.last_request.path == "/v1/chat/completions"


def test_default_key_variable_is_mistral_api_key(fake_server: FakeLLMServer, api_key: str) -> None:
    s = ModelSpec(name="base", provider="mistral", model="open-mistral-7b", base_url=fake_server.url)
    call(MistralProvider(s), Request(prompt=Prompt(text="x")))
    assert fake_server.last_request.headers["authorization"] == f"Bearer {api_key}"


def test_missing_key_is_a_config_error_before_any_request(
        fake_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    monkeypatch.setenv(KEY_ENV, "  ")
    for api_key_env in (KEY_ENV, None):
        s = ModelSpec(name="ft-lr1e-5", provider="mistral", model=FT_ID, base_url=fake_server.url,
                      api_key_env=api_key_env)
        with pytest.raises(ConfigError) as err:
            create_provider(s)
        message = str(err.value)
        assert "ft-lr1e-5" in message and FT_ID in message
        assert (api_key_env or "MISTRAL_API_KEY") in message
    assert fake_server.call_count == 0


def test_unknown_option_is_a_config_error(fake_server: FakeLLMServer, api_key: str) -> None:
    with pytest.raises(ConfigError, match="n_ctx"):
        MistralProvider(spec(fake_server, options={"n_ctx": 4}))


def test_concurrent_calls_share_one_client(fake_server: FakeLLMServer, api_key: str) -> None:
    provider = MistralProvider(spec(fake_server))

    async def go() -> list[ProviderResponse]:
        try:
            return await asyncio.gather(*(provider.generate(Request(prompt=Prompt(text=f"item {i}")))
                                          for i in range(8)))
        finally:
            await provider.aclose()

    outs = asyncio.run(go())
    assert [o.text for o in outs] == [f"echo: item {i}" for i in range(8)]
    assert fake_server.call_count == 8
