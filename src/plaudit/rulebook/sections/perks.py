"""``perks``: conditions on features, score, band and tier, listed for partners."""

from __future__ import annotations

import ast
from typing import Any

from plaudit.domain.rulebook import Perk, Score, Tiers
from plaudit.rulebook.context import ID as _ID
from plaudit.rulebook.context import Context
from plaudit.rulebook.reach import satisfiable as _satisfiable


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
        if when is None:
            continue
        if not _satisfiable(ast.parse(when.source, mode="eval").body, names, ranges):
            ctx.problem((*path, "when"), f"perk `{p.id}` can never be reached: "
                                         f"`{p.when}` is false for every possible "
                                         "score, band and tier")
            continue
        perks.append(Perk(p.id, p.label, when, tuple(p.partners)))
    return perks


__all__ = ["compile_perks"]
