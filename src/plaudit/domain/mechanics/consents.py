"""Consents: the member's latest word per partner (``plaudit.consent``).

A member preference, not behaviour: it never touches points, features, the score or the
first day of the member's tier window.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from plaudit.domain.events import CONSENT, Event
from plaudit.domain.mechanics.base import Mechanic, ViewContext
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.state import ConsentView

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold
    from plaudit.domain.ledger import LotTable


class ConsentsPart(Mechanic):
    __slots__ = ("latest",)
    name = "consents"

    @classmethod
    def listens(cls, rulebook: Rulebook) -> Iterable[str]:
        return (CONSENT,)

    def __init__(self, rulebook: Rulebook, history: bool = False) -> None:
        self.latest: dict[str, tuple[bool, str]] = {}
        """Partner -> (granted, local time of the latest grant or revocation)."""

    def apply(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        self.latest[event.attributes["partner"]] = (
            bool(event.attributes["granted"]), fold.rulebook.calendar.iso(event.at_us))

    def withdraw_all(self, at: str) -> None:
        """Revoke every standing grant at local time ``at`` (the member opted out)."""
        for partner, (granted, _) in list(self.latest.items()):
            if granted:
                self.latest[partner] = (False, at)

    def dump(self, lots: LotTable) -> Any:
        return [[partner, granted, at] for partner, (granted, at) in self.latest.items()]

    def load(self, rulebook: Rulebook, data: Any, lots: LotTable) -> None:
        self.latest = {partner: (granted, at) for partner, granted, at in data}

    def granted(self) -> tuple[str, ...]:
        return tuple(sorted(p for p, (granted, _) in self.latest.items() if granted))

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        ctx.out["consents"] = tuple(ConsentView(partner, granted, at) for partner, (granted, at)
                                    in sorted(self.latest.items()))


__all__ = ["ConsentsPart"]
