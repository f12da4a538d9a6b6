"""``badges``: not compiled yet — a rulebook using it is refused, never half-read."""

from __future__ import annotations

from plaudit.domain.rulebook import Badge
from plaudit.rulebook.context import Context


def compile_badges(ctx: Context) -> list[Badge]:
    if ctx.spec.badges:
        ctx.problem(("badges",), "this section is not supported yet")
    return []


__all__ = ["compile_badges"]
