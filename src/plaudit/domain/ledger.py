"""The points wallet as lots.

Every award is a lot with its own expiry. Spending, expiry and clawbacks always take the
oldest lot first (FIFO), so a member loses the points that would have expired soonest. The
balance can never go negative: a spend or clawback takes at most what is there, and the
part of a clawback that could not be recovered is reported, not turned into debt.

Lots are appended in event order and all share one ``expire_after``, so the oldest lot is
also the first to expire: expiry only ever pops from the left of the deque.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plaudit.domain.state import LotView


class Lot:
    """Points from one award. ``remaining`` is what is left to spend."""

    __slots__ = ("at_us", "event_id", "expired", "expires_us", "points", "remaining",
                 "reversed", "rule", "shown", "spent", "version")

    def __init__(self, at_us: int, expires_us: int | None, points: int, rule: str,
                 event_id: str, version: int) -> None:
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


@dataclass(frozen=True)
class Clawback:
    taken: int
    unrecovered: int


class Ledger:
    """Lots in award order with running totals; mutated only in event order."""

    __slots__ = ("available", "earned", "expired", "lots", "reversed", "spent", "unrecovered")

    def __init__(self) -> None:
        self.lots: deque[Lot] = deque()
        self.available = 0
        """Sum of ``remaining`` over ``lots``: kept running so reads are O(1)."""
        self.earned = 0
        self.spent = 0
        self.expired = 0
        self.reversed = 0
        self.unrecovered = 0

    def expire_until(self, at_us: int) -> None:
        """Expire every lot whose expiry is at or before ``at_us``; drop empty lots."""
        lots = self.lots
        while lots:
            lot = lots[0]
            if lot.remaining == 0:
                lots.popleft()
            elif lot.expires_us is not None and lot.expires_us <= at_us:
                lot.expired += lot.remaining
                self.expired += lot.remaining
                self.available -= lot.remaining
                lot.remaining = 0
                lots.popleft()
            else:
                return

    def award(self, lot: Lot) -> None:
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

    def _take_fifo(self, points: int, *, spending: bool) -> int:
        taken = 0
        for lot in self.lots:
            if taken == points:
                break
            part = min(lot.remaining, points - taken)
            lot.remaining -= part
            if spending:
                lot.spent += part
            else:
                lot.reversed += part
            taken += part
        self.available -= taken
        while self.lots and self.lots[0].remaining == 0:
            self.lots.popleft()
        return taken

    def spend(self, points: int, at_us: int) -> int:
        """Spend up to ``points`` from the oldest lots; returns how many were taken."""
        self.expire_until(at_us)
        taken = self._take_fifo(points, spending=True)
        self.spent += taken
        return taken

    def claw_back(self, lots: list[Lot], at_us: int) -> Clawback:
        """Undo the awards behind ``lots``: what is left of them, and what was spent of
        them from the oldest other lots. Points that already expired are not taken twice.
        """
        self.expire_until(at_us)
        taken = 0
        owed = 0
        for lot in lots:
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
            self.lots.popleft()
        return Clawback(taken=taken, unrecovered=owed - recovered)


__all__ = ["Clawback", "Ledger", "Lot"]
