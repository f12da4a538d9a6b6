"""``rewards``: not compiled yet — a rulebook using it is refused, never half-read."""

from __future__ import annotations

from plaudit.domain.rulebook import Reward
from plaudit.rulebook.context import Context


def compile_rewards(ctx: Context) -> list[Reward]:
    if ctx.spec.rewards:
        ctx.problem(("rewards",), "this section is not supported yet")
    return []


__all__ = ["compile_rewards"]
