"""Tiers: a level from qualifying points in a window (rolling, calendar year, anniversary)
or from the score, held for a grace period after falling below it.

Qualifying points are fed by the points mechanic as it awards and reverses
(:class:`~plaudit.domain.tiers.QualifyingPoints`). A score basis with grace records the
level reached at the end of each behaviour event's day, kept for the grace period only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from plaudit.domain.events import Event
from plaudit.domain.mechanics.base import EVERY_BEHAVIOUR_EVENT, Mechanic, ViewContext
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.state import NextLevel, TierView
from plaudit.domain.tiers import QualifyingPoints, level_index

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold
    from plaudit.domain.ledger import LotTable

_ZERO = Decimal(0)


def window_start_of(rulebook: Rulebook) -> Callable[[int, int | None], int]:
    """The first local day of the tier window containing a day, given the member's first
    day. A plain function of the (shared) rulebook: member state never points back."""
    tiers = rulebook.tiers
    assert tiers is not None
    calendar = rulebook.calendar
    if tiers.window == "calendar_year":
        return lambda day, first: calendar.year_start(day)
    if tiers.window == "anniversary":
        return lambda day, first: calendar.anniversary_start(
            first if first is not None else day, day)
    days = tiers.window_days or 365
    return lambda day, first: day - days + 1


class TiersPart(Mechanic):
    __slots__ = ("qualifying", "score_levels")
    name = "tiers"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return rulebook.tiers is not None

    @classmethod
    def listens(cls, rulebook: Rulebook) -> Iterable[str] | None:
        tiers = rulebook.tiers
        if tiers is not None and tiers.basis == "score" and tiers.grace_days:
            return EVERY_BEHAVIOUR_EVENT
        return ()

    def __init__(self, rulebook: Rulebook, history: bool = False) -> None:
        tiers = rulebook.tiers
        assert tiers is not None
        self.qualifying: QualifyingPoints | None = None
        if tiers.basis == "qualifying_points":
            self.qualifying = QualifyingPoints(
                tiers.levels, window_start_of(rulebook),
                (tiers.window_days or 367) + tiers.grace_days + 1, tiers.grace_days)
        self.score_levels: deque[tuple[int, int]] | None = (
            deque() if tiers.basis == "score" and tiers.grace_days else None)

    def dump(self, lots: LotTable) -> Any:
        return [None if self.qualifying is None else self.qualifying.dump(),
                None if self.score_levels is None else [list(x) for x in self.score_levels]]

    def load(self, rulebook: Rulebook, data: Any, lots: LotTable) -> None:
        qualifying, score_levels = data
        if (qualifying is None) != (self.qualifying is None) or (
                (score_levels is None) != (self.score_levels is None)):
            raise ValueError("the tier state does not match the rulebook")
        if self.qualifying is not None:
            self.qualifying.load(qualifying)
        if score_levels is not None:
            self.score_levels = deque((day, level) for day, level in score_levels)

    def started(self, day: int) -> None:
        """The member's first behaviour event is on ``day``."""
        if self.qualifying is not None:
            self.qualifying.first_day = day

    def apply(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        """Record the level the score gives at the end of this event (score basis with
        grace only)."""
        rb = fold.rulebook
        tiers = rb.tiers
        levels = self.score_levels
        assert tiers is not None and levels is not None
        idx = level_index(tiers.levels, fold.score_on(day)[0])
        if levels and levels[-1][0] == day:
            if idx > levels[-1][1]:
                levels[-1] = (day, idx)
        else:
            levels.append((day, idx))
        while levels[0][0] < day - tiers.grace_days:
            levels.popleft()

    def levels_on(self, fold: MemberFold, day: int, score: int | None
                  ) -> tuple[Decimal | int, int, int, int | None]:
        """(basis value, earned level, held level, last day grace holds it or None)."""
        rb = fold.rulebook
        tiers = rb.tiers
        assert tiers is not None
        levels = tiers.levels
        grace = tiers.grace_days
        if tiers.basis == "score":
            value = score if score is not None else 0
            earned = level_index(levels, value)
            held, held_until_day = earned, None
            if self.score_levels:
                recent = [(d, i) for d, i in self.score_levels if d >= day - grace]
                held = max([earned] + [i for _, i in recent])
                if held > earned:
                    held_until_day = max(d for d, i in recent if i >= held) + grace
            return value, earned, held, held_until_day
        assert self.qualifying is not None
        earned, held, held_until_day = self.qualifying.held(day, grace, fold.first_day)
        return self.qualifying.at(day), earned, held, held_until_day

    def name_on(self, fold: MemberFold, day: int, score: int | None) -> str:
        """The held level's name alone (a stored summary's)."""
        tiers = fold.rulebook.tiers
        assert tiers is not None
        return tiers.levels[self.levels_on(fold, day, score)[2]].name

    def tier(self, fold: MemberFold, day: int, score: int | None) -> TierView:
        rb = fold.rulebook
        tiers = rb.tiers
        assert tiers is not None
        levels = tiers.levels
        value, earned, held, held_until_day = self.levels_on(fold, day, score)
        nxt = None
        if held < len(levels) - 1:
            following = levels[held + 1]
            missing = max(following.start - Decimal(value), _ZERO)
            nxt = NextLevel(following.name, following.start, missing)
        held_until = (rb.calendar.date(held_until_day).isoformat()
                      if held_until_day is not None else None)
        return TierView(levels[held].name, levels[earned].name, tiers.basis, value,
                        held_until, nxt)

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        ctx.tier = self.tier(fold, ctx.day, ctx.score.value if ctx.score else None)


__all__ = ["TiersPart", "window_start_of"]
