"""Synthetic, realistic event streams for the sesame-style program (demo and benchmarks).

Members differ: how often they buy, how much of it is "good for you", whether they repay on
time, whether they verify their identity and rent cars. Events come out in time order, the
way an operator's export would, with time-ordered ids (which also keeps SQLite's unique
index appending instead of splitting pages). Everything is seeded: the same arguments give
the same file byte for byte.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

CATEGORIES = ("books", "produce", "education", "electronics", "fashion", "games", "travel",
              "other")
GOOD = ("books", "produce", "education")
OTHER = tuple(c for c in CATEGORIES if c not in GOOD)
SHANGHAI = timezone(timedelta(hours=8))


@dataclass
class _Profile:
    member: str
    purchase_rate: float
    good_share: float
    basket: float
    on_time: float
    repays: bool
    repay_day: int
    verify_day: int | None
    rental_rate: float
    careful: float
    referral_rate: float


def _profile(rng: random.Random, member: str, days: int) -> _Profile:
    return _Profile(
        member=member,
        purchase_rate=min(rng.lognormvariate(math.log(0.18), 0.8), 3.0),
        good_share=rng.betavariate(2, 4),
        basket=rng.lognormvariate(math.log(60), 0.9),
        on_time=rng.betavariate(8, 1.5),
        repays=rng.random() < 0.6,
        repay_day=rng.randint(1, 28),
        verify_day=rng.randint(0, days - 1) if rng.random() < 0.7 else None,
        rental_rate=rng.random() * 0.02,
        careful=rng.betavariate(9, 1),
        referral_rate=rng.random() * 0.004,
    )


def member_id(i: int) -> str:
    return f"m-{i:06d}"


def generate(members: int, days: int, *, start: date, seed: int = 7
             ) -> Iterator[dict[str, Any]]:
    """Events of ``members`` members over ``days`` days from ``start``, in time order."""
    rng = random.Random(seed)
    profiles = [_profile(rng, member_id(i), days) for i in range(1, members + 1)]
    seq = 0
    joined: set[str] = set()
    refunds: dict[int, list[tuple[int, _Profile, str, str]]] = {}
    for day in range(days):
        current = start + timedelta(days=day)
        todays: list[tuple[int, _Profile, str, dict[str, Any]]] = []
        for p in profiles:
            n = _poisson(rng, p.purchase_rate)
            for _ in range(n):
                good = rng.random() < p.good_share
                category = rng.choice(GOOD if good else OTHER)
                amount = rng.lognormvariate(math.log(p.basket), 0.6)
                second = rng.randint(8 * 3600, 23 * 3600)
                order = f"o-{p.member[2:]}-{day}-{second}"
                todays.append((second, p, "purchase", {
                    "amount": f"{amount:.2f}", "category": category, "order_id": order}))
                if rng.random() < 0.04:
                    later = day + rng.randint(1, 20)
                    refunds.setdefault(later, []).append(
                        (rng.randint(9 * 3600, 20 * 3600), p, order, f"{amount:.2f}"))
            if p.repays and current.day == p.repay_day:
                late = 0 if rng.random() < p.on_time else rng.randint(1, 30)
                todays.append((rng.randint(9 * 3600, 21 * 3600), p, "repayment", {
                    "amount": f"{rng.randint(200, 3000)}.00", "days_late": late}))
            if p.verify_day == day:
                todays.append((rng.randint(9 * 3600, 21 * 3600), p, "identity_verified",
                               {"method": rng.choice(("id_card", "bank_card", "phone"))}))
            if rng.random() < p.rental_rate:
                todays.append((rng.randint(9 * 3600, 21 * 3600), p, "rental_returned", {
                    "on_time": rng.random() < p.careful,
                    "damaged": rng.random() > p.careful + 0.05}))
            if members > 1 and rng.random() < p.referral_rate:
                # someone who already joined, never yourself (ingest refuses both)
                friend = member_id(rng.randint(1, members))
                if friend in joined and friend != p.member:
                    todays.append((rng.randint(9 * 3600, 21 * 3600), p, "referral",
                                   {"referred": friend}))
        for second, p, order, refunded in refunds.pop(day, []):
            todays.append((second, p, "refund", {"amount": refunded, "order_id": order}))
        todays.sort(key=lambda t: (t[0], t[1].member))
        midnight = datetime(current.year, current.month, current.day, tzinfo=SHANGHAI)
        for second, p, etype, attrs in todays:
            seq += 1
            joined.add(p.member)
            at = midnight + timedelta(seconds=second)
            yield {"id": f"e{seq:010d}", "member": p.member, "type": etype,
                   "at": at.isoformat(), "attributes": attrs}


def _poisson(rng: random.Random, rate: float) -> int:
    """Knuth's method: fine for the small daily rates used here."""
    limit = math.exp(-rate)
    k, prod = 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def today_utc() -> date:
    return datetime.now(UTC).date()


__all__ = ["generate", "member_id", "today_utc"]
