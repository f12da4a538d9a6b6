"""Tiers: levels, and qualifying points over rolling, calendar-year and anniversary windows.

Qualifying points are points *earned* (awards minus reversals, never reduced by spending or
expiry) in the tier window. :class:`QualifyingPoints` keeps them per local day and a running
total for the current window, so reading the tier at the newest day is O(1). Grace asks
"what was the best level at any day of the last ``grace`` days": the total only rises on days
with an award and only falls between them, so the best level is reached either on such a day
(recorded as it happens, end-of-day value) or on the first day of the grace period.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from plaudit.domain.rulebook import Level


def level_index(levels: tuple[Level, ...], value: Decimal | int) -> int:
    """The highest level whose start is at or below ``value`` (levels are ordered)."""
    idx = 0
    for i, lv in enumerate(levels):
        if value >= lv.start:
            idx = i
        else:
            break
    return idx


class QualifyingPoints:
    """Per-day qualifying points of one member, applied in day order."""

    __slots__ = ("_ws_day", "_ws_value", "entries", "first_day", "grace", "levels", "recent",
                 "retain", "starts", "total", "window", "window_start", "window_start_of")

    def __init__(self, levels: tuple[Level, ...],
                 window_start_of: Callable[[int, int | None], int],
                 retain_days: int, grace_days: int) -> None:
        self.levels = levels
        self.first_day: int | None = None
        """The member's first behaviour day (anniversary windows count from it)."""
        self.starts = [lv.start for lv in levels]
        self.window_start_of = window_start_of
        self.retain = retain_days
        self.grace = grace_days
        self.entries: deque[list[int]] = deque()   # [day, points], kept `retain` days
        self.window: deque[list[int]] = deque()    # the same lists, current window only
        self.window_start: int | None = None
        self.total = 0                              # sum over `window`
        self.recent: deque[list[int]] | None = deque() if grace_days else None
        self._ws_day = -1
        self._ws_value = 0

    def dump(self) -> list[Any]:
        """The per-day entries (the window is their newest ``len(window)``), window start,
        total and the grace levels; the window-start cache is left out."""
        entries, window = self.entries, self.window
        n = len(window)
        if n and (n > len(entries) or window[0] is not entries[len(entries) - n]):
            raise ValueError("the tier window is not the newest entries")
        return [self.first_day, [list(e) for e in entries], n, self.window_start, self.total,
                None if self.recent is None else [list(r) for r in self.recent]]

    def load(self, data: list[Any]) -> None:
        first_day, entries, n, self.window_start, self.total, recent = data
        self.first_day = first_day
        self.entries = deque([day, points] for day, points in entries)
        self.window = deque(list(self.entries)[len(self.entries) - n:] if n else ())
        if (recent is None) != (self.recent is None):
            raise ValueError("the tier grace does not match the rulebook")
        if recent is not None:
            self.recent = deque([day, level] for day, level in recent)

    def _start(self, day: int) -> int:
        if day != self._ws_day:
            self._ws_day = day
            self._ws_value = self.window_start_of(day, self.first_day)
        return self._ws_value

    def add(self, day: int, points: int) -> None:
        entries = self.entries
        if entries and entries[-1][0] == day:
            entries[-1][1] += points
        else:
            entry = [day, points]
            entries.append(entry)
            self.window.append(entry)
        start = self._start(day)
        if start != self.window_start:
            self.window_start = start
            window = self.window
            while window and window[0][0] < start:
                self.total -= window.popleft()[1]
        self.total += points
        horizon = day - self.retain
        while entries[0][0] < horizon:
            entries.popleft()
        recent = self.recent
        if recent is not None:
            level = max(bisect_right(self.starts, self.total) - 1, 0)
            if recent and recent[-1][0] == day:
                recent[-1][1] = level
            else:
                recent.append([day, level])
            while recent[0][0] < day - self.grace:
                recent.popleft()

    def at(self, day: int) -> int:
        """Qualifying points on ``day`` (at or after the last added day)."""
        start = self._start(day)
        total = self.total
        for entry_day, points in self.window:
            if entry_day >= start:
                break
            total -= points
        return max(total, 0)

    def on_past_day(self, day: int) -> int:
        """Qualifying points at the end of any retained ``day`` (slower: scans)."""
        start = self.window_start_of(day, self.first_day)
        return max(sum(p for d, p in self.entries if start <= d <= day), 0)

    def held(self, day: int, grace: int, first_day: int | None) -> tuple[int, int, int | None]:
        """(earned level, held level, last local day the held level is kept) on ``day``."""
        earned = level_index(self.levels, self.at(day))
        top = len(self.levels) - 1
        if not grace or earned == top:
            return earned, earned, None
        start = day - grace
        best = earned
        if first_day is not None and start >= first_day:
            best = max(best, level_index(self.levels, self.on_past_day(start)))
        if self.recent:  # ascending by day: walk back from today, stop at the grace start
            for d, lv in reversed(self.recent):
                if d < start:
                    break
                if lv > best:
                    best = lv
                    if best == top:
                        break
        if best == earned:
            return earned, earned, None
        last = start
        for d in range(day, start - 1, -1):
            if level_index(self.levels, self.on_past_day(d)) >= best:
                last = d
                break
        return earned, best, last + grace


__all__ = ["QualifyingPoints", "level_index"]
