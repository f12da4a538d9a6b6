"""The points wallet as lots.

Every award is a lot with its own expiry. Spending, expiry and clawbacks always take the
oldest lot first (FIFO), so a member loses the points that would have expired soonest. The
balance can never go negative: a spend or clawback takes at most what is there, and the
part of a clawback that could not be recovered is reported, not turned into debt.

Lots are appended in event order and all share one ``expire_after``, so the oldest lot is
also the first to expire: expiry only ever pops from the left of the deque.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plaudit.domain.state import LotView


class Lot:
    """Points from one award. ``remaining`` is what is left to spend."""

    __slots__ = ("at_us", "clawed", "event_id", "expired", "expires_us", "held", "points",
                 "remaining", "reversed", "rule", "seq", "shown", "spent", "version")

    def __init__(self, at_us: int, expires_us: int | None, points: int, rule: str,
                 event_id: str, version: int) -> None:
        self.seq = 0
        """Position in award order, set by the ledger: the deque is kept in this order."""
        self.held = False
        """In the ledger's deque (a lot leaves it when used up or expired, and comes back
        when a cancelled redemption returns points to it)."""
        self.clawed = False
        """A reversal took this lot back (what was spent of it was owed by the member)."""
        self.at_us = at_us
        self.expires_us = expires_us
        self.points = points
        self.remaining = points
        self.spent = 0
        self.expired = 0
        self.reversed = 0
        self.rule = rule
        self.event_id = event_id
        self.version = version
        self.shown: LotView | None = None
        """The last view of this lot a read built (the fold's to fill and trust: only
        ``remaining`` can change once a lot exists), or None."""

    def live_at(self, at_us: int) -> bool:
        return self.remaining > 0 and (self.expires_us is None or self.expires_us > at_us)


def _seq(lot: Lot) -> int:
    return lot.seq


class LotTable:
    """The lots a snapshot holds, by ``seq``: a lot is shared by the ledger's deque, the
    reversal index and redemptions, so each is written once and named by its number."""

    __slots__ = ("by_seq",)

    def __init__(self, by_seq: dict[int, Lot] | None = None) -> None:
        self.by_seq: dict[int, Lot] = {} if by_seq is None else by_seq

    def ref(self, lot: Lot) -> int:
        self.by_seq[lot.seq] = lot
        return lot.seq

    def lot(self, seq: int) -> Lot:
        return self.by_seq[seq]

    def dump(self) -> list[list[Any]]:
        """Every referenced lot, in award order (``held`` and ``shown`` are left out: the
        first follows from the ledger's deque, the second is a read's cache)."""
        return [[lot.seq, lot.at_us, lot.expires_us, lot.points, lot.remaining, lot.spent,
                 lot.expired, lot.reversed, lot.clawed, lot.rule, lot.event_id, lot.version]
                for _, lot in sorted(self.by_seq.items())]

    @classmethod
    def load(cls, rows: list[list[Any]]) -> LotTable:
        by_seq: dict[int, Lot] = {}
        for (seq, at_us, expires_us, points, remaining, spent, expired, reversed_, clawed,
             rule, event_id, version) in rows:
            lot = Lot(at_us, expires_us, points, rule, event_id, version)
            lot.seq, lot.remaining, lot.spent, lot.expired = seq, remaining, spent, expired
            lot.reversed, lot.clawed = reversed_, clawed
            by_seq[seq] = lot
        return cls(by_seq)


@dataclass(frozen=True)
class Clawback:
    taken: int
    unrecovered: int


@dataclass(frozen=True)
class Restored:
    """What a cancelled redemption gave back."""

    returned: int
    """Points back on their lots, spendable again."""
    expired: int
    """Points whose lot expired while they were spent: they stay expired."""
    settled: int
    """Points of lots a reversal took back meanwhile that paid what the reversal could
    not recover (``unrecovered``), instead of returning."""


class Ledger:
    """Lots in award order with running totals; mutated only in event order."""

    __slots__ = ("available", "awarded", "earned", "expired", "expiries", "lots", "reversed",
                 "spent", "unrecovered")

    def __init__(self, *, log_expiries: bool = False) -> None:
        self.lots: deque[Lot] = deque()
        self.expiries: list[tuple[Lot, int]] | None = [] if log_expiries else None
        """Each expiry (the lot, the points that expired with it), for the member's
        ledger entries; kept only when the fold keeps history."""
        self.awarded = 0
        """Lots ever awarded (each lot's ``seq`` is its number)."""
        self.available = 0
        """Sum of ``remaining`` over ``lots``: kept running so reads are O(1)."""
        self.earned = 0
        self.spent = 0
        self.expired = 0
        self.reversed = 0
        self.unrecovered = 0

    def dump(self, lots: LotTable) -> list[Any]:
        if self.expiries is not None:
            raise ValueError("a ledger that logs expiries (history) is not snapshotted")
        return [[lots.ref(lot) for lot in self.lots], self.awarded, self.available,
                self.earned, self.spent, self.expired, self.reversed, self.unrecovered]

    def load(self, data: list[Any], lots: LotTable) -> None:
        (held, self.awarded, self.available, self.earned, self.spent, self.expired,
         self.reversed, self.unrecovered) = data
        self.lots = deque(lots.lot(seq) for seq in held)
        for lot in self.lots:
            lot.held = True

    def expire_until(self, at_us: int) -> None:
        """Expire every lot whose expiry is at or before ``at_us``; drop empty lots."""
        lots = self.lots
        while lots:
            lot = lots[0]
            if lot.remaining == 0:
                lots.popleft().held = False
            elif lot.expires_us is not None and lot.expires_us <= at_us:
                if self.expiries is not None:
                    self.expiries.append((lot, lot.remaining))
                lot.expired += lot.remaining
                self.expired += lot.remaining
                self.available -= lot.remaining
                lot.remaining = 0
                lots.popleft().held = False
            else:
                return

    def award(self, lot: Lot) -> None:
        self.awarded += 1
        lot.seq = self.awarded
        lot.held = True
        self.lots.append(lot)
        self.earned += lot.points
        self.available += lot.points

    def balance(self) -> int:
        return self.available

    def balance_at(self, at_us: int) -> int:
        """Balance at a time at or after the last applied event, without mutating.

        Lots expire oldest first, so only a prefix of the deque can have expired since.
        """
        balance = self.available
        for lot in self.lots:
            if lot.expires_us is None or lot.expires_us > at_us:
                break
            balance -= lot.remaining
        return balance

    def _take_fifo(self, points: int, *, spending: bool,
                   parts: list[tuple[Lot, int]] | None = None) -> int:
        taken = 0
        for lot in self.lots:
            if taken == points:
                break
            part = min(lot.remaining, points - taken)
            if not part:
                continue
            lot.remaining -= part
            if spending:
                lot.spent += part
            else:
                lot.reversed += part
            if parts is not None:
                parts.append((lot, part))
            taken += part
        self.available -= taken
        while self.lots and self.lots[0].remaining == 0:
            self.lots.popleft().held = False
        return taken

    def spend(self, points: int, at_us: int,
              parts: list[tuple[Lot, int]] | None = None) -> int:
        """Spend up to ``points`` from the oldest lots; returns how many were taken.
        ``parts`` (if given) receives each lot and how much of it was taken, so that a
        cancelled redemption can give back exactly those points."""
        self.expire_until(at_us)
        taken = self._take_fifo(points, spending=True, parts=parts)
        self.spent += taken
        return taken

    def restore(self, parts: list[tuple[Lot, int]], at_us: int) -> Restored:
        """Give back what a spend took, to the same lots, at ``at_us``.

        A lot that expired meanwhile keeps its points expired (they would have expired
        unspent). A lot a reversal took back meanwhile had its spent points recovered from
        other lots, or recorded as ``unrecovered``: the returned points first pay that
        shortfall, and the rest return to the lot, so the balance ends as if the spend had
        never happened. Lots that had left the deque (fully used) return to its front, in
        award order, which is also their expiry order.
        """
        self.expire_until(at_us)
        back: list[Lot] = []
        returned = expired = settled = 0
        for lot, part in parts:
            lot.spent -= part
            self.spent -= part
            if lot.expires_us is not None and lot.expires_us <= at_us:
                if self.expiries is not None:
                    self.expiries.append((lot, part))
                lot.expired += part
                self.expired += part
                expired += part
                continue
            if lot.clawed and self.unrecovered:
                pay = min(part, self.unrecovered)
                self.unrecovered -= pay
                lot.reversed += pay
                self.reversed += pay
                settled += pay
                part -= pay
                if not part:
                    continue
            lot.remaining += part
            self.available += part
            returned += part
            if not lot.held:
                lot.held = True
                back.append(lot)
        if back:  # merge by award order: the deque stays in award (and expiry) order
            self.lots = deque(heapq.merge(self.lots, sorted(back, key=_seq), key=_seq))
        return Restored(returned, expired, settled)

    def claw_back(self, lots: list[Lot], at_us: int) -> Clawback:
        """Undo the awards behind ``lots``: what is left of them, and what was spent of
        them from the oldest other lots. Points that already expired are not taken twice.
        """
        self.expire_until(at_us)
        taken = 0
        owed = 0
        for lot in lots:
            lot.clawed = True
            taken += lot.remaining
            lot.reversed += lot.remaining
            self.available -= lot.remaining
            lot.remaining = 0
            owed += lot.spent
        recovered = self._take_fifo(owed, spending=False) if owed else 0
        taken += recovered
        self.reversed += taken
        self.unrecovered += owed - recovered
        while self.lots and self.lots[0].remaining == 0:
            self.lots.popleft().held = False
        return Clawback(taken=taken, unrecovered=owed - recovered)


__all__ = ["Clawback", "Ledger", "Lot", "LotTable", "Restored"]
