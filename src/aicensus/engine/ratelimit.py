"""A token bucket for the global rate of new connections."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """`rate` tokens per second, bursting to at most `burst`. rate <= 0 means unlimited.

    Implemented as virtual scheduling (GCRA): each caller reserves the next free slot at once
    and sleeps until it, so callers wait in parallel on their own timers. A lock handing the
    bucket from one waiter to the next would cost an event-loop iteration per token, and a
    busy loop would then fall short of the rate (measured: 1,910/s for --rate 2000).
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate / 10)
        self._interval = 1.0 / rate if rate > 0 else 0.0
        # Slot of the next token; up to `capacity` slots may already lie in the past (burst).
        self._next = time.monotonic() - (self.capacity - 1) * self._interval

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        earliest = now - (self.capacity - 1) * self._interval  # an idle bucket refills to full
        slot = max(self._next, earliest)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)
