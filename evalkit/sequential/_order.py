"""The seeded random order in which a sequential run draws its items.

An item's place is fixed by a keyed hash of (seed, sample id) alone, never by the other items: the same seed
and ids give the same order on every machine and Python version (no `hash()` randomisation, no RNG state), a
resumed run continues the same order, and adding items to a suite keeps the old items in their old relative
order (new ones fall in between, each at a uniformly random place). For any fixed set of ids the order is a
uniformly random permutation as far as the items' outcomes can tell, which is what the confidence sequence
assumes (exchangeable draws).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence

__all__ = ["batches", "draw_order", "order_key"]


def order_key(seed: int, sample_id: str) -> int:
    """The item's sort key: the first 8 bytes of BLAKE2b(sample id) keyed with the seed, as an integer."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int. Got {seed!r}")
    digest = hashlib.blake2b(sample_id.encode("utf-8"), digest_size=8,
                             key=f"evalkit-sequential:{seed}".encode("ascii")).digest()
    return int.from_bytes(digest, "big")


def draw_order(sample_ids: Iterable[str], seed: int) -> list[str]:
    """The ids in the order a sequential run draws them (ties, which need a 64-bit collision, break by id).

    >>> order = draw_order(["a", "b", "c", "d"], seed=0)
    >>> sorted(order) == ["a", "b", "c", "d"] and draw_order(["d", "c", "b", "a"], seed=0) == order
    True
    """
    ids = list(sample_ids)
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        repeated = sorted({i for i in ids if i in seen or seen.add(i)})
        raise ValueError(f"sample ids must be unique. Got repeats of {repeated[:5]}")
    return sorted(ids, key=lambda i: (order_key(seed, i), i))


def batches(ordered_ids: Sequence[str], batch_size: int) -> Iterator[list[str]]:
    """Consecutive batches of `batch_size` ids (the last one may be shorter)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int. Got {batch_size!r}")
    for start in range(0, len(ordered_ids), batch_size):
        yield list(ordered_ids[start:start + batch_size])
