"""``rewards``: the catalogue members redeem points for.

Each reward has a cost, and optionally a stock shared by all members (guarded by the
database, never by Python alone), a per-member limit per local period, a requirement on
features, score, band and tier, and the local dates it is available. A reward no member
could ever meet the requirement of is refused, like a perk that can never be reached.
"""

from __future__ import annotations

import ast
from datetime import date
from typing import Any

from plaudit.domain.calendar import PERIODS
from plaudit.domain.expressions import closest
from plaudit.domain.rulebook import Cap, Reward
from plaudit.rulebook.context import Context
from plaudit.rulebook.reach import satisfiable


def _day(ctx: Context, path: tuple[Any, ...], text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text).toordinal()
    except ValueError:
        ctx.problem(path, f"`{text}` is not a date: write YYYY-MM-DD (a local date of the "
                          "program's timezone)")
        return None


def compile_rewards(ctx: Context) -> list[Reward]:
    names, ranges = ctx.scale_names(ctx.score, ctx.tiers)
    ids = [r.id for r in ctx.spec.rewards]
    rewards = []
    for i, r in enumerate(ctx.spec.rewards):
        path: tuple[Any, ...] = ("rewards", i)
        ok = ctx.unique_id((*path, "id"), ids, i, "reward")
        limit = None
        if r.limit is not None:
            if r.limit.per not in PERIODS:
                ctx.problem((*path, "limit", "per"), f"unknown period `{r.limit.per}` "
                                                     f"(known: {', '.join(PERIODS)})",
                            closest(r.limit.per, PERIODS))
                ok = False
            else:
                limit = Cap(r.limit.max, r.limit.per)
        requires = None
        if r.requires is not None:
            requires = ctx.expr((*path, "requires"), r.requires, names, "bool")
            if requires is None:
                ok = False
            elif not satisfiable(ast.parse(requires.source, mode="eval").body, names, ranges):
                ctx.problem((*path, "requires"), f"reward `{r.id}` can never be redeemed: "
                                                 f"`{r.requires}` is false for every possible "
                                                 "score, band and tier")
                ok = False
        first = last = None
        if r.available is not None:
            first = _day(ctx, (*path, "available", "from"), r.available.from_)
            last = _day(ctx, (*path, "available", "to"), r.available.to)
            if first is not None and last is not None and last < first:
                ctx.problem((*path, "available", "to"), f"`to` ({r.available.to}) is before "
                                                        f"`from` ({r.available.from_})")
                ok = False
        if ok:
            rewards.append(Reward(r.id, r.label, r.cost, r.stock, limit, requires, first,
                                  last))
    return rewards


__all__ = ["compile_rewards"]
