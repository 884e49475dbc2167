"""Local models are loaded one after the other: two llama.cpp loads at once end the process (status 0)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from evalkit import model_pool
from evalkit.config import load_config
from evalkit.providers import Provider
from evalkit.records import ProviderResponse, Request
from evalkit.runner import RunOptions, prepare
from evalkit.suite import load_suite


class SlowLoader(Provider):
    """A provider whose warm-up takes a while and records how many warm-ups overlap."""

    slow_warmup = True
    active = 0
    peak = 0

    async def warmup(self) -> None:
        SlowLoader.active += 1
        SlowLoader.peak = max(SlowLoader.peak, SlowLoader.active)
        await asyncio.sleep(0.05)
        SlowLoader.active -= 1

    async def generate(self, request: Request) -> ProviderResponse:
        return ProviderResponse(text="A")


def test_warmups_do_not_overlap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(model_pool, "create_provider", SlowLoader)
    (tmp_path / "d.jsonl").write_text(json.dumps({"id": "q1", "input": "q", "target": "A",
                                                  "options": ["x", "y"]}) + "\n", encoding="utf-8")
    (tmp_path / "suite.yaml").write_text("task: multiple_choice\ndata: {path: d.jsonl}\n"
                                         "prompts: {default: {template: '{{ input }}'}}\n", encoding="utf-8")
    (tmp_path / "evalkit.toml").write_text("[models.a]\nprovider = 'llamacpp'\nmodel = 'x.gguf'\n"
                                           "[models.b]\nprovider = 'llamacpp'\nmodel = 'y.gguf'\n", encoding="utf-8")
    runner = prepare(load_suite(str(tmp_path / "suite.yaml")), load_config(tmp_path / "evalkit.toml"),
                     RunOptions(models=("a", "b"), use_cache=False, out_dir=tmp_path / "reports", show_progress=False))
    outcome = asyncio.run(runner.run())
    assert outcome.result.info.status == "complete" and SlowLoader.peak == 1
