"""PEFT LoRA adapter -> llama.cpp GGUF LoRA file, following llama.cpp's convert_lora_to_gguf.py.

What llama.cpp expects (checked against convert_lora_to_gguf.py and llama-adapter.cpp):

- metadata ``general.architecture`` equal to the base model's (``gemma3``), ``general.type = "adapter"``,
  ``adapter.type = "lora"`` and ``adapter.lora.alpha`` (float32). At load, the scale is alpha / rank, the rank
  read from the tensors: the same alpha / r scaling as PEFT without rsLoRA.
- for each adapted weight ``W`` of GGUF name ``blk.{i}.attn_q.weight``, two tensors ``blk.{i}.attn_q.weight.lora_a``
  and ``.lora_b``. They are PEFT's ``lora_A.weight`` (torch shape ``(r, in)``) and ``lora_B.weight`` (``(out, r)``)
  written as they are, not transposed: GGUF lists dimensions innermost first, so they appear as ``[in, r]``
  and ``[r, out]``, which is what llama.cpp checks against the base weight ``[in, out]``.
- names come from the gguf package's tensor name map (``model.layers.{i}.self_attn.q_proj`` -> ``blk.{i}.attn_q``).

Permutation. llama.cpp's HF->GGUF conversion permutes the rows of q/k for the ``llama`` family (its rope
layout differs from HF's) and a LoRA on q/k must then be permuted the same way. For Gemma 3 it does not:
``Gemma3Model.modify_tensors`` only trims the vocabulary and adds 1 to norm weights, and transformers' GGUF loader
applies no reverse permutation for gemma3 either (only ``norm - 1``). So q/k deltas map one to one; the
agreement check (evalkit.training.verify) confirms it numerically. Other architectures are refused here rather
than silently converted wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ConvertedAdapter", "SUPPORTED_ARCHS", "gguf_tensor_name", "peft_dir_to_gguf", "write_lora_gguf"]

SUPPORTED_ARCHS = frozenset({"gemma3"})
"""Architectures whose q/k weights are not permuted between HF and GGUF, so LoRA deltas map one to one."""

_PEFT_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.[^.]+)?\.weight$")


@dataclass(frozen=True)
class ConvertedAdapter:
    """A written GGUF LoRA file and what it holds."""

    path: Path
    alpha: float
    rank: int
    tensors: tuple[tuple[str, tuple[int, ...]], ...]
    """(GGUF name, numpy shape) of every tensor written, in file order."""


def gguf_tensor_name(peft_key: str, n_blocks: int, arch: str = "gemma3") -> str:
    """GGUF LoRA tensor name for a PEFT state-dict key.

    ``base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight`` -> ``blk.3.attn_q.weight.lora_a``.
    Raises ValueError for a key that is not a LoRA A/B matrix or has no GGUF counterpart.
    """
    import gguf

    m = _PEFT_KEY.match(peft_key)
    if m is None:
        raise ValueError(f"not a LoRA A/B weight: {peft_key!r}")
    name_map = gguf.get_tensor_name_map(_model_arch(arch), n_blocks)
    base = name_map.get_name(m["module"] + ".weight", try_suffixes=(".weight",))
    if base is None:
        raise ValueError(f"no GGUF tensor for {m['module']!r} in architecture {arch!r}")
    return f"{base}.lora_{m['ab'].lower()}"


def write_lora_gguf(state: Mapping[str, Any], alpha: float, out_path: str | Path, arch: str = "gemma3",
                    name: str | None = None) -> ConvertedAdapter:
    """Write LoRA A/B matrices (a PEFT state dict: torch tensors or numpy arrays) as a llama.cpp GGUF LoRA.

    Tensors are stored as float32 (an r=8 adapter on a 270M model is ~1.5 MB, so compression buys nothing and
    would add rounding between the PEFT model and llama.cpp).
    """
    import gguf

    if arch not in SUPPORTED_ARCHS:
        raise ValueError(f"architecture {arch!r} is not supported: its q/k permutation is not handled "
                         f"(supported: {sorted(SUPPORTED_ARCHS)})")
    arrays = {key: _as_f32(value) for key, value in state.items()}
    n_blocks = 1 + max((int(i) for k in arrays for i in re.findall(r"\.layers\.(\d+)\.", k)), default=0)
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, arr in sorted(arrays.items(), key=lambda kv: _natural_key(kv[0])):
        if arr.ndim != 2:
            raise ValueError(f"{key}: expected a matrix, got shape {arr.shape}")
        gname = gguf_tensor_name(key, n_blocks, arch)
        base, ab = gname.rsplit(".", 1)
        pairs.setdefault(base, {})[ab] = arr
    if not pairs:
        raise ValueError("the state dict holds no LoRA tensors")
    ranks = set()
    for base, ab in pairs.items():
        if set(ab) != {"lora_a", "lora_b"}:
            raise ValueError(f"{base}: needs both lora_a and lora_b, got {sorted(ab)}")
        a, b = ab["lora_a"], ab["lora_b"]
        if a.shape[0] != b.shape[1]:
            raise ValueError(f"{base}: rank mismatch between lora_a {a.shape} and lora_b {b.shape}")
        ranks.add(a.shape[0])
    if len(ranks) != 1:
        raise ValueError(f"mixed LoRA ranks {sorted(ranks)}")

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), arch=arch)  # writes general.architecture
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    if name:
        writer.add_name(name)
    written: list[tuple[str, tuple[int, ...]]] = []
    for base in sorted(pairs, key=_natural_key):
        for ab in ("lora_a", "lora_b"):
            arr = np.ascontiguousarray(pairs[base][ab])
            writer.add_tensor(f"{base}.{ab}", arr)
            written.append((f"{base}.{ab}", tuple(arr.shape)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return ConvertedAdapter(path=out, alpha=float(alpha), rank=ranks.pop(), tensors=tuple(written))


def peft_dir_to_gguf(peft_dir: str | Path, out_path: str | Path, arch: str = "gemma3",
                     name: str | None = None) -> ConvertedAdapter:
    """Convert a saved PEFT adapter directory (adapter_config.json + adapter_model.safetensors) to GGUF."""
    from safetensors.numpy import load_file

    peft_dir = Path(peft_dir)
    cfg = json.loads((peft_dir / "adapter_config.json").read_text(encoding="utf-8"))
    if cfg.get("use_rslora"):
        raise ValueError("rsLoRA adapters scale by alpha/sqrt(r); llama.cpp scales by alpha/r")
    if cfg.get("use_dora"):
        raise ValueError("DoRA adapters have no llama.cpp GGUF LoRA form")
    if cfg.get("rank_pattern") or cfg.get("alpha_pattern"):
        raise ValueError("per-module rank/alpha patterns cannot be expressed with one adapter.lora.alpha")
    state = load_file(str(peft_dir / "adapter_model.safetensors"))
    return write_lora_gguf(state, float(cfg["lora_alpha"]), out_path, arch=arch, name=name)


def _as_f32(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, possibly bf16, which numpy cannot hold
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _natural_key(name: str) -> list[Any]:
    """Sort key that orders blk.2 before blk.10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _model_arch(arch: str) -> Any:
    import gguf

    for key, value in gguf.MODEL_ARCH_NAMES.items():
        if value == arch:
            return key
    raise ValueError(f"unknown GGUF architecture {arch!r}")
