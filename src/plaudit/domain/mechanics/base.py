"""What every mechanic of the fold is: its own per-member state, ``apply`` and ``view``.

A mechanic (points, features, score, tiers, perks, consents, badges, …) is one class whose
instance holds one member's state for that mechanic. The compiled rulebook precomputes,
per event type, which mechanics listen (:class:`~plaudit.domain.mechanics.Plan`), so the
fold's hot loop calls exactly those, by position in a tuple, with no test of kinds or names.

Mechanics never keep a reference to the fold (it is passed in): a cached accumulator holds
no reference cycle, so an evicted one is freed at once by reference counting, even while
the cycle collector is held off during bulk ingest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from plaudit.domain.events import Event

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold
    from plaudit.domain.ledger import LotTable
    from plaudit.domain.rulebook import Rulebook
    from plaudit.domain.state import ScoreView, TierView

EVERY_BEHAVIOUR_EVENT = None
"""What :meth:`Mechanic.listens` returns for a mechanic that sees every behaviour event."""


@dataclass(slots=True)
class ViewContext:
    """What mechanics read and write while one view is built, in mechanic order: features
    first, then the score, the tier, and everything that may test them."""

    as_of_us: int
    day: int
    notes: list[str]
    """Failures noticed while viewing (the view's own list: reads never change the fold)."""
    features: dict[str, Any] = field(default_factory=dict)
    score: ScoreView | None = None
    tier: TierView | None = None
    out: dict[str, Any] = field(default_factory=dict)
    """:class:`~plaudit.domain.state.MemberState` fields, filled by each mechanic."""

    def levels(self, rulebook: Rulebook) -> dict[str, Any]:
        """Features plus ``score``, ``band`` and ``tier`` as expressions see them."""
        score, tier = self.score, self.tier
        return condition_names(rulebook, self.features,
                               score.value if score is not None else None,
                               score.band if score is not None else None,
                               tier.name if tier is not None else None)


def condition_names(rulebook: Rulebook, features: dict[str, Any], score: int | None,
                    band: str | None, tier: str | None) -> dict[str, Any]:
    """What a condition on the member (a perk's ``when``, a reward's ``requires``) sees:
    the features, ``score``, and ``band`` and ``tier`` as their position on their scale,
    so ``tier >= "Gold"`` compares by order, never alphabetically."""
    names = dict(features)
    if score is not None and rulebook.score is not None:
        names["score"] = score
        names["band"] = ([b.name for b in rulebook.score.bands].index(band)
                         if band is not None else -1)
    if tier is not None and rulebook.tiers is not None:
        names["tier"] = [lv.name for lv in rulebook.tiers.levels].index(tier)
    return names


class Mechanic:
    """One mechanic's state for one member (subclasses are slotted: thousands are cached).

    ``name`` is the attribute the fold keeps the instance under, so mechanics that need a
    sibling (points feed the tier window; quests grant points and badges) reach it by a
    typed attribute of the fold, never by searching.
    """

    __slots__ = ()
    name: ClassVar[str]

    def __init__(self, rulebook: Rulebook, history: bool = False) -> None:
        """A member's empty state; ``history`` keeps what a read lists award by award."""

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        """Whether the rulebook uses this mechanic at all (sections are optional)."""
        return True

    @classmethod
    def listens(cls, rulebook: Rulebook) -> Iterable[str] | None:
        """The event types :meth:`apply` must see; ``EVERY_BEHAVIOUR_EVENT`` for all of
        them (not member preferences such as consents)."""
        return ()

    @classmethod
    def watches(cls, rulebook: Rulebook) -> Mapping[str, tuple[int, ...]]:
        """Event types (not among :meth:`listens`) that matter to this mechanic only when
        they moved one of the given aggregates: the fold calls :meth:`apply` for such an
        event only then (after the mechanics that listen to it), sparing a call per event
        to a mechanic that would find nothing changed."""
        return {}

    def apply(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        """Apply one event, in ``(at, id)`` order; ``day`` is its local day."""

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        """Add this mechanic's part of the member's state at ``ctx.as_of_us``."""

    def dump(self, lots: LotTable) -> Any:
        """This mechanic's state as plain data for a snapshot (lists, strings, numbers,
        booleans, None, decimals, sets; lots by :meth:`LotTable.ref`), in a fixed order so
        the same state always gives the same bytes (see :mod:`plaudit.domain.snapshot`).
        Nothing the rulebook already says (windows, levels, ids in rulebook order)."""
        return None

    def load(self, rulebook: Rulebook, data: Any, lots: LotTable) -> None:
        """Take back what :meth:`dump` gave, into a fresh instance for the same rulebook."""


__all__ = ["EVERY_BEHAVIOUR_EVENT", "Mechanic", "ViewContext", "condition_names"]
