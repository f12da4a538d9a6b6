"""Badges: not folded yet (the rulebook section is refused until it is)."""

from __future__ import annotations

from plaudit.domain.mechanics.base import Mechanic
from plaudit.domain.rulebook import Rulebook


class BadgesPart(Mechanic):
    __slots__ = ()
    name = "badges"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return bool(rulebook.badges)


__all__ = ["BadgesPart"]
