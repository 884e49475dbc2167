"""A requests-per-second limiter shared by every model behind the same provider endpoint."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """Spaces call starts at least 1/rps seconds apart (no bursts), fairly in arrival order."""

    def __init__(self, requests_per_second: float) -> None:
        if requests_per_second <= 0:
            raise ValueError(f"requests_per_second must be > 0, got {requests_per_second!r}")
        self.interval = 1.0 / requests_per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for this call's slot."""
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)
