"""Streaks: runs of consecutive local periods (day, week, month) with enough qualifying events.

A period *qualifies* when it holds at least ``at_least`` events of the streak's type whose
``where`` holds. A run is a sequence of consecutive periods that each qualified or were
*frozen*: when a period of a live run ends without qualifying, a freeze is used for it if
the allowance of its block has room (``freezes.max`` per block), otherwise the run breaks.
Freezes are used automatically, as periods pass, oldest first; a frozen period keeps the
run alive but adds nothing to its length.

Time only passes through the as-of time: "periods before ``until`` are over" is
:func:`advance`, a pure step on a run's small state that the fold applies before counting
each event and that a view applies to a *copy* at its as-of time. Because advancing to a
period and then to a later one equals advancing to the later one at once, the view at any
as-of time is exactly what folding one more event then would have found, and a view never
changes the accumulator.

Memory per streak is a few integers plus the freezes charged to blocks at or after the
latest event's period (at most two entries): blocks before it can never be charged again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from plaudit.domain.calendar import Calendar
from plaudit.domain.errors import EvaluationError
from plaudit.domain.events import Event
from plaudit.domain.mechanics.base import Mechanic, ViewContext
from plaudit.domain.rulebook import Rulebook, Streak
from plaudit.domain.state import StreakView

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold
    from plaudit.domain.ledger import LotTable


class Run:
    """One member's state for one streak; periods are :meth:`Calendar.period_index`es."""

    __slots__ = ("alive", "current", "frozen", "last", "longest", "open_count",
                 "open_period", "started", "used")

    def __init__(self) -> None:
        self.open_period: int | None = None
        """The latest period with a counted event, and how many it holds so far."""
        self.open_count = 0
        self.alive: int | None = None
        """The live run's last period (qualified or frozen); None when no run is live."""
        self.current = 0
        self.frozen = 0
        self.started: int | None = None
        self.last: int | None = None
        """The last period that qualified, live run or not."""
        self.longest = 0
        self.used: dict[int, int] = {}
        """Freeze block -> freezes used in it (blocks from the latest event's on)."""

    def copy(self) -> Run:
        other = Run()
        for name in Run.__slots__:
            setattr(other, name, getattr(self, name))
        other.used = dict(self.used)
        return other


def _freeze(run: Run, streak: Streak, calendar: Calendar, period: int) -> bool:
    """Use a freeze for ``period`` if its block has room (the block of its first day)."""
    fz = streak.freezes
    if fz is None:
        return False
    block = fz.block(calendar, calendar.period_first_day(period, streak.period))
    used = run.used.get(block, 0)
    if used >= fz.max:
        return False
    run.used[block] = used + 1
    run.frozen += 1
    run.alive = period
    return True


def advance(run: Run, streak: Streak, calendar: Calendar, until: int) -> None:
    """Every period before ``until`` is over: each one after the live run's last period
    is frozen in turn, oldest first, until one cannot be and the run breaks.

    Bounded: the compiler refuses an allowance that could freeze every period of a block,
    so consecutive freezes span at most two blocks (``2 * freezes.max`` periods)."""
    if run.alive is None:
        return
    period = run.alive + 1
    while period < until:
        if not _freeze(run, streak, calendar, period):
            run.alive = run.started = None
            run.current = run.frozen = 0
            return
        period += 1


def _count(run: Run, streak: Streak, calendar: Calendar, period: int) -> None:
    """One more qualifying event in ``period`` (at or after every earlier one)."""
    advance(run, streak, calendar, period)
    if run.open_period == period:
        run.open_count += 1
    else:
        run.open_period, run.open_count = period, 1
    if run.open_count == streak.at_least:  # the period qualifies now, exactly once
        if run.alive == period - 1:
            run.current += 1
        else:
            run.current, run.frozen, run.started = 1, 0, period
        run.alive = run.last = period
        run.longest = max(run.longest, run.current)
    fz = streak.freezes
    if fz is not None and run.used:
        oldest = fz.block(calendar, calendar.period_first_day(period, streak.period))
        for block in [b for b in run.used if b < oldest]:
            del run.used[block]


class StreaksPart(Mechanic):
    __slots__ = ("runs",)
    name = "streaks"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return bool(rulebook.streaks)

    @classmethod
    def listens(cls, rulebook: Rulebook) -> Iterable[str] | None:
        return [s.on for s in rulebook.streaks]

    def __init__(self, rulebook: Rulebook, history: bool = False) -> None:
        self.runs: list[Run] = [Run() for _ in rulebook.streaks]

    def apply(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        rb = fold.rulebook
        calendar = rb.calendar
        for streak, run in zip(rb.streaks, self.runs, strict=True):
            if streak.on != event.type:
                continue
            if streak.where is not None:
                try:
                    if not streak.where(event.attributes):
                        continue
                except EvaluationError as e:
                    fold.warn(f"event {event.id}: streak {streak.id}: {e}; not counted")
                    continue
            _count(run, streak, calendar, calendar.period_index(day, streak.period))

    def dump(self, lots: LotTable) -> Any:
        return [[r.open_period, r.open_count, r.alive, r.current, r.frozen, r.started, r.last,
                 r.longest, [[block, n] for block, n in r.used.items()]] for r in self.runs]

    def load(self, rulebook: Rulebook, data: Any, lots: LotTable) -> None:
        if len(data) != len(self.runs):
            raise ValueError("the streaks do not match the rulebook")
        for run, (open_period, open_count, alive, current, frozen, started, last, longest,
                  used) in zip(self.runs, data, strict=True):
            run.open_period, run.open_count, run.alive = open_period, open_count, alive
            run.current, run.frozen, run.started, run.last = current, frozen, started, last
            run.longest = longest
            run.used = {block: n for block, n in used}

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        rb = fold.rulebook
        ctx.out["streaks"] = tuple(
            streak_view(streak, run, rb.calendar, ctx.day)
            for streak, run in zip(rb.streaks, self.runs, strict=True))


def streak_view(streak: Streak, stored: Run, calendar: Calendar, day: int) -> StreakView:
    """The streak on local ``day`` (at or after the latest counted event's day), from a
    copy of the run advanced to it: the accumulator is never changed by a read."""
    per = streak.period
    now = calendar.period_index(day, per)
    run = stored.copy()
    advance(run, streak, calendar, now)
    if run.alive == now:
        status = "active"
    elif run.alive is not None:
        status = "at_risk"
    elif run.last is None:
        status = "not_started"
    else:
        status = "broken"

    def date(period: int) -> str:
        return calendar.date(calendar.period_first_day(period, per)).isoformat()

    def end_of(period: int) -> str:
        return calendar.iso(calendar.day_start_us(calendar.period_first_day(period + 1, per)))

    used = left = 0
    fz = streak.freezes
    if fz is not None:
        used = run.used.get(fz.block(calendar, calendar.period_first_day(now, per)), 0)
        left = fz.max - used
    breaks_at = None
    if run.alive is not None:
        trial = run.copy()
        period = run.alive + 1
        # a frozen stretch spans at most two blocks (see advance): at most 2 * max freezes,
        # so the attempt after them fails; the bound only guards hand-built rulebooks
        attempts = 2 * fz.max + 1 if fz is not None else 0
        while attempts and _freeze(trial, streak, calendar, period):
            period += 1
            attempts -= 1
        breaks_at = end_of(period)
    return StreakView(
        id=streak.id, label=streak.label, period=per, at_least=streak.at_least,
        status=status, current=run.current, longest=run.longest, frozen=run.frozen,
        started_on=date(run.started) if run.started is not None else None,
        last_qualified=date(run.last) if run.last is not None else None,
        period_start=date(now),
        period_end=calendar.date(calendar.period_first_day(now + 1, per) - 1).isoformat(),
        events_in_period=run.open_count if run.open_period == now else 0,
        freezes_used=used, freezes_left=left,
        at_risk_until=end_of(now) if status == "at_risk" else None,
        breaks_at=breaks_at)


__all__ = ["Run", "StreaksPart", "advance", "streak_view"]
