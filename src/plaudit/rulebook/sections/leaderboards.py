"""``leaderboards``: not compiled yet — a rulebook using it is refused, never half-read."""

from __future__ import annotations

from plaudit.domain.rulebook import Leaderboard
from plaudit.rulebook.context import Context


def compile_leaderboards(ctx: Context) -> list[Leaderboard]:
    if ctx.spec.leaderboards:
        ctx.problem(("leaderboards",), "this section is not supported yet")
    return []


__all__ = ["compile_leaderboards"]
