"""Loading the base GGUF into transformers for training (de-quantized to float32)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LoadedBase", "load_base"]


@dataclass
class LoadedBase:
    """The base model and its tokenizer as transformers objects, plus where they came from."""

    model: Any
    tokenizer: Any
    gguf_path: Path
    load_seconds: float


def load_base(base_gguf: str | Path, attn_implementation: str = "eager") -> LoadedBase:
    """Load model and tokenizer from a GGUF file with transformers (it de-quantizes; about a minute on 2 cores).

    The weights are the de-quantized Q4_K_M values, i.e. the same numbers llama.cpp multiplies with, so an
    adapter trained on them sees the model that will serve it. Eager attention is what transformers recommends
    for training Gemma 3. Never touches the network: the GGUF carries config and tokenizer.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(base_gguf).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"base GGUF {path} does not exist")
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32,
                                                 attn_implementation=attn_implementation)
    model.config.use_cache = False  # no KV cache during training: it only costs memory
    return LoadedBase(model=model, tokenizer=tokenizer, gguf_path=path, load_seconds=time.perf_counter() - start)
