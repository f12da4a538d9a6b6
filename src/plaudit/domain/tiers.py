"""Tiers: levels, and qualifying points over rolling, calendar-year and anniversary windows.

Qualifying points are points *earned* (awards minus reversals, never reduced by spending or
expiry) in the tier window. :class:`QualifyingPoints` keeps them per local day and a running
total for the current window, so reading the tier at the newest day is O(1). Grace asks
"what was the best level at any day of the last ``grace`` days": the total rises only on a
day with an award (its end-of-day level is recorded as it happens) or on a day a net-negative
day (a reversal) leaves the window, and only falls between such days. So the best level is
reached on one of them or on the first day of the grace period, and the last day it is kept
is found by bisection up to the next of them. Each per-day entry carries a running sum of
every point added so far, so qualifying points on a past day are two bisections, not a scan.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from itertools import islice
from operator import itemgetter
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

    __slots__ = ("_ws_day", "_ws_value", "entries", "first_day", "grace", "last_reversal",
                 "levels", "recent", "retain", "starts", "total", "window", "window_start",
                 "window_start_of")

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
        self.entries: deque[list[int]] = deque()
        """[day, points, running sum through this day], kept ``retain`` days (the running
        sum counts from an arbitrary origin: only differences are read)."""
        self.window: deque[list[int]] = deque()    # the same lists, current window only
        self.last_reversal: int | None = None
        """No net-negative day is retained after this day (None: none at all): only such a
        day can raise the total as it leaves the window. Live, the latest day points were
        taken back on; restored, the latest retained day that ended net-negative."""
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
        return [self.first_day, [[e[0], e[1]] for e in entries], n, self.window_start, self.total,
                None if self.recent is None else [list(r) for r in self.recent]]

    def load(self, data: list[Any]) -> None:
        first_day, entries, n, self.window_start, self.total, recent = data
        self.first_day = first_day
        running = 0
        self.entries = deque()
        for day, points in entries:
            running += points
            self.entries.append([day, points, running])
            if points < 0:
                self.last_reversal = day
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
        if points < 0:
            self.last_reversal = day
        if entries and entries[-1][0] == day:
            last = entries[-1]
            last[1] += points
            last[2] += points
        else:
            entry = [day, points, (entries[-1][2] if entries else 0) + points]
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
        for entry in self.window:
            if entry[0] >= start:
                break
            total -= entry[1]
        return max(total, 0)

    def _through(self, day: int) -> int:
        """The running sum through the end of ``day`` (entries before the oldest retained
        one count as the oldest entry's running sum minus its points)."""
        entries = self.entries
        i = bisect_right(entries, day, key=_DAY)
        if i:
            return entries[i - 1][2]
        return entries[0][2] - entries[0][1] if entries else 0

    def on_past_day(self, day: int) -> int:
        """Qualifying points at the end of any retained ``day``."""
        start = self.window_start_of(day, self.first_day)
        return max(self._through(day) - self._through(start - 1), 0)

    def _level_on(self, day: int) -> int:
        return level_index(self.levels, self.on_past_day(day))

    def held(self, day: int, grace: int, first_day: int | None) -> tuple[int, int, int | None]:
        """(earned level, held level, last local day the held level is kept) on ``day``."""
        earned = level_index(self.levels, self.at(day))
        top = len(self.levels) - 1
        if not grace or earned == top:
            return earned, earned, None
        start = day - grace
        # The days the level can rise on: the grace start, each day with an award (its
        # recorded end-of-day level), each day a net-negative day (a reversal) leaves the
        # window. Between two of them the level only falls. `reached`: the latest day at
        # the best level (walking back, only a higher level moves it).
        best, reached = earned, day
        recent = self.recent
        if recent:
            for d, lv in reversed(recent):
                if d < start:
                    break
                if lv > best:
                    best, reached = lv, d
        if first_day is not None and start >= first_day:
            level = self._level_on(start)
            if level > best:
                best, reached = level, start
        leaving = self._negatives_leaving(start, day)
        for d, lv in leaving:
            if lv > best or (lv == best and d > reached and best > earned):
                best, reached = lv, d
        if best == earned:
            return earned, earned, None
        following = min([d for d, _ in recent or () if d > reached]
                        + [d for d, _ in leaving if d > reached], default=day + 1)
        # The level only falls from `reached` to the day before `following`: the last day
        # still at `best`, by bisection over those days.
        falling = range(reached, following)
        last = reached + bisect_right(falling, -best, key=lambda d: -self._level_on(d)) - 1
        return earned, best, last + grace

    def _negatives_leaving(self, start: int, day: int) -> list[tuple[int, int]]:
        """(day, level) for each day in (``start``, ``day``] on which a net-negative entry
        leaves the window, raising the total."""
        first = self.first_day
        if self.last_reversal is None:
            return []
        lo_day, hi_day = self.window_start_of(start, first), self.window_start_of(day, first)
        if lo_day >= hi_day or self.last_reversal < lo_day:
            return []
        entries = self.entries
        i, j = bisect_left(entries, lo_day, key=_DAY), bisect_left(entries, hi_day, key=_DAY)
        out = []
        for entry in islice(entries, i, j):
            if entry[1] < 0:  # the first day whose window excludes it
                leaves = start + 1 + bisect_right(
                    range(start + 1, day + 1), entry[0],
                    key=lambda d: self.window_start_of(d, first))
                out.append((leaves, self._level_on(leaves)))
        return out


_DAY = itemgetter(0)


__all__ = ["QualifyingPoints", "level_index"]
