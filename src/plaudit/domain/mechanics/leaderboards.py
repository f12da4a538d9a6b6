"""Leaderboards: not folded yet (the rulebook section is refused until it is)."""

from __future__ import annotations

from plaudit.domain.mechanics.base import Mechanic
from plaudit.domain.rulebook import Rulebook


class LeaderboardsPart(Mechanic):
    __slots__ = ()
    name = "leaderboards"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return bool(rulebook.leaderboards)


__all__ = ["LeaderboardsPart"]
