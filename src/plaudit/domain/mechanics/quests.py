"""Quests: not folded yet (the rulebook section is refused until it is)."""

from __future__ import annotations

from plaudit.domain.mechanics.base import Mechanic
from plaudit.domain.rulebook import Rulebook


class QuestsPart(Mechanic):
    __slots__ = ()
    name = "quests"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return bool(rulebook.quests)


__all__ = ["QuestsPart"]
