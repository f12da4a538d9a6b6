"""Clocks: the wall clock for production, a fixed one for tests and backtests."""

from __future__ import annotations

import time


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1000


class FixedClock:
    """A clock that only moves when told to (tests, demos with a pinned 'now')."""

    def __init__(self, now_us: int) -> None:
        self.now = now_us

    def now_us(self) -> int:
        return self.now
