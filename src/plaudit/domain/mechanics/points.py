"""Points: point rules turn events into lots; spends and expiry take the oldest first.

Per event of a type with rules, in rulebook order: ``when``, the award expression,
``multiply`` (product of matching multipliers), floor to whole points, the cap for the
rule's current local period, ``once`` / ``once_per`` (never for naming yourself), then a
lot is appended with its expiry. A reversal rule pops the awards of its target rule with
the same match value and claws them back (see :meth:`~plaudit.domain.ledger.Ledger.claw_back`).
``plaudit.spend`` takes points oldest-first; ``strict`` refuses one the balance does not
cover.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from plaudit.domain.calendar import US_PER_DAY
from plaudit.domain.errors import EvaluationError, InsufficientPoints
from plaudit.domain.events import SPEND, Event
from plaudit.domain.ledger import Ledger, Lot, LotTable
from plaudit.domain.mechanics.base import Mechanic, ViewContext
from plaudit.domain.rulebook import PointRule, Rulebook
from plaudit.domain.state import Award, Expiry, LedgerEntry, LotView, Points

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold


class PointsPart(Mechanic):
    """The member's wallet: lots, caps used, ``once`` marks and the reversal index."""

    __slots__ = ("caps", "history", "history_us", "ledger", "matches", "once", "once_per",
                 "pending")
    name = "points"

    @classmethod
    def listens(cls, rulebook: Rulebook) -> Iterable[str]:
        return (*rulebook.rules_by_type, SPEND)

    def __init__(self, rulebook: Rulebook, history: bool = False) -> None:
        self.ledger = Ledger(log_expiries=history)
        self.caps: dict[str, list[int]] = {}
        self.once: set[str] = set()
        self.once_per: dict[str, set[Any]] = {}
        self.matches: dict[str, dict[Any, list[Lot]]] = {
            rule: {} for rule in rulebook.match_targets}
        self.pending: deque[tuple[str, Any, Lot]] | None = (
            deque() if rulebook.match_targets and rulebook.expire_after_days is not None
            and not history else None)
        """Reversal-index entries in award order (which is expiry order), each forgotten
        once its lots all expired unspent (see :meth:`_forget`); None when nothing
        expires, or when the fold keeps history (a read that lists every note keeps every
        entry, so a late refund's note says the points expired)."""
        self.history: list[Award] | None = [] if history else None
        self.history_us: list[int] = []
        """Each history entry's instant (to merge expiries in), when history is kept."""

    def apply(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        if self.ledger.lots:
            self.ledger.expire_until(event.at_us)
        pending = self.pending
        if pending and pending[0][2].expires_us <= event.at_us:  # type: ignore[operator]
            self._forget(event.at_us)
        if event.type == SPEND:
            self._spend(fold, event, strict)
            return
        for rule in fold.rulebook.rules_by_type[event.type]:
            try:
                self._rule(fold, rule, event, day)
            except EvaluationError as e:
                fold.warn(f"event {event.id}: rule {rule.id}: {e}")

    def _rule(self, fold: MemberFold, rule: PointRule, event: Event, day: int) -> None:
        attrs = event.attributes
        if rule.reverses is not None:
            self._reverse(fold, rule, event, day)
            return
        if rule.once and rule.id in self.once:
            return
        once_key = None
        if rule.once_per is not None:
            once_key = attrs[rule.once_per]
            if rule.self_member_attribute and once_key == event.member:
                self.note(fold, rule.id, event, 0, "award",
                          "not awarded: names the member itself")
                return
            if once_key in self.once_per.get(rule.id, ()):
                return
        if rule.when is not None and not rule.when(attrs):
            return
        assert rule.award is not None
        raw = rule.award(attrs)
        for m in rule.multiply:
            if m.when(attrs):
                raw = raw * m.by
        if raw <= 0:
            return
        points = raw if type(raw) is int else int(raw)  # floor: raw is positive here
        if points == 0:  # below one point: not an award, so `once` is not used up
            return
        note = None
        cap = rule.cap
        if cap is not None:
            period = fold.rulebook.calendar.period(day, cap.per)
            used = self.caps.get(rule.id)
            if used is None or used[0] != period:
                used = [period, 0]
                self.caps[rule.id] = used
            room = cap.max - used[1]
            if points > room:
                note = f"capped at {cap.max} per {cap.per}: {points} asked, {max(room, 0)} given"
                points = room
            if points <= 0:
                self.note(fold, rule.id, event, 0, "award", note)
                return
            used[1] += points
        if rule.once:
            self.once.add(rule.id)
        if once_key is not None:
            self.once_per.setdefault(rule.id, set()).add(once_key)
        lot = self.award(fold, rule.id, event, day, points, note)
        match_attr = fold.rulebook.match_targets.get(rule.id)
        if match_attr is not None:
            index = self.matches[rule.id]
            key = attrs[match_attr]
            lots = index.get(key)
            if lots is None or _all_expired_unspent(lots):
                # an entry whose lots all expired unspent reverses nothing: it is as if
                # forgotten, so whether it was (see _forget) never changes the state
                index[key] = [lot]
            else:
                lots.append(lot)
            if self.pending is not None:
                self.pending.append((rule.id, key, lot))

    def _forget(self, now_us: int) -> None:
        """Drop the reversal entries whose lots all expired unspent by ``now_us``: they can
        never claw anything back (a clawback takes neither remaining nor spent points
        then), and a new award under their match value starts afresh. Lots share one
        expiry period and are indexed in award order, so only the oldest pending entries
        can have expired: amortised O(1) per award, and the index stays bounded by the
        expiry period instead of by all history. An entry with a spent lot stays (a refund
        still takes back what was spent of it)."""
        pending = self.pending
        assert pending is not None
        while pending and pending[0][2].expires_us <= now_us:  # type: ignore[operator]
            rule, key, _ = pending.popleft()
            index = self.matches[rule]
            lots = index.get(key)
            if lots is not None and _all_expired_unspent(lots):
                del index[key]

    def award(self, fold: MemberFold, source: str, event: Event, day: int, points: int,
              note: str | None = None) -> Lot:
        """Append a lot of ``points`` (which count for the tier window) for ``event``;
        ``source`` names the rule or mechanic that awarded them."""
        rb = fold.rulebook
        expires = (event.at_us + rb.expire_after_days * US_PER_DAY
                   if rb.expire_after_days is not None else None)
        lot = Lot(event.at_us, expires, points, source, event.id, rb.version)
        self.ledger.award(lot)
        tiers = fold.tiers
        if tiers is not None and tiers.qualifying is not None:
            tiers.qualifying.add(day, points)
        if self.history is not None:
            self.note(fold, source, event, points, "award", note)
        return lot

    def _reverse(self, fold: MemberFold, rule: PointRule, event: Event, day: int) -> None:
        assert rule.reverses is not None and rule.match is not None
        lots = self.matches[rule.reverses].pop(event.attributes[rule.match], None)
        if not lots or _all_expired_unspent(lots):
            note = "nothing to reverse" if not lots else "nothing to reverse: points expired"
            self.note(fold, rule.id, event, 0, "reversal", note)
            return
        result = self.ledger.claw_back(lots, event.at_us)
        tiers = fold.tiers
        if tiers is not None and tiers.qualifying is not None:
            tiers.qualifying.add(day, -sum(lot.points for lot in lots))
        unrecovered = (f"{result.unrecovered} already spent, not recovered"
                       if result.unrecovered else None)
        self.note(fold, rule.id, event, -result.taken, "reversal", unrecovered)

    def _spend(self, fold: MemberFold, event: Event, strict: bool) -> None:
        wanted = int(event.attributes["points"])
        ledger = self.ledger
        if strict:
            balance = ledger.balance()
            if wanted > balance:
                raise InsufficientPoints(
                    f"spends {wanted} but the balance at {event.at} is {balance}",
                    event_id=event.id)
        taken = ledger.spend(wanted, event.at_us)
        note = None if taken == wanted else f"only {taken} of {wanted} available"
        if note:
            fold.warn(f"event {event.id}: spend {note}")
        self.note(fold, SPEND, event, -taken, "spend", note)

    def note(self, fold: MemberFold, source: str, event: Event, points: int, kind: str,
             note: str | None) -> None:
        if self.history is not None:
            self.history.append(Award(source, event.id, fold.rulebook.version,
                                      fold.rulebook.calendar.iso(event.at_us), points, kind,
                                      note))
            self.history_us.append(event.at_us)

    def dump(self, lots: LotTable) -> Any:
        if self.history is not None:
            raise ValueError("a fold that keeps history is not snapshotted")
        return [self.ledger.dump(lots),
                [[rule, *used] for rule, used in self.caps.items()],
                self.once,
                [[rule, keys] for rule, keys in self.once_per.items()],
                [[rule, [[key, [lots.ref(lot) for lot in held]] for key, held in index.items()]]
                 for rule, index in self.matches.items()],
                None if self.pending is None
                else [[rule, key, lots.ref(lot)] for rule, key, lot in self.pending]]

    def load(self, rulebook: Rulebook, data: Any, lots: LotTable) -> None:
        ledger, caps, once, once_per, matches, pending = data
        self.ledger.load(ledger, lots)
        self.caps = {rule: [period, used] for rule, period, used in caps}
        self.once = set(once)
        self.once_per = {rule: set(keys) for rule, keys in once_per}
        for rule, index in matches:
            self.matches[rule] = {key: [lots.lot(seq) for seq in held] for key, held in index}
        if (pending is None) != (self.pending is None):
            raise ValueError("the reversal index does not match the rulebook")
        if pending is not None:
            self.pending = deque((rule, key, lots.lot(seq)) for rule, key, seq in pending)

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        ctx.out["points"] = self.points(fold.rulebook, ctx.as_of_us)
        ctx.out["awards"] = tuple(self.history) if self.history is not None else None

    def entries(self, rulebook: Rulebook, as_of_us: int) -> list[LedgerEntry]:
        """The member's points statement up to ``as_of_us``: every award, clawback, spend,
        redemption, return and expiry, oldest first, with the balance after each.
        Needs a fold that keeps history."""
        assert self.history is not None and self.ledger.expiries is not None
        # (instant, expiries after events at one instant, order, entry)
        moves: list[tuple[int, int, int, LedgerEntry]] = []
        iso = rulebook.calendar.iso
        for i, (a, at_us) in enumerate(zip(self.history, self.history_us, strict=True)):
            kind = _KINDS[a.kind] if a.points or a.kind != "award" else "not_awarded"
            moves.append((at_us, 0, i, LedgerEntry(a.at, kind, a.points, 0, a.rule, a.event,
                                                   a.rulebook_version, a.note)))
        expired = list(self.ledger.expiries)
        expired += [(lot, lot.remaining) for lot in self.ledger.lots
                    if lot.remaining and lot.expires_us is not None
                    and lot.expires_us <= as_of_us]
        for j, (lot, part) in enumerate(expired):
            assert lot.expires_us is not None
            moves.append((lot.expires_us, 1, j, LedgerEntry(
                iso(lot.expires_us), "expired", -part, 0, lot.rule, lot.event_id,
                lot.version)))
        moves.sort(key=lambda m: m[:3])
        out = []
        balance = 0
        for *_, entry in moves:
            balance += entry.points
            out.append(dataclasses.replace(entry, balance=balance))
        return out

    def points(self, rulebook: Rulebook, as_of_us: int) -> Points:
        ledger = self.ledger
        live: list[LotView] = []
        expiring: dict[str, int] = {}
        late_expired = 0
        iso = rulebook.calendar.iso
        for lot in ledger.lots:
            if lot.remaining == 0:
                continue
            if not lot.live_at(as_of_us):
                late_expired += lot.remaining
                continue
            # A read lists every live lot, and formatting its two local times was most of
            # a read's cost: each lot keeps its last view, rebuilt only when its remaining
            # points changed (everything else about a lot is fixed once it exists).
            view = lot.shown
            if view is None or view.remaining != lot.remaining:
                if view is None:
                    expires = iso(lot.expires_us) if lot.expires_us is not None else None
                    view = LotView(iso(lot.at_us), expires, lot.points, lot.remaining,
                                   lot.rule, lot.event_id, lot.version)
                else:
                    view = dataclasses.replace(view, remaining=lot.remaining)
                lot.shown = view
            live.append(view)
            if view.expires_at is not None:
                date = view.expires_at[:10]  # the local date of the expiry instant
                expiring[date] = expiring.get(date, 0) + lot.remaining
        return Points(
            balance=sum(v.remaining for v in live),
            earned=ledger.earned,
            spent=ledger.spent,
            expired=ledger.expired + late_expired,
            reversed=ledger.reversed,
            unrecovered=ledger.unrecovered,
            lots=tuple(live),
            expiring=tuple(Expiry(d, p) for d, p in sorted(expiring.items())),
        )


_KINDS = {"award": "earned", "reversal": "clawed_back", "spend": "spent",
          "redeem": "redeemed", "redeem-cancel": "returned"}


def _all_expired_unspent(lots: list[Lot]) -> bool:
    return all(lot.expired == lot.points for lot in lots)


__all__ = ["PointsPart"]
