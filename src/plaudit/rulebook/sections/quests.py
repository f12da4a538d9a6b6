"""``quests``: not compiled yet — a rulebook using it is refused, never half-read."""

from __future__ import annotations

from plaudit.domain.rulebook import Quest
from plaudit.rulebook.context import Context


def compile_quests(ctx: Context) -> list[Quest]:
    if ctx.spec.quests:
        ctx.problem(("quests",), "this section is not supported yet")
    return []


__all__ = ["compile_quests"]
