"""``perks``: conditions on features, score, band and tier, listed for partners."""

from __future__ import annotations

import ast
import re
from typing import Any

from plaudit.domain.rulebook import Perk, Score, Tiers
from plaudit.rulebook.context import ID as _ID
from plaudit.rulebook.context import Context
from plaudit.rulebook.reach import satisfiable as _satisfiable

_SPAN = re.compile(r"^\s*(\d{1,5})\s*([smhd])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
MIN_VALID_S, MAX_VALID_S = 60, 86_400
"""A partner's answer holds at least a minute (a check per request is pointless) and at
most a day: a perk is a live fact about the member, not a certificate."""


def valid_for(ctx: Context, path: tuple[Any, ...], text: str) -> int | None:
    m = _SPAN.match(text)
    seconds = int(m.group(1)) * _SECONDS[m.group(2)] if m else None
    if seconds is None or not MIN_VALID_S <= seconds <= MAX_VALID_S:
        ctx.problem(path, f"`{text}` is not a time from 1m to 24h (e.g. 30m, 1h, 12h)")
        return None
    return seconds


def compile_perks(ctx: Context, score: Score | None, tiers: Tiers | None) -> list[Perk]:
    names, ranges = ctx.scale_names(score, tiers)
    perks = []
    ids = [p.id for p in ctx.spec.perks]
    for i, p in enumerate(ctx.spec.perks):
        path: tuple[Any, ...] = ("perks", i)
        ctx.unique_id((*path, "id"), ids, i, "perk")
        for j, partner in enumerate(p.partners):
            if not _ID.match(partner):
                ctx.problem((*path, "partners", j), f"partner `{partner}` must be an id")
        when = ctx.expr((*path, "when"), p.when, names, "bool")
        seconds = valid_for(ctx, (*path, "valid_for"), p.valid_for)
        if when is None or seconds is None:
            continue
        if not _satisfiable(ast.parse(when.source, mode="eval").body, names, ranges):
            ctx.problem((*path, "when"), f"perk `{p.id}` can never be reached: "
                                         f"`{p.when}` is false for every possible "
                                         "score, band and tier")
            continue
        perks.append(Perk(p.id, p.label, when, tuple(p.partners), seconds))
    return perks


__all__ = ["compile_perks"]
