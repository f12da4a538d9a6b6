"""Rewards: redemptions of catalogue rewards and their cancellations.

A redemption (``plaudit.redeem``) spends its points from the oldest lots and remembers
which lots gave how much, so that its cancellation (``plaudit.redeem_cancel``) gives back
exactly those points to the same lots (see :meth:`~plaudit.domain.ledger.Ledger.restore`).
Applied ``strict`` (when the command is recorded), a redemption must meet the reward's
dates, requirement, per-member limit and cost at its own time, and the balance must cover
it; re-folded later (a publish, a late event), it is a fact and spends what it charged
even if the reward has since changed or gone. The shared stock is not member state: the
database guards it when the event is stored.

Always enabled, even for a rulebook without rewards: a member's past redemptions must
still spend their points under every later version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plaudit.domain.errors import EvaluationError, InsufficientPoints, Problem, RedemptionRefused
from plaudit.domain.events import REDEEM, REDEEM_CANCEL, Event
from plaudit.domain.ledger import Lot
from plaudit.domain.mechanics.base import Mechanic, ViewContext, condition_names
from plaudit.domain.mechanics.score import score_of
from plaudit.domain.rulebook import Reward, Rulebook
from plaudit.domain.state import CatalogueEntry, RedemptionView

if TYPE_CHECKING:
    from collections.abc import Iterable

    from plaudit.domain.fold import MemberFold
    from plaudit.domain.ledger import LotTable


class Redemption:
    __slots__ = ("at_us", "cancel_event", "cancelled_us", "expired", "id", "key", "parts",
                 "period", "points", "returned", "reward")

    def __init__(self, event: Event, points: int, parts: list[tuple[Lot, int]],
                 period: int | None) -> None:
        self.id = event.id
        self.reward: str = event.attributes["reward"]
        self.key: str = event.attributes["key"]
        self.points = points
        self.at_us = event.at_us
        self.parts = parts
        """Lots the points came from, kept until cancelled (then dropped)."""
        self.period = period
        """The limit period it counted in, if its reward had a limit."""
        self.cancelled_us: int | None = None
        self.cancel_event: str | None = None
        self.returned = 0
        self.expired = 0


class RewardsPart(Mechanic):
    __slots__ = ("counts", "redemptions")
    name = "rewards"

    @classmethod
    def listens(cls, rulebook: Rulebook) -> Iterable[str]:
        return (REDEEM, REDEEM_CANCEL)

    def __init__(self, rulebook: Rulebook, history: bool = False) -> None:
        self.redemptions: dict[str, Redemption] = {}
        self.counts: dict[str, list[int]] = {}
        """Reward id -> [limit period, redemptions in it] (rewards with a limit only)."""

    def apply(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        if event.type == REDEEM:
            self._redeem(fold, event, day, strict)
        else:
            self._cancel(fold, event, strict)

    # -- redeeming --------------------------------------------------------------------

    def used(self, fold: MemberFold, reward: Reward, day: int) -> int:
        """Redemptions of ``reward`` in its limit's period containing ``day``."""
        if reward.limit is None:
            return 0
        count = self.counts.get(reward.id)
        period = fold.rulebook.calendar.period(day, reward.limit.per)
        return count[1] if count is not None and count[0] == period else 0

    def refusal(self, fold: MemberFold, reward: Reward, day: int) -> tuple[str, str] | None:
        """Why the member cannot redeem ``reward`` on ``day`` (field, reason), points
        aside; None when they can."""
        cal = fold.rulebook.calendar
        if reward.available_from is not None and day < reward.available_from:
            return "attributes.reward", (f"`{reward.id}` is not available before "
                                         f"{cal.date(reward.available_from).isoformat()}")
        if reward.available_to is not None and day > reward.available_to:
            return "attributes.reward", (f"`{reward.id}` was available until "
                                         f"{cal.date(reward.available_to).isoformat()}")
        if reward.requires is not None:
            try:
                met = bool(reward.requires(names_on(fold, day)))
            except EvaluationError as e:
                return "attributes.reward", f"`{reward.id}` requires `{reward.requires.source}`"\
                                            f", which could not be evaluated: {e}"
            if not met:
                return "attributes.reward", (f"`{reward.id}` requires "
                                             f"`{reward.requires.source}`, which is not met")
        if reward.limit is not None and self.used(fold, reward, day) >= reward.limit.max:
            return "attributes.reward", (f"limit reached: `{reward.id}` can be redeemed "
                                         f"{reward.limit.max} time(s) per {reward.limit.per}")
        return None

    def _redeem(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        attrs = event.attributes
        reward = fold.rulebook.reward_index.get(attrs["reward"])
        points = int(attrs["points"])
        ledger = fold.points.ledger
        if fold.checking:
            if reward is None:
                _refuse(event, "attributes.reward",
                        f"no reward `{attrs['reward']}` in the catalogue")
            elif points != reward.cost:
                _refuse(event, "attributes.points",
                        f"`{reward.id}` costs {reward.cost}, not {points}")
            else:
                refused = self.refusal(fold, reward, day)
                if refused is not None:
                    _refuse(event, *refused)
        if strict:
            ledger.expire_until(event.at_us)
            if points > ledger.balance():
                raise InsufficientPoints(f"redeeming `{attrs['reward']}` costs {points} but "
                                         f"the balance at {event.at} is {ledger.balance()}",
                                         event_id=event.id)
        parts: list[tuple[Lot, int]] = []
        taken = ledger.spend(points, event.at_us, parts)
        note = None if taken == points else f"only {taken} of {points} available"
        if note:
            fold.warn(f"event {event.id}: redemption {note}")
        period = None
        if reward is not None and reward.limit is not None:
            period = fold.rulebook.calendar.period(day, reward.limit.per)
            count = self.counts.get(reward.id)
            if count is None or count[0] != period:
                self.counts[reward.id] = [period, 1]
            else:
                count[1] += 1
        self.redemptions[event.id] = Redemption(event, points, parts, period)
        fold.points.note(fold, f"reward:{attrs['reward']}", event, -taken, "redeem", note)

    # -- cancelling -------------------------------------------------------------------

    def _cancel(self, fold: MemberFold, event: Event, strict: bool) -> None:
        rid = event.attributes["redemption"]
        r = self.redemptions.get(rid)
        problem = ("no redemption `" + rid + "` of this member" if r is None
                   else f"redemption `{rid}` is already cancelled"
                   if r.cancelled_us is not None else None)
        if problem is not None:
            if fold.checking:
                _refuse(event, "attributes.redemption", problem)
            fold.warn(f"event {event.id}: {problem}; ignored")
            return
        assert r is not None
        restored = fold.points.ledger.restore(r.parts, event.at_us)
        r.parts = []
        r.cancelled_us = event.at_us
        r.cancel_event = event.id
        r.returned = restored.returned
        r.expired = restored.expired
        count = self.counts.get(r.reward)
        if r.period is not None and count is not None and count[0] == r.period:
            count[1] -= 1
        notes = []
        if restored.expired:
            notes.append(f"{restored.expired} expired meanwhile, not returned")
        if restored.settled:
            notes.append(f"{restored.settled} paid a clawback's shortfall")
        fold.points.note(fold, f"reward:{r.reward}", event, restored.returned, "redeem-cancel",
                         "; ".join(notes) or None)

    def dump(self, lots: LotTable) -> Any:
        return [[[r.id, r.reward, r.key, r.points, r.at_us,
                  [[lots.ref(lot), part] for lot, part in r.parts], r.period, r.cancelled_us,
                  r.cancel_event, r.returned, r.expired] for r in self.redemptions.values()],
                [[reward, *count] for reward, count in self.counts.items()]]

    def load(self, rulebook: Rulebook, data: Any, lots: LotTable) -> None:
        redemptions, counts = data
        for (rid, reward, key, points, at_us, parts, period, cancelled_us, cancel_event,
             returned, expired) in redemptions:
            r = Redemption.__new__(Redemption)
            r.id, r.reward, r.key, r.points, r.at_us = rid, reward, key, points, at_us
            r.parts = [(lots.lot(seq), part) for seq, part in parts]
            r.period, r.cancelled_us, r.cancel_event = period, cancelled_us, cancel_event
            r.returned, r.expired = returned, expired
            self.redemptions[rid] = r
        self.counts = {reward: [period, n] for reward, period, n in counts}

    def cancelled_reward(self, redemption_id: str, event_id: str) -> str | None:
        """The reward whose redemption ``event_id`` cancelled, if it did (the stock guard
        gives that reward's stock back)."""
        r = self.redemptions.get(redemption_id)
        return r.reward if r is not None and r.cancel_event == event_id else None

    # -- reading ----------------------------------------------------------------------

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        rb = fold.rulebook
        iso = rb.calendar.iso
        views = []
        for r in self.redemptions.values():
            reward = rb.reward_index.get(r.reward)
            views.append(RedemptionView(
                r.id, r.reward, reward.label if reward is not None else r.reward, r.points,
                iso(r.at_us), r.key, "cancelled" if r.cancelled_us is not None else "redeemed",
                iso(r.cancelled_us) if r.cancelled_us is not None else None, r.returned,
                r.expired))
        ctx.out["redemptions"] = tuple(views)

    def catalogue(self, fold: MemberFold, as_of_us: int) -> list[CatalogueEntry]:
        """Every reward of the rulebook as this member could redeem it at ``as_of_us``."""
        rb = fold.rulebook
        day = rb.calendar.day(as_of_us)
        balance = fold.points.ledger.balance_at(as_of_us)
        out = []
        for reward in rb.rewards:
            refused = self.refusal(fold, reward, day)
            reason = refused[1] if refused is not None else None
            if fold.participation.opted_out:
                reason = "the member has opted out: opt in to redeem"
            if reason is None and reward.cost > balance:
                reason = f"costs {reward.cost}, the balance is {balance}"
            out.append(catalogue_entry(reward, reason, self.used(fold, reward, day)))
        return out


def catalogue_entry(reward: Reward, reason: str | None = None, used: int = 0
                    ) -> CatalogueEntry:
    """A reward as the catalogue shows it; ``reason`` why not redeemable, if it is not."""
    return CatalogueEntry(
        reward.id, reward.label, reward.cost, reason is None, reason,
        reward.requires.source if reward.requires is not None else None,
        f"{reward.limit.max} per {reward.limit.per}" if reward.limit else None, used)


def names_on(fold: MemberFold, day: int) -> dict[str, Any]:
    """What a reward's ``requires`` sees on ``day`` (the names a perk's ``when`` sees)."""
    rb = fold.rulebook
    features = fold.features_on(day)
    score, band = score_of(rb, features, fold.absent_on(day)) if rb.score is not None \
        else (None, None)
    tier = fold.tiers.tier(fold, day, score).name if fold.tiers is not None else None
    return condition_names(rb, features, score, band, tier)


def _refuse(event: Event, field: str, reason: str) -> None:
    raise RedemptionRefused([Problem(f"event {event.id}", field, reason)], event_id=event.id)


__all__ = ["Redemption", "RewardsPart", "catalogue_entry", "names_on"]
