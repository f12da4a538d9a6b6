"""``streaks``: not compiled yet — a rulebook using it is refused, never half-read."""

from __future__ import annotations

from plaudit.domain.rulebook import Streak
from plaudit.rulebook.context import Context


def compile_streaks(ctx: Context) -> list[Streak]:
    if ctx.spec.streaks:
        ctx.problem(("streaks",), "this section is not supported yet")
    return []


__all__ = ["compile_streaks"]
