"""Badges: one-off (``when``), levelled (``from`` + ``levels``) and quest-only badges.

A badge is checked after each event of a type that can change a feature it reads (the
compiled :attr:`~plaudit.domain.rulebook.Badge.listens`), against the features on that
event's local day, after the features mechanic has folded the event. Each level is awarded
at most once, recorded with the event that earned it, its local time and the rulebook
version. A condition that becomes true only as time passes (a window emptying) is awarded
at the next such event, not at the instant it became true: nothing is folded between
events.

A badge is revoked only where the rulebook says so: after an event of a ``revoked_by``
type the condition is re-checked and every level no longer met is revoked (recorded with
that event). A revoked level can be earned again by a later event.

Memory: the levels held (at most the badge's level count each); every award and
revocation is also listed when the fold keeps history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from plaudit.domain.errors import EvaluationError
from plaudit.domain.events import Event
from plaudit.domain.mechanics.base import EVERY_BEHAVIOUR_EVENT, Mechanic, ViewContext
from plaudit.domain.rulebook import Badge, Rulebook
from plaudit.domain.state import BadgeLevel, BadgeProgress, BadgeView

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold
    from plaudit.domain.ledger import LotTable


class BadgeChange(NamedTuple):
    """One award or revocation of one level, in fold order (the history a read keeps)."""

    badge: str
    level: int
    kind: str
    """``award`` or ``revoke``."""
    event: str
    at: str
    rulebook_version: int


class BadgesPart(Mechanic):
    """The levels each badge is held at, each with the record of the event that earned it."""

    __slots__ = ("held", "history")
    name = "badges"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return bool(rulebook.badges)

    @classmethod
    def listens(cls, rulebook: Rulebook) -> Iterable[str] | None:
        """Every event type a badge reads, except those that matter only through the
        aggregates of badges over unwindowed features (see :meth:`watches`)."""
        types: set[str] = set()
        for badge in rulebook.badges:
            if badge.listens is None:
                return EVERY_BEHAVIOUR_EVENT
            types |= badge.revoked_by
            if badge.id not in rulebook.badge_watch:
                types |= badge.listens
        return sorted(types)

    @classmethod
    def watches(cls, rulebook: Rulebook) -> Mapping[str, tuple[int, ...]]:
        """For badges whose features change only when their aggregates do: the event
        types they read, with those aggregates, unless the type is listened to anyway."""
        listens = cls.listens(rulebook)
        if listens is EVERY_BEHAVIOUR_EVENT:
            return {}
        listened = set(listens)
        watched: dict[str, set[int]] = {}
        for badge in rulebook.badges:
            aggregates = rulebook.badge_watch.get(badge.id)
            if aggregates is None or badge.listens is None:
                continue
            for t in badge.listens - listened:
                watched.setdefault(t, set()).update(aggregates)
        return {t: tuple(sorted(a)) for t, a in watched.items()}

    def __init__(self, rulebook: Rulebook, history: bool = False) -> None:
        self.held: dict[str, list[BadgeLevel]] = {}
        """Badge id -> the records of the levels held, level 1 first."""
        self.history: list[BadgeChange] | None = [] if history else None

    def apply(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        rb = fold.rulebook
        # The features read so far after this event: each computed once, and only those
        # that a badge still to be checked reads.
        values: dict[str, Any] = {}
        features = fold.features
        if features is None:  # no features at all: only quest badges, granted by quests
            return
        stamps, position = features.stamps, fold.position
        for badge, watched, revoking in rb.badges_by_type.get(event.type, ()):
            if watched is not None:
                for a in watched:
                    if stamps[a] == position:
                        break
                else:
                    continue  # its features cannot have changed: no aggregate of it moved
            held = self.held.get(badge.id)
            n = len(held) if held else 0
            if n == badge.level_count and not revoking:
                continue  # nothing left to award, nothing to take back
            for i in badge.reads:
                feature = rb.features[i]
                if feature.name not in values:
                    values[feature.name] = features.value(rb, feature, day)
            try:
                met = _met(badge, values)
            except EvaluationError as e:
                fold.warn(f"event {event.id}: badge {badge.id}: {e}")
                continue
            if met > n:
                for level in range(n + 1, met + 1):
                    self._award(fold, badge.id, level, event)
            elif revoking and met < n:
                for level in range(n, met, -1):
                    self._revoke(fold, badge.id, level, event)

    def dump(self, lots: LotTable) -> Any:
        if self.history is not None:
            raise ValueError("a fold that keeps history is not snapshotted")
        return [[badge, [[b.level, b.awarded_at, b.event, b.rulebook_version] for b in held]]
                for badge, held in self.held.items()]

    def load(self, rulebook: Rulebook, data: Any, lots: LotTable) -> None:
        self.held = {badge: [BadgeLevel(*b) for b in held] for badge, held in data}

    def grant(self, fold: MemberFold, badge_id: str, event: Event) -> None:
        """Award a quest badge for ``event`` unless it is held already."""
        if not self.held.get(badge_id):
            self._award(fold, badge_id, 1, event)

    def _award(self, fold: MemberFold, badge_id: str, level: int, event: Event) -> None:
        rb = fold.rulebook
        record = BadgeLevel(level, rb.calendar.iso(event.at_us), event.id, rb.version)
        self.held.setdefault(badge_id, []).append(record)
        if self.history is not None:
            self.history.append(BadgeChange(badge_id, level, "award", event.id,
                                            record.awarded_at, rb.version))

    def _revoke(self, fold: MemberFold, badge_id: str, level: int, event: Event) -> None:
        held = self.held[badge_id]
        held.pop()
        if not held:
            del self.held[badge_id]
        if self.history is not None:
            rb = fold.rulebook
            self.history.append(BadgeChange(badge_id, level, "revoke", event.id,
                                            rb.calendar.iso(event.at_us), rb.version))

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        views = []
        for badge in fold.rulebook.badges:
            held = self.held.get(badge.id)
            if not held:
                continue
            top = held[-1]
            progress = None
            if badge.kind == "levelled" and top.level < len(badge.levels):
                assert badge.feature is not None
                progress = BadgeProgress(ctx.features[badge.feature], top.level + 1,
                                         badge.levels[top.level])
            views.append(BadgeView(badge.id, badge.label, top.level, badge.level_count,
                                   top.awarded_at, top.event, top.rulebook_version,
                                   tuple(held[:-1]), progress))
        ctx.out["badges"] = tuple(views)


def _met(badge: Badge, values: dict[str, Any]) -> int:
    """How many levels of the badge its condition meets now (0 or 1 for a one-off)."""
    if badge.kind == "once":
        assert badge.when is not None
        return 1 if badge.when(values) else 0
    if badge.kind == "levelled":
        assert badge.feature is not None
        value = values[badge.feature]
        met = 0
        for threshold in badge.levels:  # increasing: stop at the first not reached
            if value < threshold:
                break
            met += 1
        return met
    return 0


__all__ = ["BadgeChange", "BadgesPart"]
