"""Running per-member aggregates behind features.

Each aggregate is updated once per matching event, in event order, and read at any as-of
time at or after the last event. Windowed aggregates keep one entry per local day (never one
per event), pruned as the member's clock moves, so their memory is bounded by the window
length in days, not by the number of events.

A window of ``N`` days holds the as-of day and the ``N - 1`` days before it, in the
program's timezone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from typing import Any

from plaudit.domain.rulebook import Aggregate


class AggregateState(ABC):
    """Interface: ``add`` in event order, ``value`` at any day at or after the last add."""

    __slots__ = ()

    @abstractmethod
    def add(self, day: int, value: Any) -> None: ...

    @abstractmethod
    def value(self, day: int) -> Any: ...

    def present(self, day: int) -> bool:
        """Whether an event added since the window's start is still inside it on ``day``
        (the caller knows whether any was added at all: an aggregate without a window
        keeps what it saw)."""
        return True

    @abstractmethod
    def dump(self) -> Any:
        """The running state as plain data (the window and kind come from the rulebook)."""

    @abstractmethod
    def load(self, data: Any) -> None: ...


class _Total(AggregateState):
    """count or sum, all time."""

    __slots__ = ("total",)

    def __init__(self) -> None:
        self.total: Any = 0

    def add(self, day: int, value: Any) -> None:
        self.total += value

    def value(self, day: int) -> Any:
        return self.total

    def dump(self) -> Any:
        return self.total

    def load(self, data: Any) -> None:
        self.total = data


class _WindowTotal(AggregateState):
    """count or sum over the last ``window`` days: a running total minus what fell out.

    Days and amounts sit in two parallel deques rather than one deque of pairs: this is the
    most common aggregate and pairs cost ~70 % more memory per active day.
    """

    __slots__ = ("amounts", "days", "total", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.days: deque[int] = deque()
        self.amounts: deque[Any] = deque()
        self.total: Any = 0

    def add(self, day: int, value: Any) -> None:
        days, amounts = self.days, self.amounts
        if days and days[-1] == day:
            amounts[-1] += value
        else:
            days.append(day)
            amounts.append(value)
        self.total += value
        horizon = day - self.window
        while days[0] <= horizon:
            days.popleft()
            self.total -= amounts.popleft()

    def present(self, day: int) -> bool:
        return bool(self.days) and self.days[-1] > day - self.window

    def dump(self) -> Any:
        return [list(self.days), list(self.amounts), self.total]

    def load(self, data: Any) -> None:
        days, amounts, self.total = data
        self.days, self.amounts = deque(days), deque(amounts)

    def value(self, day: int) -> Any:
        lo = day - self.window + 1
        days = self.days
        if not days or days[0] >= lo:  # the common read: nothing fell out since the last add
            return self.total
        total = self.total
        for entry_day, amount in zip(days, self.amounts, strict=True):
            if entry_day >= lo:
                break
            total -= amount
        return total


class _Extreme(AggregateState):
    __slots__ = ("best", "largest")

    def __init__(self, largest: bool) -> None:
        self.largest = largest
        self.best: Any = None

    def add(self, day: int, value: Any) -> None:
        best = self.best
        if best is None or (value > best if self.largest else value < best):
            self.best = value

    def value(self, day: int) -> Any:
        return self.best

    def dump(self) -> Any:
        return self.best

    def load(self, data: Any) -> None:
        self.best = data


class _WindowExtreme(AggregateState):
    __slots__ = ("entries", "largest", "window")

    def __init__(self, window: int, largest: bool) -> None:
        self.window = window
        self.largest = largest
        self.entries: deque[list[Any]] = deque()

    def add(self, day: int, value: Any) -> None:
        entries = self.entries
        if entries and entries[-1][0] == day:
            current = entries[-1][1]
            if value > current if self.largest else value < current:
                entries[-1][1] = value
        else:
            entries.append([day, value])
        horizon = day - self.window
        while entries[0][0] <= horizon:
            entries.popleft()

    def present(self, day: int) -> bool:
        return bool(self.entries) and self.entries[-1][0] > day - self.window

    def dump(self) -> Any:
        return [list(entry) for entry in self.entries]

    def load(self, data: Any) -> None:
        self.entries = deque([day, value] for day, value in data)

    def value(self, day: int) -> Any:
        lo = day - self.window + 1
        values = [v for d, v in self.entries if d >= lo]
        if not values:
            return None
        return max(values) if self.largest else min(values)


class _Distinct(AggregateState):
    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: set[Any] = set()

    def add(self, day: int, value: Any) -> None:
        self.seen.add(value)

    def value(self, day: int) -> int:
        return len(self.seen)

    def dump(self) -> Any:
        return self.seen

    def load(self, data: Any) -> None:
        self.seen = set(data)


class _WindowDistinct(AggregateState):
    __slots__ = ("entries", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.entries: deque[tuple[int, set[Any]]] = deque()

    def add(self, day: int, value: Any) -> None:
        entries = self.entries
        if entries and entries[-1][0] == day:
            entries[-1][1].add(value)
        else:
            entries.append((day, {value}))
        horizon = day - self.window
        while entries[0][0] <= horizon:
            entries.popleft()

    def present(self, day: int) -> bool:
        return bool(self.entries) and self.entries[-1][0] > day - self.window

    def dump(self) -> Any:
        return [[day, values] for day, values in self.entries]

    def load(self, data: Any) -> None:
        self.entries = deque((day, set(values)) for day, values in data)

    def value(self, day: int) -> int:
        lo = day - self.window + 1
        seen: set[Any] = set()
        for d, values in self.entries:
            if d >= lo:
                seen |= values
        return len(seen)


class DayMarks(AggregateState):
    """First or last local day an event matched (for exists, days_since_first/last)."""

    __slots__ = ("first", "last", "window")

    def __init__(self, window: int | None) -> None:
        self.window = window
        self.first: int | None = None
        self.last: int | None = None

    def add(self, day: int, value: Any) -> None:
        if self.first is None:
            self.first = day
        self.last = day

    def present(self, day: int) -> bool:
        return self.value(day) is not None

    def dump(self) -> Any:
        return [self.first, self.last]

    def load(self, data: Any) -> None:
        self.first, self.last = data

    def value(self, day: int) -> Any:
        if self.last is None:
            return None
        if self.window is not None and self.last < day - self.window + 1:
            return None
        return self.last


def new_state(agg: Aggregate) -> AggregateState:
    w = agg.window_days
    kind = agg.kind
    if kind in ("count", "sum"):
        return _Total() if w is None else _WindowTotal(w)
    if kind in ("min", "max"):
        largest = kind == "max"
        return _Extreme(largest) if w is None else _WindowExtreme(w, largest)
    if kind == "distinct":
        return _Distinct() if w is None else _WindowDistinct(w)
    if kind in ("exists", "first", "last"):
        return DayMarks(w)
    raise ValueError(f"unknown aggregate kind {kind!r}")

__all__ = ["AggregateState", "new_state"]
