"""Rewards in the fold: redemptions spend the oldest points, cancellations give the same
points back, and a redemption's conditions hold at its own time — worked by hand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plaudit.domain.errors import InsufficientPoints, RedemptionRefused, RulebookError
from plaudit.domain.events import REDEEM, REDEEM_CANCEL, Event
from plaudit.domain.fold import MemberFold, fold_events
from plaudit.domain.state import to_dict

from .helpers import at, ev, rulebook

BOOK = """
events:
  purchase:
    attributes:
      amount: {type: int, min: 0}
points:
  expire_after: 30d
  rules:
    - {id: spend, on: purchase, award: amount}
tiers:
  basis: qualifying_points
  window: rolling 365d
  levels:
    - {name: Member, from: 0}
    - {name: Gold, from: 500}
rewards:
  - id: coffee
    label: Coffee
    cost: 150
    stock: 1000
    limit: {max: 2, per: month}
  - id: lounge
    label: Lounge
    cost: 100
    requires: tier >= "Gold"
  - id: xmas
    label: Christmas box
    cost: 10
    available: {from: 2026-12-01, to: 2026-12-24}
"""
RB = rulebook(BOOK)


def redeem(id_: str, when: str, reward: str, points: int, key: str | None = None) -> Event:
    return ev(id_, REDEEM, when, reward=reward, points=points, key=key or id_)


def cancel(id_: str, when: str, redemption: str) -> Event:
    return ev(id_, REDEEM_CANCEL, when, redemption=redemption)


def run(events: list[Event], *, strict: bool = True) -> MemberFold:
    acc = MemberFold(RB, "m", history=True)
    for e in events:
        acc.apply(e, strict=strict)
    return acc


def test_a_redemption_spends_the_oldest_lots_and_a_cancellation_returns_them() -> None:
    # lots: 100 (1 June), 100 (10 June); coffee 150 takes 100 + 50; cancel gives them back
    events = [ev("p1", "purchase", "2026-06-01T10:00:00+00:00", amount=100),
              ev("p2", "purchase", "2026-06-10T10:00:00+00:00", amount=100),
              redeem("r1", "2026-06-12T10:00:00+00:00", "coffee", 150)]
    acc = run(events)
    view = acc.view(at("2026-06-12T12:00:00+00:00"))
    assert view.points.balance == 50
    assert [(lot.event, lot.remaining) for lot in view.points.lots] == [("p2", 50)]
    assert view.redemptions[0].status == "redeemed"
    acc.apply(cancel("c1", "2026-06-13T10:00:00+00:00", "r1"), strict=True)
    view = acc.view(at("2026-06-13T12:00:00+00:00"))
    assert view.points.balance == 200
    assert [(lot.event, lot.remaining) for lot in view.points.lots] == [("p1", 100),
                                                                         ("p2", 100)]
    r = view.redemptions[0]
    assert (r.status, r.returned, r.expired_meanwhile) == ("cancelled", 150, 0)
    assert [a.kind for a in view.awards or ()][-2:] == ["redeem", "redeem-cancel"]


def test_points_whose_lot_expired_meanwhile_are_not_returned() -> None:
    # p1 (100) expires 1 June + 30 days = 1 July; cancelled on 5 July: only p2's 50 return
    events = [ev("p1", "purchase", "2026-06-01T10:00:00+00:00", amount=100),
              ev("p2", "purchase", "2026-06-20T10:00:00+00:00", amount=100),
              redeem("r1", "2026-06-21T10:00:00+00:00", "coffee", 150),
              cancel("c1", "2026-07-05T10:00:00+00:00", "r1")]
    view = run(events).view(at("2026-07-05T12:00:00+00:00"))
    assert view.points.balance == 100
    r = view.redemptions[0]
    assert (r.returned, r.expired_meanwhile) == (50, 100)
    assert view.points.expired == 100


def test_the_limit_counts_per_local_month_and_a_cancellation_frees_it() -> None:
    buy = ev("p1", "purchase", "2026-06-01T10:00:00+00:00", amount=1000)
    acc = run([buy, redeem("r1", "2026-06-02T10:00:00+00:00", "coffee", 150),
               redeem("r2", "2026-06-03T10:00:00+00:00", "coffee", 150)])
    with pytest.raises(RedemptionRefused) as refused:
        acc.apply(redeem("r3", "2026-06-04T10:00:00+00:00", "coffee", 150), strict=True)
    assert "limit reached" in refused.value.problems[0].reason
    acc = run([buy, redeem("r1", "2026-06-02T10:00:00+00:00", "coffee", 150),
               redeem("r2", "2026-06-03T10:00:00+00:00", "coffee", 150),
               cancel("c2", "2026-06-03T11:00:00+00:00", "r2"),
               redeem("r3", "2026-06-04T10:00:00+00:00", "coffee", 150),
               redeem("r4", "2026-07-01T00:00:00+00:00", "coffee", 150)])  # a new month
    assert acc.view(at("2026-07-01T01:00:00+00:00")).points.balance == 1000 - 3 * 150


def test_requirements_and_dates_hold_at_the_redemptions_own_time() -> None:
    small = ev("p1", "purchase", "2026-06-01T10:00:00+00:00", amount=400)
    acc = run([small])
    with pytest.raises(RedemptionRefused) as refused:
        acc.apply(redeem("r1", "2026-06-02T10:00:00+00:00", "lounge", 100), strict=True)
    assert 'requires `tier >= "Gold"`' in refused.value.problems[0].reason
    acc = run([small, ev("p2", "purchase", "2026-06-03T10:00:00+00:00", amount=100),
               redeem("r1", "2026-06-04T10:00:00+00:00", "lounge", 100)])  # Gold at 500
    assert acc.view(at("2026-06-04T11:00:00+00:00")).points.balance == 400
    late = ev("p9", "purchase", "2026-11-29T10:00:00+00:00", amount=100)
    for when in ("2026-11-30T23:59:59+00:00", "2026-12-25T00:00:00+00:00"):
        with pytest.raises(RedemptionRefused):
            run([late]).apply(redeem("x", when, "xmas", 10), strict=True)
    run([late]).apply(redeem("x", "2026-12-24T23:59:59+00:00", "xmas", 10), strict=True)


def test_a_checked_redemption_needs_the_cost_the_catalogue_and_the_balance() -> None:
    small = ev("p1", "purchase", "2026-06-01T10:00:00+00:00", amount=100)
    with pytest.raises(RedemptionRefused, match="costs 150, not 10"):
        run([small]).apply(redeem("r", "2026-06-02T10:00:00+00:00", "coffee", 10),
                           strict=True)
    with pytest.raises(RedemptionRefused, match="no reward `tea`"):
        run([small]).apply(redeem("r", "2026-06-02T10:00:00+00:00", "tea", 10), strict=True)
    with pytest.raises(InsufficientPoints):
        run([small]).apply(redeem("r", "2026-06-02T10:00:00+00:00", "coffee", 150),
                           strict=True)
    with pytest.raises(RedemptionRefused, match="no redemption `nope`"):
        run([small]).apply(cancel("c", "2026-06-02T10:00:00+00:00", "nope"), strict=True)


def test_a_stored_redemption_is_a_fact_when_re_folded() -> None:
    # re-folded under a rulebook without the reward, it still spends what it charged
    events = [ev("p1", "purchase", "2026-06-01T10:00:00+00:00", amount=300),
              redeem("r1", "2026-06-02T10:00:00+00:00", "coffee", 150)]
    other = rulebook(BOOK.split("rewards:")[0])
    acc = fold_events(other, "m", events)
    assert acc.view(at("2026-06-03T00:00:00+00:00")).points.balance == 150
    assert acc.view(at("2026-06-03T00:00:00+00:00")).redemptions[0].label == "coffee"


def test_a_cancellation_after_a_clawback_pays_its_shortfall_first() -> None:
    book = BOOK.replace("""events:
  purchase:
    attributes:
      amount: {type: int, min: 0}""", """events:
  purchase:
    attributes:
      amount: {type: int, min: 0}
      order_id: {type: id}
  refund:
    attributes:
      order_id: {type: id}""").replace(
        "    - {id: spend, on: purchase, award: amount}",
        "    - {id: spend, on: purchase, award: amount}\n"
        "    - {id: undo, on: refund, reverses: spend, match: order_id}")
    rb = rulebook(book)
    acc = MemberFold(rb, "m")
    for e in [ev("p1", "purchase", "2026-06-01T10:00:00+00:00", amount=150, order_id="o1"),
              redeem("r1", "2026-06-02T10:00:00+00:00", "coffee", 150),
              ev("x1", "refund", "2026-06-03T10:00:00+00:00", order_id="o1"),
              cancel("c1", "2026-06-04T10:00:00+00:00", "r1")]:
        acc.apply(e, strict=True)
    view = acc.view(at("2026-06-05T00:00:00+00:00"))
    # never redeemed, the refund would have taken all 150 back: balance 0, nothing owed
    assert (view.points.balance, view.points.unrecovered) == (0, 0)


def test_a_rulebook_refuses_rewards_it_cannot_honour() -> None:
    with pytest.raises(RulebookError) as e:
        rulebook(BOOK.replace('requires: tier >= "Gold"', 'requires: tier > "Gold"')
                 .replace("per: month", "per: fortnight")
                 .replace("to: 2026-12-24", "to: 2026-11-24"))
    reasons = " | ".join(f"{p.field}: {p.reason}" for p in e.value.problems)
    assert "rewards[1].requires: reward `lounge` can never be redeemed" in reasons
    assert "rewards[0].limit.per: unknown period `fortnight`" in reasons
    assert "rewards[2].available.to: `to` (2026-11-24) is before `from`" in reasons
    assert all(p.where.startswith("test.yaml:") for p in e.value.problems)


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    n = draw(st.integers(1, 25))
    events: list[Event] = []
    redemptions: list[str] = []
    for i in range(n):
        when = f"2026-06-{1 + draw(st.integers(0, 27)):02d}T{draw(st.integers(0, 23)):02d}" \
               ":00:00+00:00"
        kind = draw(st.sampled_from(["purchase", "redeem", "cancel"]))
        if kind == "purchase":
            events.append(ev(f"e{i:03d}", "purchase", when, amount=draw(st.integers(0, 300))))
        elif kind == "redeem":
            events.append(redeem(f"e{i:03d}", when, "coffee", 150))
            redemptions.append(f"e{i:03d}")
        elif redemptions:
            events.append(cancel(f"e{i:03d}", when, draw(st.sampled_from(redemptions))))
    return events


@settings(max_examples=150, deadline=None)
@given(histories(), st.randoms())
def test_redemptions_never_overdraw_and_arrival_order_never_matters(
        events: list[Event], rnd: object) -> None:
    as_of = at("2026-07-15T00:00:00+00:00")
    first = to_dict(fold_events(RB, "m", events, as_of, history=True).view(as_of))
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert to_dict(fold_events(RB, "m", shuffled, as_of, history=True).view(as_of)) == first
    points = first["points"]
    assert points["balance"] >= 0
    assert points["balance"] == sum(lot["remaining"] for lot in points["lots"])
    assert points["balance"] == points["earned"] - points["spent"] - points["expired"] \
        - points["reversed"]
