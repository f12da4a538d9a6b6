"""Tier grace against a day-by-day reference: the held level is the best level of any day of
the grace period, and its end is the last such day plus the grace, whatever the window kind
and however awards and reversals interleave (a reversal leaving the window raises the
total on a day without an award)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from plaudit.domain.calendar import Calendar
from plaudit.domain.rulebook import Level
from plaudit.domain.tiers import QualifyingPoints, level_index

LEVELS = (Level("Member", Decimal(0)), Level("Silver", Decimal(100)),
          Level("Gold", Decimal(250)), Level("Platinum", Decimal(400)))
CAL = Calendar("Europe/Berlin")
DAY0 = date(2025, 11, 1).toordinal()

WindowStart = Callable[[int, int | None], int]


def rolling(days: int) -> WindowStart:
    return lambda day, first: day - days + 1


WINDOWS: dict[str, WindowStart] = {
    "rolling 30d": rolling(30),
    "rolling 7d": rolling(7),
    "calendar year": lambda day, first: CAL.year_start(day),
    "anniversary": lambda day, first: CAL.anniversary_start(
        first if first is not None else day, day),
}

adds = st.lists(st.tuples(st.integers(0, 6), st.integers(-120, 200)), min_size=1,
                max_size=40)


def reference(history: list[tuple[int, int]], window: WindowStart, first: int, day: int,
              grace: int) -> tuple[int, int, int | None]:
    """Every day's end-of-day total summed from scratch."""
    def level(d: int) -> int:
        start = window(d, first)
        return level_index(LEVELS, max(sum(p for x, p in history if start <= x <= d), 0))

    earned = level(day)
    if earned == len(LEVELS) - 1:
        return earned, earned, None
    days = [d for d in range(day - grace, day + 1) if d >= first]
    best = max([earned] + [level(d) for d in days])
    if best == earned:
        return earned, earned, None
    return earned, best, max(d for d in days if level(d) >= best) + grace


@settings(max_examples=300, deadline=None)
@given(window=st.sampled_from(sorted(WINDOWS)), steps=adds, grace=st.integers(1, 40),
       later=st.integers(0, 60))
def test_held_level_matches_every_day_reference(window: str, steps: list[tuple[int, int]],
                                                grace: int, later: int) -> None:
    start_of = WINDOWS[window]
    retain = 367 + grace + 1
    q = QualifyingPoints(LEVELS, start_of, retain, grace)
    q.first_day = DAY0
    day = DAY0
    history: list[tuple[int, int]] = []
    for gap, points in steps:
        day += gap
        q.add(day, points)
        history.append((day, points))
        assert q.held(day, grace, DAY0) == reference(history, start_of, DAY0, day, grace)
    as_of = day + later
    assert q.held(as_of, grace, DAY0) == reference(history, start_of, DAY0, as_of, grace)


@settings(max_examples=150, deadline=None)
@given(window=st.sampled_from(sorted(WINDOWS)), steps=adds, grace=st.integers(1, 40),
       later=st.integers(0, 60), cut=st.integers(0, 40))
def test_restored_tier_state_reads_and_folds_on_the_same(
        window: str, steps: list[tuple[int, int]], grace: int, later: int, cut: int) -> None:
    """What a fold snapshot keeps of the tier window (taken after ``cut`` adds) answers,
    and goes on adding, exactly as the live one."""
    start_of = WINDOWS[window]
    live = QualifyingPoints(LEVELS, start_of, 367 + grace + 1, grace)
    live.first_day = day = DAY0
    restored: QualifyingPoints | None = None
    for n, (gap, points) in enumerate(steps):
        if n == cut:
            restored = QualifyingPoints(LEVELS, start_of, 367 + grace + 1, grace)
            restored.load(live.dump())
        day += gap
        live.add(day, points)
        if restored is not None:
            restored.add(day, points)
    if restored is None:
        restored = QualifyingPoints(LEVELS, start_of, 367 + grace + 1, grace)
        restored.load(live.dump())
    for d in range(day, day + later + 1, 7):
        assert restored.held(d, grace, DAY0) == live.held(d, grace, DAY0)
        assert restored.on_past_day(d - grace) == live.on_past_day(d - grace)
