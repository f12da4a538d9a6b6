"""Invariants of badges and quests over generated histories (with revocation, windows that
empty, quests bounded by local dates)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plaudit.domain.calendar import to_us
from plaudit.domain.events import Event
from plaudit.domain.fold import MemberFold, fold, fold_events
from plaudit.domain.state import to_dict

from .helpers import rulebook
from .test_fold_properties import RB as SESAME
from .test_fold_properties import histories as sesame_histories

RB = rulebook("""
events:
  purchase:
    attributes:
      amount: {type: decimal, min: 0}
      category: {type: enum, values: [books, games]}
      order_id: {type: id}
  refund:
    attributes:
      order_id: {type: id}
points:
  expire_after: 60d
  rules:
    - {id: spend, on: purchase, award: floor(amount)}
features:
  books: {count: purchase, where: 'category == "books"'}
  spend_30d: {sum: purchase.amount, window: 30d}
  refunds_7d: {count: refund, window: 7d}
badges:
  - {id: reader, label: Reader, from: books, levels: [1, 3, 6]}
  - id: spender
    label: Spender
    from: spend_30d
    levels: [50, 150, 300]
    revoked_by: [refund]
  - id: clean
    label: Clean spender
    when: spend_30d >= 100 and refunds_7d == 0
    revoked_by: [refund]
  - {id: quester, label: Quester}
quests:
  - id: feb-books
    label: February books
    from: 2026-02-01
    to: 2026-02-28
    goal: {sum: purchase.amount, where: 'category == "books"', at_least: 80}
    reward: {points: 40, badge: quester}
  - id: march-three
    label: Three in March
    from: 2026-03-01
    to: 2026-03-31
    goal: {count: purchase, at_least: 3}
    reward: {points: 25}
""", timezone="Asia/Shanghai").with_version(3)
START = datetime(2026, 1, 1, tzinfo=UTC)
AS_OF = to_us(START + timedelta(days=200))
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    n = draw(st.integers(1, 30))
    events = []
    for i in range(n):
        # hours over ~100 days: windows empty, both quests open and close
        at = START + timedelta(hours=draw(st.integers(0, 100 * 24)))
        if draw(st.integers(0, 4)) == 0:
            attrs: dict[str, object] = {"order_id": "o"}
            kind = "refund"
        else:
            kind = "purchase"
            attrs = {"amount": draw(st.decimals(0, 200, places=2)),
                     "category": draw(st.sampled_from(["books", "games"])),
                     "order_id": f"o{i}"}
        events.append(Event(f"e{i:03d}", "m", kind, to_us(at), at.isoformat(), attrs))
    return events


def ordered(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.at_us, e.id))


@FAST
@given(histories(), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_badges_and_quests(events: list[Event],
                                                            rnd: random.Random) -> None:
    shuffled = events[:]
    rnd.shuffle(shuffled)
    assert to_dict(fold(RB, "m", events, AS_OF)) == to_dict(fold(RB, "m", shuffled, AS_OF))


@FAST
@given(histories())
def test_awards_and_revocations_alternate_per_level(events: list[Event]) -> None:
    acc = fold_events(RB, "m", events, history=True)
    assert acc.badges is not None and acc.badges.history is not None
    kinds: dict[tuple[str, int], list[str]] = defaultdict(list)
    held: dict[str, int] = defaultdict(int)
    for change in acc.badges.history:
        kinds[(change.badge, change.level)].append(change.kind)
        # levels are held from 1 up: award the next one, revoke the top one
        if change.kind == "award":
            assert change.level == held[change.badge] + 1
            held[change.badge] += 1
        else:
            assert change.level == held[change.badge]
            held[change.badge] -= 1
        assert change.rulebook_version == 3
    for (badge, _), seq in kinds.items():
        assert seq == ["award", "revoke"] * (len(seq) // 2) + ["award"] * (len(seq) % 2)
        if badge in ("reader", "quester"):  # no revoked_by: never awarded twice
            assert seq == ["award"]
    view = {b.id: b.level for b in fold(RB, "m", events, AS_OF).badges}
    assert view == {b: n for b, n in held.items() if n}


@FAST
@given(histories())
def test_badges_match_their_condition_at_the_events_that_check_them(events: list[Event]
                                                                    ) -> None:
    """Without revocation a level is held iff some purchase met it on its day; a revocable
    badge holds exactly the levels met after each of its `revoked_by` events, and at least
    those after any other event that checks it."""
    acc = MemberFold(RB, "m")
    best_reader = 0
    for e in ordered(events):
        acc.apply(e)
        values = acc.features_on(RB.calendar.day(e.at_us))
        if e.type == "purchase":
            best_reader = max(best_reader, sum(values["books"] >= t for t in (1, 3, 6)))
        met = sum(values["spend_30d"] >= t for t in (50, 150, 300))
        held = len(acc.badges.held.get("spender", ())) if acc.badges else 0
        if e.type == "refund":  # re-checked both ways: exactly the levels met
            assert held == met
        else:                   # a purchase awards what is met, never revokes
            assert held >= met
    reader = len(acc.badges.held.get("reader", ())) if acc.badges else 0
    assert reader == best_reader


def oracle(events: list[Event], first: str, last: str, goal: Decimal,
           books_sum: bool) -> tuple[Decimal, str | None]:
    """The quest's progress and completing event, from the definition."""
    total, done = Decimal(0), None
    for e in ordered(events):
        local = RB.calendar.date(RB.calendar.day(e.at_us)).isoformat()
        if e.type != "purchase" or not first <= local <= last:
            continue
        if books_sum:
            if e.attributes["category"] != "books":
                continue
            total += e.attributes["amount"]
        else:
            total += 1
        if total >= goal:
            return total, e.id
    return total, done


@FAST
@given(histories())
def test_quest_progress_completion_and_points_follow_the_definition(events: list[Event]
                                                                   ) -> None:
    s = fold(RB, "m", events, AS_OF)
    feb, march = s.quests
    assert (Decimal(feb.progress), feb.event) == oracle(
        events, "2026-02-01", "2026-02-28", Decimal(80), True)
    assert (Decimal(march.progress), march.event) == oracle(
        events, "2026-03-01", "2026-03-31", Decimal(3), False)
    for q, points in ((feb, 40), (march, 25)):
        assert q.status == ("completed" if q.event else "expired")
        awards = [a for a in s.awards or () if a.rule == f"quest:{q.id}"]
        assert [(a.points, a.event) for a in awards] == ([(points, q.event)] if q.event
                                                         else [])
    assert any(b.id == "quester" for b in s.badges) == (feb.event is not None)


@FAST
@given(histories())
def test_reading_between_events_changes_nothing(events: list[Event]) -> None:
    acc = MemberFold(RB, "m", history=True)
    for e in ordered(events):
        acc.apply(e)
        acc.view(e.at_us)
    assert to_dict(acc.view(AS_OF)) == to_dict(fold(RB, "m", events, AS_OF))


@FAST
@given(sesame_histories(), st.integers(0, 400))
def test_one_feature_read_alone_equals_every_feature_read_together(events: list[Event],
                                                                   later: int) -> None:
    """Badges read only the features they test (`FeaturesPart.value`); each must equal
    what a view reads (`values`), for every kind of feature the sesame example has."""
    acc = fold_events(SESAME, "m", events)
    assert acc.features is not None
    day = SESAME.calendar.day(max(e.at_us for e in events)) + later
    together = acc.features.values(SESAME, day)
    alone = {f.name: acc.features.value(SESAME, f, day) for f in SESAME.features}
    assert alone == together
    assert {type(v) for v in alone.values()} == {type(v) for v in together.values()}
