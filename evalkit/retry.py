"""When to try a failed call again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring the server's Retry-After within a cap."""

    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_retry_after_s: float = 60.0
    """A Retry-After longer than this is capped, so a misbehaving server cannot stall a run for hours."""

    def delay(self, retry_number: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `retry_number` (0 for the first retry)."""
        rng = rng or random
        backoff = min(self.max_delay_s, self.base_delay_s * (2 ** retry_number))
        jittered = rng.uniform(backoff / 2, backoff)
        if retry_after is not None and retry_after > 0:
            return max(min(retry_after, self.max_retry_after_s), jittered)
        return jittered
