"""llama.cpp's log goes to a file, never the console: the real library, loading the real embedded model with a
LoRA adapter (which logs `cannot use buft 'CPU_REPACK'` per tensor), and a file it cannot load."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

from evalkit.embedded_model import EMBEDDED_BASE_ALIAS
from evalkit.errors import ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.providers import create_provider, llamacpp
from evalkit.records import GenerationParams, Prompt, Request

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is missing")

REPO = Path(__file__).resolve().parents[1]
ADAPTER = REPO / "adapters" / "eurlex" / "adapter.gguf"


@pytest.fixture
def log_path(tmp_path: Path):
    path = tmp_path / "run" / "llama.log"
    llamacpp.set_log_file(path)
    yield path
    llamacpp.set_log_file(None)


def test_where_the_log_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(llamacpp.LOG_FILE_ENV, raising=False)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    llamacpp.set_log_file(None)
    assert llamacpp.log_file() == tmp_path / "cache" / "llama.log"
    monkeypatch.setenv(llamacpp.LOG_FILE_ENV, str(tmp_path / "env.log"))
    assert llamacpp.log_file() == tmp_path / "env.log"
    llamacpp.set_log_file(tmp_path / "run.log")
    try:
        assert llamacpp.log_file() == tmp_path / "run.log"  # the run's file wins
    finally:
        llamacpp.set_log_file(None)


def test_a_file_llama_cannot_load_names_the_log(tmp_path: Path, log_path: Path,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    provider = create_provider(ModelSpec(name="broken", provider="llamacpp", model=str(bad)))
    capfd.readouterr()
    with pytest.raises(ProviderError) as info:
        asyncio.run(provider.warmup())
    assert f"(llama.cpp's log: {log_path})" in str(info.value)
    out, err = capfd.readouterr()
    assert "gguf" not in (out + err).lower() and "llama" not in (out + err).lower()
    assert log_path.is_file() and "gguf" in log_path.read_text(errors="replace").lower()  # llama.cpp's own account


@pytest.mark.slow
@pytest.mark.skipif(not ADAPTER.is_file(), reason="the eurlex demo adapter is not in the checkout")
def test_loading_a_lora_and_generating_prints_nothing(log_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    spec = ModelSpec(name="ft", provider="llamacpp", model=EMBEDDED_BASE_ALIAS, adapter=str(ADAPTER),
                     options={"n_ctx": 512})
    provider = create_provider(spec)
    capfd.readouterr()

    async def go() -> str:
        await provider.warmup()
        response = await provider.generate(Request(prompt=Prompt(text="Le tribunal"),
                                                   params=GenerationParams(max_tokens=4, temperature=0.0)))
        await provider.aclose()
        return response.text

    asyncio.run(go())
    out, err = capfd.readouterr()
    assert out == "" and err == "", (out + err)[:2000]
    log = log_path.read_text(errors="replace")
    assert "cannot use buft 'CPU_REPACK'" in log and "llama_kv_cache" in log  # what used to reach the console
    assert "init_tokenizer" not in log  # debug lines (some 1,300 per load) stay out of the file


def test_a_run_sends_the_log_into_its_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner asks each provider to log into the run directory (Provider.log_into), and back after."""
    from evalkit.cli import main

    monkeypatch.delenv(llamacpp.LOG_FILE_ENV, raising=False)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    (tmp_path / "evalkit.toml").write_text('[models.broken]\nprovider = "llamacpp"\nmodel = "broken.gguf"\n',
                                           encoding="utf-8")
    assert main(["run", "news", "--models", "broken", "--limit", "1", "--out", "reports", "--quiet"]) == 2
    (run_dir,) = (tmp_path / "reports").iterdir()
    err = capsys.readouterr().err
    assert f"(llama.cpp's log: {Path('reports') / run_dir.name / 'llama.log'})" in err
    assert "gguf" in (run_dir / "llama.log").read_text(errors="replace").lower()
    assert llamacpp.log_file() == tmp_path / "cache" / "llama.log"  # the run over, back to the default
