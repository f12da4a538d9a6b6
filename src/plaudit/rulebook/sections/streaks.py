"""``streaks``: consecutive local periods with at least ``at_least`` qualifying events, with
an optional allowance of freezes per calendar block.

Refused here, each with its line: an unknown event type (with the closest), a ``where``
that is not a condition or names anything but the event's own attributes (``member``
attributes are never names), a period other than day/week/month, a freeze block that is
not ``[N] day|week|month|year`` or is finer than the period, and an allowance large enough
to freeze every period of a block (such a streak could never break).
"""

from __future__ import annotations

import re
from typing import Any

from plaudit.domain.expressions import closest
from plaudit.domain.rulebook import Freezes, Streak
from plaudit.rulebook import schema as s
from plaudit.rulebook.context import Context

STREAK_PERIODS = ("day", "week", "month")
UNITS = ("day", "week", "month", "year")
_BLOCK = re.compile(r"^\s*(?:(\d{1,4})\s*)?([A-Za-z]+)\s*$")
_FEWEST = {("day", "day"): 1, ("day", "week"): 7, ("day", "month"): 28, ("day", "year"): 365,
           ("week", "week"): 1, ("week", "month"): 4, ("week", "year"): 52,
           ("month", "month"): 1, ("month", "year"): 12}
"""The fewest periods (by their first day) one block unit can hold: 28 days in a month,
4 Mondays in any 28 days, 52 in a year."""


def compile_streaks(ctx: Context) -> list[Streak]:
    streaks: list[Streak] = []
    ids = [sp.id for sp in ctx.spec.streaks]
    for i, sp in enumerate(ctx.spec.streaks):
        path: tuple[Any, ...] = ("streaks", i)
        ctx.unique_id((*path, "id"), ids, i, "streak")
        streak = _streak(ctx, path, sp)
        if streak is not None:
            streaks.append(streak)
    return streaks


def _streak(ctx: Context, path: tuple[Any, ...], sp: s.StreakSpec) -> Streak | None:
    ok = ctx.event_type((*path, "on"), sp.on)
    where = None
    if ok and sp.where is not None:
        where = ctx.expr((*path, "where"), sp.where, ctx.event_names[sp.on], "bool")
        ok = where is not None
    if sp.period not in STREAK_PERIODS:
        ctx.problem((*path, "period"), f"unknown period `{sp.period}` (known: "
                                       f"{', '.join(STREAK_PERIODS)})",
                    closest(sp.period, STREAK_PERIODS))
        return None
    freezes = None
    if sp.freezes is not None:
        freezes = _freezes(ctx, (*path, "freezes"), sp.period, sp.freezes)
        ok = ok and freezes is not None
    if not ok:
        return None
    return Streak(sp.id, sp.label, on=sp.on, period=sp.period, at_least=sp.at_least,
                  where=where, freezes=freezes)


def _freezes(ctx: Context, path: tuple[Any, ...], period: str,
             spec: s.FreezesSpec) -> Freezes | None:
    m = _BLOCK.match(spec.per)
    word = m.group(2) if m else ""
    unit = word[:-1] if word.endswith("s") and word[:-1] in UNITS else word
    if m is None or unit not in UNITS:
        known = [*UNITS, *(f"{u}s" for u in UNITS)]
        ctx.problem((*path, "per"), f"`{spec.per}` is not a calendar block: write `year`, "
                                    "`6 months`, `4 weeks` or `30 days`",
                    closest(word, known) if word else None)
        return None
    every = int(m.group(1)) if m.group(1) else 1
    if every < 1:
        ctx.problem((*path, "per"), f"`{spec.per}`: a block is at least one {unit}")
        return None
    if UNITS.index(unit) < UNITS.index(period):
        ctx.problem((*path, "per"), f"`{spec.per}` is shorter than the streak's period "
                                    f"({period}): freezes are counted per block of whole "
                                    f"periods, so use {period}s or longer")
        return None
    fewest = every * _FEWEST[(period, unit)]
    if spec.max >= fewest:
        ctx.problem((*path, "max"), f"{spec.max} freezes per `{spec.per}` could freeze "
                                    f"every {period} of a block (it may hold only "
                                    f"{fewest}): the streak could never break")
        return None
    return Freezes(spec.max, every, unit)


__all__ = ["STREAK_PERIODS", "compile_streaks"]
