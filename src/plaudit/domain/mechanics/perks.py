"""Perks: conditions on features, score, band and tier, evaluated at the as-of time.

Stateless. A perk whose condition fails to evaluate is not eligible, and the view says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plaudit.domain.errors import EvaluationError
from plaudit.domain.mechanics.base import Mechanic, ViewContext
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.state import PerkView

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold


class PerksPart(Mechanic):
    __slots__ = ()
    name = "perks"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return bool(rulebook.perks)

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        rb = fold.rulebook
        names = ctx.levels(rb)
        views = []
        for perk in rb.perks:
            try:
                ok = bool(perk.when(names))
            except EvaluationError as e:
                ctx.notes.append(f"perk {perk.id}: {e}; not eligible")
                ok = False
            views.append(PerkView(perk.id, perk.label, ok, perk.partners))
        ctx.out["perks"] = tuple(views)


__all__ = ["PerksPart"]
