"""The replay provider: stored predictions, validated at construction."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evalkit.errors import ConfigError, DataError, ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.providers import create_provider
from evalkit.providers.replay import ReplayProvider
from evalkit.records import Prompt, Request, Usage


def replay(path: Path) -> ReplayProvider:
    return ReplayProvider(ModelSpec(name="ext", provider="replay", model="external-run", path=str(path)))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "preds.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def test_outputs_are_served_by_sample_id(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": "a", "output": "news_related"}\n\n{"id": "b", "output": "", "extra": 1}\n')
    provider = create_provider(ModelSpec(name="ext", provider="replay", model="external-run", path=str(path)))

    async def go() -> list[str]:
        outs = [await provider.generate(Request(prompt=Prompt(text="ignored"), sample_id=i)) for i in ("b", "a")]
        assert all(o.usage == Usage() and o.finish_reason is None for o in outs)
        return [o.text for o in outs]

    assert asyncio.run(go()) == ["", "news_related"]


def test_unknown_sample_id_is_not_retryable(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": "a", "output": "x"}\n')
    with pytest.raises(ProviderError) as err:
        asyncio.run(replay(path).generate(Request(prompt=Prompt(text="q"), sample_id="zz-42")))
    assert not err.value.retryable
    assert "zz-42" in str(err.value) and "preds.jsonl" in str(err.value)


@pytest.mark.parametrize(("text", "line", "needle"), [
    ('{"id": "a", "output": "x"}\n{"id": "b", "output": \n', 2, "invalid JSON"),
    ('{"id": "a", "output": "x"}\n\n{"id": "b"}\n', 3, "'output'"),
    ('{"output": "x"}\n', 1, "'id'"),
    ('["a", "x"]\n', 1, "JSON object"),
    ('{"id": "a", "output": 3}\n', 1, "'output' must be a string"),
    ('{"id": "a", "output": "x"}\n{"id": "b", "output": "y"}\n{"id": "a", "output": "z"}\n', 3, "duplicated id 'a'"),
])
def test_defects_are_data_errors_naming_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as err:
        replay(path)
    assert f"{path}:{line}:" in str(err.value)
    assert needle in str(err.value)


def test_duplicate_names_the_first_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": "a", "output": "x"}\n{"id": "a", "output": "z"}\n')
    with pytest.raises(DataError, match="first seen on line 1"):
        replay(path)


def test_missing_path_or_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs `path`"):
        ReplayProvider(ModelSpec(name="ext", provider="replay", model="external-run"))
    with pytest.raises(ConfigError, match="nope.jsonl") as err:
        replay(tmp_path / "nope.jsonl")
    assert "'ext'" in str(err.value)
