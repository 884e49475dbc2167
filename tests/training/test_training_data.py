"""Pair building, the validation split, the data fingerprint, tokenization layout and batch order (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.training.data import news_pairs, pairs_sha256, split_pairs
from evalkit.training.encoding import IGNORE_INDEX, encode_pair

REPO = Path(__file__).resolve().parents[2]


class CharTokenizer:
    """One token per character (ids >= 10), BOS=2, EOS=1, pad=0: enough to check the layout."""

    bos_token_id, eos_token_id, pad_token_id = 2, 1, 0

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = [10 + ord(c) for c in text]
        return [self.bos_token_id, *ids] if add_special_tokens else ids


def test_news_pairs_use_bare_query_and_newline(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    rows = [{"id": "a", "text": "latest on the strike", "label": "news_related"},
            {"id": "b", "text": "how to boil an egg", "label": "not_news_related"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    assert news_pairs(path) == [("latest on the strike\n", "news_related"),
                                ("how to boil an egg\n", "not_news_related")]


def test_news_pairs_reports_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "x"}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        news_pairs(path)


def test_real_news_split_builds() -> None:
    pairs = news_pairs(REPO / "benchmarks" / "news" / "train.jsonl")
    assert len(pairs) == 420
    assert {c for _, c in pairs} == {"news_related", "not_news_related"}
    assert all(p.endswith("\n") and not p.endswith("\n\n") for p, _ in pairs)


def test_split_is_seeded_stratified_and_disjoint() -> None:
    pairs = [(f"q{i}\n", "pos" if i % 3 == 0 else "neg") for i in range(90)]
    train, valid = split_pairs(pairs, 0.1, seed=1)
    assert split_pairs(pairs, 0.1, seed=1) == (train, valid)
    assert split_pairs(pairs, 0.1, seed=2) != (train, valid)
    assert sorted(train + valid) == list(range(90)) and not set(train) & set(valid)
    assert sum(pairs[i][1] == "pos" for i in valid) == 3 and sum(pairs[i][1] == "neg" for i in valid) == 6
    assert split_pairs(pairs, 0.0, seed=1) == (list(range(90)), [])


def test_data_hash_changes_with_content_and_order() -> None:
    pairs = [("a\n", "x"), ("b\n", "y")]
    assert pairs_sha256(pairs) == pairs_sha256(list(pairs))
    assert pairs_sha256(pairs) != pairs_sha256(pairs[::-1])
    assert pairs_sha256(pairs) != pairs_sha256([("a\n", "x"), ("b\n", "z")])


def test_encoding_has_bos_on_prompt_only_and_eos_after_completion() -> None:
    tok = CharTokenizer()
    enc = encode_pair(tok, "hi\n", "ok", max_length=64)
    assert enc.input_ids == (2, 10 + ord("h"), 10 + ord("i"), 10 + ord("\n"), 10 + ord("o"), 10 + ord("k"), 1)
    assert enc.n_prompt == 4
    assert enc.input_ids.count(2) == 1


def test_encoding_truncates_prompt_start_but_keeps_bos_and_completion() -> None:
    tok = CharTokenizer()
    enc = encode_pair(tok, "abcdefgh\n", "ok", max_length=8)
    assert len(enc.input_ids) == 8
    assert enc.input_ids[0] == 2 and enc.input_ids[-3:] == (10 + ord("o"), 10 + ord("k"), 1)
    assert enc.input_ids[enc.n_prompt - 1] == 10 + ord("\n")
    with pytest.raises(ValueError, match="does not fit"):
        encode_pair(tok, "a\n", "a long completion", max_length=8)


def test_collate_masks_prompt_and_padding() -> None:
    torch = pytest.importorskip("torch")
    from evalkit.training.encoding import collate

    tok = CharTokenizer()
    batch = collate([encode_pair(tok, "ab\n", "x", 32), encode_pair(tok, "a\n", "xy", 32)], pad_id=0)
    assert batch["input_ids"].shape == (2, 6)
    assert batch["labels"][0].tolist() == [IGNORE_INDEX] * 4 + [10 + ord("x"), 1]
    assert batch["labels"][1].tolist() == [IGNORE_INDEX] * 3 + [10 + ord("x"), 10 + ord("y"), 1]
    assert batch["attention_mask"].sum().item() == 12
    assert torch.equal(batch["input_ids"][0], torch.tensor([2, 107, 108, 20, 130, 1]))


def test_batch_order_is_seeded_and_covers_each_epoch() -> None:
    pytest.importorskip("torch")
    from evalkit.training.trainer import _batch_order

    order = _batch_order(10, 4, steps=6, seed=5)
    assert order == _batch_order(10, 4, steps=6, seed=5)
    assert order != _batch_order(10, 4, steps=6, seed=6)
    assert [len(b) for b in order] == [4, 4, 2, 4, 4, 2]
    assert sorted(i for b in order[:3] for i in b) == list(range(10))


def _report(**overrides: object) -> object:
    from evalkit.training.verify import AgreementReport

    fields = dict(n=4, tokenization_equal=4, completions_equal=4, base_differs=4, max_abs_margin_diff=0.5,
                  mean_abs_margin_diff=0.2, max_abs_base_margin_diff=0.4, mean_abs_margin_shift=6.0,
                  choices=("a", "b"), checks=())
    fields.update(overrides)
    return AgreementReport(**fields)


def test_agreement_criterion() -> None:
    assert _report().ok and _report().conclusive
    assert not _report(completions_equal=3).ok
    assert not _report(tokenization_equal=3).ok
    # A margin gap beyond both the adapter-relative and the noise-relative tolerance is a failed conversion.
    assert not _report(max_abs_margin_diff=2.0).ok
    # An adapter that barely moves margins passes when the gap is within runtime noise, but is not conclusive.
    weak = _report(mean_abs_margin_shift=0.3, max_abs_margin_diff=0.5)
    assert weak.ok and not weak.conclusive
