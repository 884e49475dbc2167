"""Training pairs: building them from a suite's train split, splitting off validation, fingerprinting them."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from pathlib import Path

__all__ = ["Pair", "news_pairs", "news_prompt", "pairs_sha256", "split_pairs"]

Pair = tuple[str, str]
"""(prompt_text, completion_text) for completion-style prompting: the model sees the prompt, learns the completion."""


def news_prompt(text: str) -> str:
    """The exact prompt the fine-tuned model gets at inference: the bare query and a newline, no instructions."""
    return text + "\n"


def news_pairs(path: str | Path) -> list[Pair]:
    """Pairs for the `news` suite from a JSONL split (`{"id", "text", "label"}` per line), in file order.

    This is the one place that knows the suite's prompt format; the harness's suite prompt renderer can replace it.
    """
    pairs: list[Pair] = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                pairs.append((news_prompt(row["text"]), row["label"]))
            except KeyError as exc:
                raise ValueError(f"{path}:{lineno}: missing field {exc}") from exc
    return pairs


def split_pairs(pairs: Sequence[Pair], valid_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of (train, valid) pairs: a seeded split stratified by completion, so both keep the label mix.

    Each completion value contributes round(n * valid_fraction) pairs to validation (at least one when the
    fraction is positive and the value has two or more pairs). Both lists are in input order.
    """
    rng = random.Random(seed)
    by_completion: dict[str, list[int]] = {}
    for i, (_, completion) in enumerate(pairs):
        by_completion.setdefault(completion, []).append(i)
    valid: set[int] = set()
    # Sorted keys: the split must not depend on dict order of first appearance.
    for completion in sorted(by_completion):
        idx = by_completion[completion]
        n = round(len(idx) * valid_fraction)
        if valid_fraction > 0 and n == 0 and len(idx) >= 2:
            n = 1
        valid.update(rng.sample(idx, n))
    train = [i for i in range(len(pairs)) if i not in valid]
    return train, sorted(valid)


def pairs_sha256(pairs: Sequence[Pair]) -> str:
    """SHA-256 of the exact pairs (order included), as canonical JSON: the training data's fingerprint."""
    blob = json.dumps([list(p) for p in pairs], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
