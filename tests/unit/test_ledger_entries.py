"""The member's points statement: every movement, oldest first, with the balance after it
— earned, clawed back by a named refund, spent, redeemed, returned and expired (when)."""

from __future__ import annotations

from plaudit.domain.events import REDEEM, REDEEM_CANCEL, SPEND
from plaudit.domain.fold import fold_events

from .helpers import at, ev, rulebook

RB = rulebook("""
events:
  purchase:
    attributes:
      amount: {type: int, min: 0}
      order_id: {type: id}
  refund:
    attributes:
      order_id: {type: id}
points:
  expire_after: 10d
  rules:
    - {id: buy, on: purchase, award: amount, cap: {max: 150, per: day}}
    - {id: refunded, on: refund, reverses: buy, match: order_id}
rewards:
  - {id: mug, label: Mug, cost: 40}
""", "Europe/Berlin")


def test_a_statement_worked_by_hand() -> None:
    events = [
        ev("p1", "purchase", "2026-03-01T10:00:00+01:00", amount=100, order_id="o1"),
        ev("p2", "purchase", "2026-03-01T11:00:00+01:00", amount=100, order_id="o2"),  # 50
        ev("p3", "purchase", "2026-03-02T10:00:00+01:00", amount=80, order_id="o3"),
        ev("x1", "refund", "2026-03-03T10:00:00+01:00", order_id="o3"),
        ev("s1", SPEND, "2026-03-04T10:00:00+01:00", points=30, reference="r"),
        ev("r1", REDEEM, "2026-03-05T10:00:00+01:00", reward="mug", points=40, key="k"),
        ev("c1", REDEEM_CANCEL, "2026-03-06T10:00:00+01:00", redemption="r1"),
    ]
    acc = fold_events(RB, "m", events, history=True)
    entries = acc.points.entries(RB, at("2026-03-20T00:00:00+01:00"))
    rows = [(e.at[:16], e.kind, e.points, e.balance, e.source, e.event, e.note)
            for e in entries]
    assert rows == [
        ("2026-03-01T10:00", "earned", 100, 100, "buy", "p1", None),
        ("2026-03-01T11:00", "earned", 50, 150, "buy", "p2",
         "capped at 150 per day: 100 asked, 50 given"),
        ("2026-03-02T10:00", "earned", 80, 230, "buy", "p3", None),
        ("2026-03-03T10:00", "clawed_back", -80, 150, "refunded", "x1", None),
        ("2026-03-04T10:00", "spent", -30, 120, "plaudit.spend", "s1", None),
        ("2026-03-05T10:00", "redeemed", -40, 80, "reward:mug", "r1", None),
        ("2026-03-06T10:00", "returned", 40, 120, "reward:mug", "c1", None),
        # 10 days after each award (Berlin local time): what was left of p1 and p2
        ("2026-03-11T10:00", "expired", -70, 50, "buy", "p1", None),
        ("2026-03-11T11:00", "expired", -50, 0, "buy", "p2", None),
    ]
    assert entries[-1].balance == acc.view(at("2026-03-20T00:00:00+01:00")).points.balance
