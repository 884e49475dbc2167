"""The committed demo adapters: each manifest matches the embedded base model and its adapter file, and the
news adapter, loaded through the llamacpp provider, really is the fine-tuned router the demo claims."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = sorted((REPO / "adapters").glob("*/manifest.json"))

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (CI installs it)")


@pytest.mark.parametrize("manifest_path", MANIFESTS, ids=lambda p: p.parent.name)
def test_manifest_matches_base_model_and_adapter_file(manifest_path: Path) -> None:
    from evalkit.embedded_model import embedded_base_gguf, sha256_of

    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    base = embedded_base_gguf()
    assert manifest["base_model"]["sha256"] == sha256_of(base), "adapter trained on another base model"
    assert manifest["base_model"]["size_bytes"] == base.stat().st_size
    adapter = manifest_path.parent / manifest["adapter"]["file"]
    assert hashlib.sha256(adapter.read_bytes()).hexdigest() == manifest["adapter"]["sha256"]
    assert adapter.stat().st_size == manifest["adapter"]["size_bytes"]
    assert manifest["seed"] is not None and manifest["steps"] > 0
    assert manifest["final_train_loss"] is not None and len(manifest["loss_curve"]["train"]) == manifest["steps"]
    assert manifest["suite"] == manifest_path.parent.name


def test_all_demo_suites_have_a_manifest() -> None:
    assert {p.parent.name for p in MANIFESTS} >= {"news", "bsard", "eurlex", "mcq"}


@pytest.mark.slow
def test_news_adapter_through_the_provider_routes_queries() -> None:
    from evalkit.config import ProjectConfig, resolve_model
    from evalkit.loaders import load_samples
    from evalkit.metrics.classification import parse_label
    from evalkit.providers import create_provider
    from evalkit.records import GenerationParams, Prompt, Request
    from evalkit.suite import load_suite

    suite = load_suite(str(REPO / "benchmarks" / "news" / "suite.yaml"))
    spec_ft = resolve_model("ft", ProjectConfig(), suite)
    spec_base = spec_ft.model_copy(update={"name": "base", "adapter": None})
    samples = load_samples(suite.data, suite.directory)[:24]
    labels = ["news_related", "not_news_related"]
    params = GenerationParams(max_tokens=8, stop=("\n",))

    async def predict(spec) -> list[str]:
        provider = create_provider(spec)
        try:
            out = []
            for s in samples:
                resp = await provider.generate(Request(prompt=Prompt(text=s.input + "\n"), params=params))
                out.append(parse_label(resp.text, labels))
            return out
        finally:
            await provider.aclose()

    ft = asyncio.run(predict(spec_ft))
    base = asyncio.run(predict(spec_base))
    truth = [s.target for s in samples]
    ft_correct = sum(p == t for p, t in zip(ft, truth, strict=True))
    # The adapter answers with a label on the bare query; the base model, given the same bare query, does not.
    assert all(p in labels for p in ft)
    assert ft_correct >= 0.8 * len(samples)
    assert sum(p in labels for p in base) < len(samples) // 2 or ft != base
