"""PEFT -> GGUF LoRA conversion on synthetic tensors: names, shapes, orientation, metadata, refusals.

No model is loaded; needs only numpy and the gguf package (the train extra).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from evalkit.training.convert import gguf_tensor_name, peft_dir_to_gguf, write_lora_gguf  # noqa: E402

N_EMBD, Q_OUT, KV_OUT, RANK, ALPHA = 640, 1024, 256, 4, 8.0


def _peft_state(layers: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """A PEFT-style state dict for q_proj (640->1024) and v_proj (640->256): A is (r, in), B is (out, r)."""
    rng = np.random.default_rng(seed)
    state = {}
    for i in range(layers):
        for mod, out in (("q_proj", Q_OUT), ("v_proj", KV_OUT)):
            key = f"base_model.model.model.layers.{i}.self_attn.{mod}"
            state[f"{key}.lora_A.weight"] = rng.standard_normal((RANK, N_EMBD)).astype(np.float32)
            state[f"{key}.lora_B.weight"] = rng.standard_normal((out, RANK)).astype(np.float32)
    return state


def _fields(reader: object) -> dict[str, object]:
    out = {}
    for name, field in reader.fields.items():  # type: ignore[attr-defined]
        if name.startswith("GGUF."):
            continue
        value = field.contents() if hasattr(field, "contents") else field.parts[field.data[0]]
        out[name] = value
    return out


@pytest.mark.parametrize(("module", "expected"), [
    ("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"), ("self_attn.v_proj", "attn_v"),
    ("self_attn.o_proj", "attn_output"), ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"),
    ("mlp.down_proj", "ffn_down"),
])
def test_name_mapping_follows_llama_cpp(module: str, expected: str) -> None:
    assert gguf_tensor_name(f"base_model.model.model.layers.7.{module}.lora_A.weight", 18) == \
        f"blk.7.{expected}.weight.lora_a"
    # Keys saved with an adapter name in them (`.lora_B.default.weight`) map the same way.
    assert gguf_tensor_name(f"base_model.model.model.layers.12.{module}.lora_B.default.weight", 18) == \
        f"blk.12.{expected}.weight.lora_b"


def test_name_mapping_rejects_non_lora_keys() -> None:
    with pytest.raises(ValueError, match="not a LoRA"):
        gguf_tensor_name("base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight", 18)
    with pytest.raises(ValueError, match="no GGUF tensor"):
        gguf_tensor_name("base_model.model.model.layers.0.self_attn.nonsense.lora_A.weight", 18)


def test_written_file_has_adapter_metadata_names_and_shapes(tmp_path: Path) -> None:
    state = _peft_state()
    out = write_lora_gguf(state, ALPHA, tmp_path / "a.gguf", name="unit")
    reader = gguf.GGUFReader(str(out.path))
    fields = _fields(reader)
    assert fields["general.architecture"] == "gemma3"
    assert fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == pytest.approx(ALPHA)
    tensors = {t.name: t for t in reader.tensors}
    assert set(tensors) == {f"blk.{i}.attn_{m}.weight.lora_{ab}" for i in (0, 1) for m in "qv" for ab in "ab"}
    # GGUF lists dimensions innermost first: lora_a is [n_embd, r], lora_b is [r, n_out], matching a base
    # weight of [n_embd, n_out] the way llama.cpp's loader checks it.
    assert list(tensors["blk.0.attn_q.weight.lora_a"].shape) == [N_EMBD, RANK]
    assert list(tensors["blk.0.attn_q.weight.lora_b"].shape) == [RANK, Q_OUT]
    assert list(tensors["blk.1.attn_v.weight.lora_b"].shape) == [RANK, KV_OUT]
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F32 for t in reader.tensors)
    assert out.rank == RANK and out.alpha == ALPHA


def _ggml_mul_mat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ggml_mul_mat on arrays in GGUF/numpy layout (row-major, shape = reversed ne): a (M, K), b (N, K) -> (N, M)."""
    return b @ a.T


def test_llama_cpp_delta_equals_peft_delta(tmp_path: Path) -> None:
    """Apply the written tensors the way llama.cpp does (b * (a * x) * alpha/r) and compare with PEFT's update."""
    state = _peft_state(layers=1, seed=3)
    write_lora_gguf(state, ALPHA, tmp_path / "a.gguf")
    tensors = {t.name: np.array(t.data) for t in gguf.GGUFReader(str(tmp_path / "a.gguf")).tensors}
    x = np.random.default_rng(9).standard_normal((5, N_EMBD)).astype(np.float32)  # 5 tokens
    a_hf = state["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"]
    b_hf = state["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"]
    peft_delta = (x @ a_hf.T @ b_hf.T) * (ALPHA / RANK)  # PEFT: lora_B(lora_A(x)) * scaling
    a, b = tensors["blk.0.attn_q.weight.lora_a"], tensors["blk.0.attn_q.weight.lora_b"]
    llama_delta = _ggml_mul_mat(b, _ggml_mul_mat(a, x)) * (ALPHA / b.shape[-1])  # rank = lora_b ne[0]
    np.testing.assert_allclose(llama_delta, peft_delta, rtol=1e-5, atol=1e-4)
    # The transposed layout would not even have the right shape: the test can tell the two apart.
    assert a.shape == (RANK, N_EMBD) and b.shape == (Q_OUT, RANK)


def test_incomplete_or_inconsistent_state_is_refused(tmp_path: Path) -> None:
    state = _peft_state(layers=1)
    del state["base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"]
    with pytest.raises(ValueError, match="needs both"):
        write_lora_gguf(state, ALPHA, tmp_path / "x.gguf")
    mixed = _peft_state(layers=1)
    mixed["base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight"] = np.zeros((2, N_EMBD), np.float32)
    with pytest.raises(ValueError, match="rank mismatch"):
        write_lora_gguf(mixed, ALPHA, tmp_path / "y.gguf")
    with pytest.raises(ValueError, match="not supported"):
        write_lora_gguf(_peft_state(layers=1), ALPHA, tmp_path / "z.gguf", arch="llama")


def test_peft_dir_conversion_reads_alpha_and_refuses_rslora(tmp_path: Path) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    peft_dir = tmp_path / "peft"
    peft_dir.mkdir()
    safetensors_numpy.save_file(_peft_state(layers=1), str(peft_dir / "adapter_model.safetensors"))
    (peft_dir / "adapter_config.json").write_text(json.dumps({"lora_alpha": 32, "r": RANK}))
    out = peft_dir_to_gguf(peft_dir, tmp_path / "out.gguf")
    assert out.alpha == 32.0
    assert _fields(gguf.GGUFReader(str(out.path)))["adapter.lora.alpha"] == pytest.approx(32.0)
    (peft_dir / "adapter_config.json").write_text(json.dumps({"lora_alpha": 32, "r": RANK, "use_rslora": True}))
    with pytest.raises(ValueError, match="rsLoRA"):
        peft_dir_to_gguf(peft_dir, tmp_path / "out2.gguf")
