"""Participation: whether the member takes part in the program (``plaudit.opt_out``).

Membership is opt-in, so leaving must be as easy as joining and must take effect in the
fold itself: opting out is an event of the member's, like a consent, so a replay of their
events gives the same answer in every process and on every database.

While the member is out:

* **nothing is scored.** The fold hands every event to this mechanic alone (the
  rulebook's paused plan, :attr:`~plaudit.domain.mechanics.Plan.paused`), so the hot loop
  pays nothing for the feature. A new event is refused (:class:`MemberOptedOut`, naming
  the item's ``member``): an opted-out member's behaviour is not collected at all, and
  the batch it came in stores nothing. A stored event dated while out (only an opt-out
  sent late, with a past time, can leave one) is skipped, never scored.
* **only opting in and withdrawals pass**: revoking a consent, leaving a board, no longer
  naming a friend are handed on to the mechanics that listen to them.
* **the view has no score, no tier and no perks**, so every partner check answers no; it
  says ``status: opted_out`` and since when. "Frozen" means exactly this: the score is
  neither computed nor shown, and no event moves it. Points, features, badges, quests,
  streaks and redemptions stay as they were: they are the member's own record (and in
  their export), not a judgement of them; nothing can be earned, spent or redeemed.

Opting out also withdraws, at that instant, every consent, every board joined and every
friend named, recorded in the fold like the member's own withdrawals: they stay withdrawn
after opting in, until the member grants or joins again. Opting in makes the fold score
events again from then on; the score is computed afresh from the same events, so windows
that moved on meanwhile count as time without events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from plaudit.domain.errors import MemberOptedOut, Problem
from plaudit.domain.events import CONSENT, FRIEND, LEADERBOARD, OPT_OUT, Event
from plaudit.domain.mechanics.base import Mechanic, ViewContext
from plaudit.domain.rulebook import Rulebook

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold
    from plaudit.domain.ledger import LotTable

WITHDRAWALS = {CONSENT: "granted", LEADERBOARD: "joined", FRIEND: "granted"}
"""Event types accepted while out when this attribute is false (the member withdraws)."""


class ParticipationPart(Mechanic):
    __slots__ = ("since",)
    name = "participation"

    @classmethod
    def listens(cls, rulebook: Rulebook) -> Iterable[str]:
        return (OPT_OUT,)

    def __init__(self, rulebook: Rulebook, history: bool = False) -> None:
        self.since: int | None = None
        """When the member opted out (µs), while they are out."""

    @property
    def opted_out(self) -> bool:
        return self.since is not None

    def apply(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        if event.type == OPT_OUT:
            self._choose(fold, event, bool(event.attributes["opted_out"]))
            return
        # Anything else reaches this mechanic only through the paused plan: the member is out.
        flag = WITHDRAWALS.get(event.type)
        if flag is not None and not event.attributes[flag]:
            parts = fold.parts
            for i in fold.rulebook.plan.by_type.get(event.type, ()):
                parts[i].apply(fold, event, day, strict)
            return
        if fold.checking:
            assert self.since is not None
            at = fold.rulebook.calendar.iso(self.since)
            raise MemberOptedOut([Problem(
                f"event {event.id}", "member",
                f"member `{event.member}` opted out at {at}: while out, nothing of theirs "
                "is accepted but opting in (`plaudit.opt_out` with `opted_out: false`) and "
                "withdrawals (a consent revoked, a board left, a friend no longer named)")],
                event_id=event.id)
        # A stored event dated while out (after an opt-out sent late): never scored.

    def _choose(self, fold: MemberFold, event: Event, out: bool) -> None:
        if out == self.opted_out:  # said again: nothing changes
            return
        rb = fold.rulebook
        if out:
            self.since = event.at_us
            fold.consents.withdraw_all(rb.calendar.iso(event.at_us))
            if fold.leaderboards is not None:
                fold.leaderboards.withdraw_all()
            assert rb.plan.paused is not None
            fold.plan = rb.plan.paused
        else:
            self.since = None
            fold.plan = rb.plan

    def dump(self, lots: LotTable) -> Any:
        return self.since

    def load(self, rulebook: Rulebook, data: Any, lots: LotTable) -> None:
        self.since = data

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        """Last in fold order: while out, clears what the score mechanics just built."""
        if self.since is None:
            return
        ctx.score = None
        ctx.tier = None
        ctx.out["perks"] = ()
        ctx.out["status"] = "opted_out"
        ctx.out["opted_out_at"] = fold.rulebook.calendar.iso(self.since)


__all__ = ["WITHDRAWALS", "ParticipationPart"]
