"""Rewards: not folded yet (the rulebook section is refused until it is)."""

from __future__ import annotations

from plaudit.domain.mechanics.base import Mechanic
from plaudit.domain.rulebook import Rulebook


class RewardsPart(Mechanic):
    __slots__ = ()
    name = "rewards"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return bool(rulebook.rewards)


__all__ = ["RewardsPart"]
