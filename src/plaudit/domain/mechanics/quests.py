"""Quests: time-boxed goals granting points and/or a quest badge once, on completion.

Only events whose local day lies in the quest's ``[from, to]`` count (and whose ``where``
holds). The event that brings the count or sum to ``at_least`` completes the quest: its
points are awarded as a lot (``quest:<id>``: they expire, count for tiers and appear in
the awards history like any award) and its badge granted, each exactly once; later
events no longer move the quest.

Memory: one number and one completion mark per quest, whatever the history's length.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from plaudit.domain.errors import EvaluationError
from plaudit.domain.events import Event
from plaudit.domain.mechanics.base import Mechanic, ViewContext
from plaudit.domain.rulebook import Quest, Rulebook
from plaudit.domain.state import QuestGoal, QuestView

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold
    from plaudit.domain.ledger import LotTable


class QuestsPart(Mechanic):
    """Per quest (in rulebook order): progress so far and the completing event, if any."""

    __slots__ = ("done", "progress")
    name = "quests"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return bool(rulebook.quests)

    @classmethod
    def listens(cls, rulebook: Rulebook) -> Iterable[str]:
        return sorted({q.event_type for q in rulebook.quests})

    def __init__(self, rulebook: Rulebook, history: bool = False) -> None:
        self.progress: list[Decimal | int] = [
            Decimal(0) if q.kind == "sum" else 0 for q in rulebook.quests]
        self.done: list[tuple[str, str] | None] = [None] * len(rulebook.quests)
        """Per quest: (event id, its local time) of the completing event."""

    def apply(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        rb = fold.rulebook
        for i, quest in enumerate(rb.quests):
            if (quest.event_type != event.type or self.done[i] is not None
                    or not quest.first_day <= day <= quest.last_day):
                continue
            attrs = event.attributes
            if quest.where is not None:
                try:
                    if not quest.where(attrs):
                        continue
                except EvaluationError as e:
                    fold.warn(f"event {event.id}: quest {quest.id}: {e}")
                    continue
            if quest.attribute is None:
                self.progress[i] += 1
            else:
                self.progress[i] += attrs[quest.attribute]
            if self.progress[i] >= quest.at_least:
                self.done[i] = (event.id, rb.calendar.iso(event.at_us))
                self._reward(fold, quest, event, day)

    def dump(self, lots: LotTable) -> Any:
        return [self.progress, [None if d is None else list(d) for d in self.done]]

    def load(self, rulebook: Rulebook, data: Any, lots: LotTable) -> None:
        progress, done = data
        if len(progress) != len(self.progress) or len(done) != len(self.done):
            raise ValueError("the quests do not match the rulebook")
        self.progress = list(progress)
        self.done = [None if d is None else (d[0], d[1]) for d in done]

    @staticmethod
    def _reward(fold: MemberFold, quest: Quest, event: Event, day: int) -> None:
        if quest.points is not None:
            fold.points.award(fold, f"quest:{quest.id}", event, day, quest.points)
        if quest.badge is not None:
            assert fold.badges is not None  # the compiler requires a declared badge
            fold.badges.grant(fold, quest.badge, event)

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        rb = fold.rulebook
        cal = rb.calendar
        views = []
        for i, q in enumerate(rb.quests):
            done = self.done[i]
            if done is not None:
                status = "completed"
            elif ctx.day < q.first_day:
                status = "upcoming"
            elif ctx.day <= q.last_day:
                status = "active"
            else:
                status = "expired"
            of = q.event_type if q.attribute is None else f"{q.event_type}.{q.attribute}"
            goal = QuestGoal(q.kind, of, q.where.source if q.where is not None else None,
                             q.at_least)
            views.append(QuestView(
                q.id, q.label, status, cal.date(q.first_day).isoformat(),
                cal.date(q.last_day).isoformat(), cal.iso(cal.day_start_us(q.last_day + 1)),
                goal, self.progress[i], q.points, q.badge,
                done[1] if done is not None else None, done[0] if done is not None else None))
        ctx.out["quests"] = tuple(views)


__all__ = ["QuestsPart"]
