"""``quests``: time-boxed goals (a count or sum of one event type, with ``where``) that
grant points and/or a quest-only badge once.

A quest's goal is not a feature: it is bounded by dates, not by a window sliding with the
as-of time, so the quests mechanic keeps its own running number per quest instead of
defining an aggregate the features mechanic would fold for every event forever.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from plaudit.domain.expressions import Expression, closest
from plaudit.domain.rulebook import Quest
from plaudit.rulebook import schema as s
from plaudit.rulebook.context import Context

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIRST, _LAST = date(1900, 1, 1), date(8999, 12, 31)
"""Event times run from 1900 up to 9000 (UTC)."""


class _Goal(NamedTuple):
    kind: str
    event_type: str
    attribute: str | None
    where: Expression | None
    at_least: Decimal


def compile_quests(ctx: Context) -> list[Quest]:
    ids = [q.id for q in ctx.spec.quests]
    quests: list[Quest] = []
    for i, q in enumerate(ctx.spec.quests):
        path: tuple[Any, ...] = ("quests", i)
        ok = ctx.unique_id((*path, "id"), ids, i, "quest")
        first = _date(ctx, (*path, "from"), q.from_)
        last = _date(ctx, (*path, "to"), q.to)
        if first is not None and last is not None and last < first:
            ctx.problem((*path, "to"), f"the quest ends ({q.to}) before it starts "
                                       f"({q.from_})")
            ok = False
        goal = _goal(ctx, (*path, "goal"), q.goal)
        reward_ok = _reward(ctx, (*path, "reward"), q.reward)
        if not ok or first is None or last is None or goal is None or not reward_ok:
            continue
        quests.append(Quest(q.id, q.label, first.toordinal(), last.toordinal(),
                            goal.kind, goal.event_type, goal.attribute, goal.where,
                            goal.at_least, q.reward.points, q.reward.badge))
    return quests


def _date(ctx: Context, path: tuple[Any, ...], text: str) -> date | None:
    try:
        found = date.fromisoformat(text) if _DATE.match(text) else None
    except ValueError:
        found = None
    if found is None:
        ctx.problem(path, f"`{text}` is not a date: write YYYY-MM-DD, like `2027-03-01` "
                          "(a local date in the program's timezone)")
    elif not _FIRST <= found <= _LAST:
        ctx.problem(path, f"`{text}` is outside the dates events can have "
                          f"({_FIRST} to {_LAST})")
        found = None
    return found


def _goal(ctx: Context, path: tuple[Any, ...], g: s.QuestGoalSpec) -> _Goal | None:
    kinds = [k for k in ("count", "sum") if getattr(g, k) is not None]
    if len(kinds) != 1:
        ctx.problem(path, "a quest goal is exactly one of count, sum"
                    + (f" (got {', '.join(kinds)})" if kinds else ""))
        return None
    kind = kinds[0]
    target = str(getattr(g, kind))
    kpath = (*path, kind)
    event, _, attr = target.partition(".")
    if event == "any":
        ctx.problem(kpath, "a quest goal counts one event type, not `any`")
        return None
    if kind == "count" and attr:
        ctx.problem(kpath, "`count` takes an event type, not an attribute")
        return None
    if kind == "sum" and not attr:
        ctx.problem(kpath, "`sum` takes `event_type.attribute`, like `purchase.amount`")
        return None
    if not ctx.event_type(kpath, event):
        return None
    if attr:
        if attr in ctx.member_attrs[event]:
            ctx.problem(kpath, f"`{target}` identifies another member: a quest may not "
                               "read or count other members")
            return None
        found = ctx.attribute_of(kpath, event, attr)
        if found is None:
            return None
        if found.type not in ("int", "decimal"):
            ctx.problem(kpath, f"`sum` needs a number attribute; `{target}` is {found.type}")
            return None
    where = None
    if g.where is not None:
        where = ctx.expr((*path, "where"), g.where, ctx.event_names[event], "bool")
        if where is None:
            return None
    at_least = Decimal(g.at_least)
    if at_least <= 0:
        ctx.problem((*path, "at_least"), f"`at_least` must be above 0 (it is {g.at_least}): "
                                         "a quest met by nothing is not a goal")
        return None
    if kind == "count" and at_least != at_least.to_integral_value():
        ctx.problem((*path, "at_least"), f"a count's `at_least` is a whole number, not "
                                         f"{g.at_least}")
        return None
    return _Goal(kind, event, attr or None, where, at_least)


def _reward(ctx: Context, path: tuple[Any, ...], r: s.QuestRewardSpec) -> bool:
    if r.points is None and r.badge is None:
        ctx.problem(path, "a quest reward needs `points`, a `badge` or both")
        return False
    if r.badge is None:
        return True
    badges = {b.id: b for b in ctx.spec.badges}
    badge = badges.get(r.badge)
    if badge is None:
        ctx.problem((*path, "badge"), f"unknown badge `{r.badge}`: declare it under "
                                      "`badges` with an id and a label, and neither `when` "
                                      "nor `from`", closest(r.badge, list(badges)))
        return False
    if badge.when is not None or badge.from_ is not None:
        how = "`when`" if badge.when is not None else "`from`"
        ctx.problem((*path, "badge"), f"badge `{r.badge}` is awarded by its own {how}; a "
                                      "quest grants only a badge declared with neither "
                                      "`when` nor `from`")
        return False
    return True


__all__ = ["compile_quests"]
