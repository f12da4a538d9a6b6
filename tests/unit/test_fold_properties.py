"""Invariants of the fold, over generated event histories for the sesame-style program."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plaudit.domain.calendar import to_us
from plaudit.domain.events import CONSENT, FRIEND, LEADERBOARD, PSEUDONYM, SPEND, Event
from plaudit.domain.fold import MemberFold, fold, fold_events
from plaudit.domain.state import to_dict
from plaudit.rulebook import load_rulebook

from ..conftest import EXAMPLES

RB = load_rulebook((EXAMPLES / "sesame-style.yaml").read_text()).with_version(1)
START = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ["books", "produce", "education", "electronics", "fashion", "games", "travel",
              "other"]

amount = st.decimals(min_value=0, max_value=5000, places=2)
orders = st.sampled_from([f"o-{i}" for i in range(6)])
kinds: dict[str, Any] = {
    "purchase": st.fixed_dictionaries({"amount": amount, "category": st.sampled_from(
        CATEGORIES), "order_id": orders}),
    "refund": st.fixed_dictionaries({"amount": amount, "order_id": orders}),
    "repayment": st.fixed_dictionaries({"amount": amount, "days_late": st.integers(0, 40)}),
    "identity_verified": st.fixed_dictionaries({"method": st.sampled_from(
        ["id_card", "bank_card", "phone"])}),
    "rental_returned": st.fixed_dictionaries({"on_time": st.booleans(),
                                              "damaged": st.booleans()}),
    "referral": st.fixed_dictionaries({"referred": st.sampled_from(["m", "a", "b"])}),
    SPEND: st.fixed_dictionaries({"points": st.integers(1, 3000), "reference": st.just("r")}),
    CONSENT: st.fixed_dictionaries({"partner": st.sampled_from(["city-rentals", "hotels"]),
                                    "granted": st.booleans()}),
    LEADERBOARD: st.fixed_dictionaries({"board": st.just("good-spend-monthly"),
                                        "joined": st.booleans()}),
    PSEUDONYM: st.fixed_dictionaries({"seed": st.integers(0, 3)}),
    FRIEND: st.fixed_dictionaries({"friend": st.sampled_from(["a", "b"]),
                                   "granted": st.booleans()}),
}


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    n = draw(st.integers(1, 40))
    events = []
    for i in range(n):
        kind = draw(st.sampled_from(sorted(kinds)))
        attrs = draw(kinds[kind])
        # minutes over ~2 years, so windows, caps and expiry (365d) all come into play;
        # a few identical times exercise the tie-break by id
        minute = draw(st.integers(0, 2 * 365 * 24 * 60 // 30)) * 30
        at = START + timedelta(minutes=minute)
        events.append(Event(f"e{i:03d}", "m", kind, to_us(at), at.isoformat(), attrs))
    return events


AS_OF = to_us(START + timedelta(days=800))
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(histories(), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_state(events: list[Event],
                                                rnd: random.Random) -> None:
    shuffled = events[:]
    rnd.shuffle(shuffled)
    assert to_dict(fold(RB, "m", events, AS_OF)) == to_dict(fold(RB, "m", shuffled, AS_OF))


@FAST
@given(histories())
def test_incremental_application_equals_a_full_fold(events: list[Event]) -> None:
    acc = MemberFold(RB, "m", history=True)
    for e in sorted(events, key=lambda e: (e.at_us, e.id)):
        acc.apply(e)
    assert to_dict(acc.view(AS_OF)) == to_dict(fold(RB, "m", events, AS_OF))


@FAST
@given(histories())
def test_reading_between_events_never_shows_a_stale_lot(events: list[Event]) -> None:
    """Lots keep the view a read built of them; after spends, expiry and clawbacks change
    what remains, a read must still equal a fresh fold of the same events."""
    acc = MemberFold(RB, "m")
    ordered = sorted(events, key=lambda e: (e.at_us, e.id))
    for i, e in enumerate(ordered):
        acc.apply(e)
        assert to_dict(acc.view(e.at_us)) == to_dict(fold(RB, "m", ordered[:i + 1],
                                                          e.at_us, history=False))
    assert to_dict(acc.view(AS_OF)) == to_dict(fold(RB, "m", events, AS_OF, history=False))


@FAST
@given(histories(), st.data())
def test_re_applying_a_subset_changes_nothing(events: list[Event], data: st.DataObject
                                               ) -> None:
    """The store drops re-sent ids before folding; folding the deduplicated set is the
    same state as folding the original."""
    again = data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    unique = {e.id: e for e in [*events, *again]}
    assert to_dict(fold(RB, "m", unique.values(), AS_OF)) == to_dict(fold(RB, "m", events,
                                                                         AS_OF))


@FAST
@given(histories(), st.integers(0, 800))
def test_balance_never_negative_and_equals_lots_and_score_in_range(
        events: list[Event], day: int) -> None:
    as_of = to_us(START + timedelta(days=day))
    s = fold(RB, "m", events, as_of)
    assert s.points.balance >= 0
    assert s.points.balance == sum(lot.remaining for lot in s.points.lots)
    assert all(0 < lot.remaining <= lot.points for lot in s.points.lots)
    assert s.score is not None
    assert RB.score is not None and RB.score.low <= s.score.value <= RB.score.high
    assert len(s.score.reasons) <= 4
    losses = [r.points_lost for r in s.score.reasons]
    assert losses == sorted(losses, reverse=True)
    # conservation: every point earned is still there, spent, expired or clawed back
    p = s.points
    assert p.earned == p.balance + p.spent + p.expired + p.reversed


@FAST
@given(histories())
def test_spending_and_expiry_take_the_oldest_lots_first(events: list[Event]) -> None:
    acc = fold_events(RB, "m", events, AS_OF)
    live = [lot for lot in acc.points.ledger.lots if lot.remaining]
    # spending, expiry and the FIFO part of clawbacks consume from the front: every live
    # lot but the oldest is untouched
    for lot in live[1:]:
        assert (lot.spent, lot.expired, lot.reversed) == (0, 0, 0), lot.event_id
    assert [lot.at_us for lot in live] == sorted(lot.at_us for lot in live)


def test_decimal_amounts_are_exact() -> None:
    at = to_us(START)
    events = [Event(f"e{i}", "m", "purchase", at + i, START.isoformat(),
                    {"amount": Decimal("0.10"), "category": "games", "order_id": f"o{i}"})
              for i in range(10)]
    inside = fold(RB, "m", events, at + 100)
    assert inside.features["spend_12m"] == Decimal("1.00")


@FAST
@given(histories())
def test_consent_never_changes_points_features_score_or_tier(events: list[Event]) -> None:
    without = [e for e in events if e.type != CONSENT]
    with_consents = to_dict(fold(RB, "m", events, AS_OF))
    plain = to_dict(fold(RB, "m", without, AS_OF))
    for key in ("points", "features", "score", "tier", "perks"):
        assert with_consents[key] == plain[key]
    latest: dict[str, bool] = {}
    for e in sorted(events, key=lambda e: (e.at_us, e.id)):
        if e.type == CONSENT:
            latest[e.attributes["partner"]] = e.attributes["granted"]
    assert {c["partner"]: c["granted"] for c in with_consents["consents"]} == latest
