"""The bundled news data set: sizes, schema, class balance and no duplicates within or across splits."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "benchmarks" / "news"
LABELS = {"news_related", "not_news_related"}


def load(split):
    return [json.loads(line) for line in (ROOT / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]


def norm(text):
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


@pytest.mark.parametrize(("split", "size", "positives"), [("train", 420, 161), ("test", 180, 68)])
def test_split_size_schema_and_balance(split, size, positives):
    rows = load(split)
    assert len(rows) == size
    assert [r["id"] for r in rows] == [f"news-{split}-{i:04d}" for i in range(1, size + 1)]
    assert all(set(r) == {"id", "text", "label"} and r["label"] in LABELS and r["text"].strip() for r in rows)
    n_pos = sum(r["label"] == "news_related" for r in rows)
    assert n_pos == positives and 0.35 <= n_pos / size <= 0.40


def test_no_duplicate_texts_within_or_across_splits():
    texts = [norm(r["text"]) for split in ("train", "test") for r in load(split)]
    assert len(texts) == len(set(texts)) == 600
