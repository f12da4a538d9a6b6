"""Worked examples, one per rulebook mechanism, small enough to check by hand."""

from __future__ import annotations

from decimal import Decimal

from plaudit.domain.events import SPEND

from .helpers import PURCHASES, at, ev, rulebook, state

SPEND_RULE = PURCHASES + """
points:
  expire_after: 30d
  rules:
    - id: spend
      on: purchase
      award: floor(amount)
      multiply:
        - {when: 'category == "books"', by: 2}
      cap: {max: 100, per: day}
    - id: refunded
      on: refund
      reverses: spend
      match: order_id
"""


def spend(id_: str, when: str, points: int) -> object:
    return ev(id_, SPEND, when, points=points, reference="r")


def test_award_formula_and_multiplier() -> None:
    rb = rulebook(SPEND_RULE)
    s = state(rb, [
        ev("a", "purchase", "2026-06-01T10:00:00+00:00", amount="12.90", category="games",
           order_id="o-a"),                      # floor(12.90) = 12
        ev("b", "purchase", "2026-06-02T10:00:00+00:00", amount="10.50", category="books",
           order_id="o-b"),                      # floor(10.50) * 2 = 20
    ], "2026-06-03T00:00:00+00:00")
    assert [a.points for a in s.awards or ()] == [12, 20]
    assert s.points.balance == 32


def test_cap_counts_points_per_local_day() -> None:
    rb = rulebook(SPEND_RULE, timezone="Asia/Shanghai")
    s = state(rb, [
        # 15:30 and 16:30 UTC are 23:30 on 1 June and 00:30 on 2 June in Shanghai
        ev("a", "purchase", "2026-06-01T15:30:00+00:00", amount="80", category="games",
           order_id="o-a"),
        ev("b", "purchase", "2026-06-01T15:40:00+00:00", amount="50", category="games",
           order_id="o-b"),                      # same local day: only 20 left of 100
        ev("c", "purchase", "2026-06-01T16:30:00+00:00", amount="50", category="games",
           order_id="o-c"),                      # next local day: full 50
    ], "2026-06-03T00:00:00+00:00")
    assert [a.points for a in s.awards or ()] == [80, 20, 50]
    assert "capped at 100 per day" in (s.awards or ())[1].note  # type: ignore[operator]


def test_weekly_and_monthly_caps() -> None:
    body = PURCHASES + """
points:
  rules:
    - {id: w, on: purchase, award: 10, cap: {max: 15, per: week}}
    - {id: mo, on: purchase, award: 10, cap: {max: 25, per: month}}
"""
    rb = rulebook(body)
    days = ["2026-06-01", "2026-06-03", "2026-06-08", "2026-06-30", "2026-07-01"]
    events = [ev(f"e{i}", "purchase", f"{d}T10:00:00+00:00", amount="1", category="games",
                 order_id=f"o{i}") for i, d in enumerate(days)]
    s = state(rb, events, "2026-07-02T00:00:00+00:00")
    weekly = [a.points for a in s.awards or () if a.rule == "w"]
    monthly = [a.points for a in s.awards or () if a.rule == "mo"]
    # 1 and 3 June share ISO week 23 (15 max); 8 June starts week 24; 30 June and 1 July
    # are in week 27 together
    assert weekly == [10, 5, 10, 10, 5]
    # June allows 25: 10 + 10 + 5, then nothing; July starts afresh
    assert monthly == [10, 10, 5, 0, 10]


def test_once_and_once_per_and_self_referral() -> None:
    body = """
events:
  verified: {attributes: {}}
  referral:
    attributes:
      referred: {type: member}
points:
  rules:
    - {id: v, on: verified, award: 100, once: true}
    - {id: r, on: referral, award: 50, once_per: referred}
"""
    rb = rulebook(body)
    s = state(rb, [
        ev("v1", "verified", "2026-06-01T10:00:00+00:00"),
        ev("v2", "verified", "2026-06-02T10:00:00+00:00"),            # once: nothing
        ev("r1", "referral", "2026-06-03T10:00:00+00:00", referred="ann"),
        ev("r2", "referral", "2026-06-04T10:00:00+00:00", referred="ann"),  # same person
        ev("r3", "referral", "2026-06-05T10:00:00+00:00", referred="bob"),
        ev("r4", "referral", "2026-06-06T10:00:00+00:00", referred="m"),    # yourself
    ], "2026-06-07T00:00:00+00:00")
    assert s.points.balance == 100 + 50 + 50
    assert [(a.event, a.points) for a in s.awards or () if a.points] == [
        ("v1", 100), ("r1", 50), ("r3", 50)]
    assert any("names the member itself" in (a.note or "") for a in s.awards or ())


def test_an_award_below_one_point_does_not_use_up_once() -> None:
    rb = rulebook(PURCHASES + """
points:
  rules:
    - {id: first, on: purchase, award: amount / 10, once: true}
""")
    s = state(rb, [
        ev("p1", "purchase", "2026-06-01T10:00:00+00:00", amount="5", category="books",
           order_id="o1"),                                   # 0.5 -> 0 points
        ev("p2", "purchase", "2026-06-02T10:00:00+00:00", amount="50", category="books",
           order_id="o2"),
    ], "2026-06-03T00:00:00+00:00")
    assert s.points.balance == 5
    assert [(a.event, a.points) for a in s.awards or ()] == [("p2", 5)]


def test_reversal_claws_back_remaining_then_spent_part_from_other_lots() -> None:
    rb = rulebook(SPEND_RULE)
    events = [
        ev("a", "purchase", "2026-06-01T10:00:00+00:00", amount="40", category="games",
           order_id="o-a"),                                   # lot A: 40
        ev("b", "purchase", "2026-06-02T10:00:00+00:00", amount="30", category="games",
           order_id="o-b"),                                   # lot B: 30
        spend("s", "2026-06-03T10:00:00+00:00", 25),          # A: 15 left (25 spent)
        ev("r", "refund", "2026-06-04T10:00:00+00:00", order_id="o-a"),
        ev("r2", "refund", "2026-06-05T10:00:00+00:00", order_id="o-a"),  # nothing left
    ]
    s = state(rb, events, "2026-06-06T00:00:00+00:00")
    # the refund takes A's 15 left, and the 25 spent of A from B (oldest other lot): 30-25
    assert s.points.balance == 5
    assert s.points.reversed == 40
    assert s.points.unrecovered == 0
    assert [(lot.event, lot.remaining) for lot in s.points.lots] == [("b", 5)]
    reversals = [a for a in s.awards or () if a.kind == "reversal"]
    assert [(a.event, a.points) for a in reversals] == [("r", -40), ("r2", 0)]


def test_reversal_never_makes_the_balance_negative() -> None:
    rb = rulebook(SPEND_RULE)
    s = state(rb, [
        ev("a", "purchase", "2026-06-01T10:00:00+00:00", amount="40", category="games",
           order_id="o-a"),
        spend("s", "2026-06-02T10:00:00+00:00", 40),
        ev("r", "refund", "2026-06-03T10:00:00+00:00", order_id="o-a"),
    ], "2026-06-04T00:00:00+00:00")
    assert s.points.balance == 0
    assert s.points.unrecovered == 40


def test_expiry_and_fifo_spending() -> None:
    rb = rulebook(SPEND_RULE)       # points expire after 30 days
    events = [
        ev("a", "purchase", "2026-06-01T10:00:00+00:00", amount="10", category="games",
           order_id="o-a"),
        ev("b", "purchase", "2026-06-20T10:00:00+00:00", amount="10", category="games",
           order_id="o-b"),
        spend("s", "2026-06-25T10:00:00+00:00", 4),     # taken from A (oldest): A 6, B 10
    ]
    before = state(rb, events, "2026-07-01T09:59:59+00:00")
    assert before.points.balance == 16
    assert [e.points for e in before.points.expiring] == [6, 10]
    after = state(rb, events, "2026-07-01T10:00:00+00:00")  # A expires at exactly 30 days
    assert after.points.balance == 10
    assert after.points.expired == 6
    assert [lot.event for lot in after.points.lots] == ["b"]


def test_spend_takes_what_is_there_when_not_strict() -> None:
    rb = rulebook(SPEND_RULE)
    s = state(rb, [
        ev("a", "purchase", "2026-06-01T10:00:00+00:00", amount="10", category="games",
           order_id="o-a"),
        spend("s", "2026-06-02T10:00:00+00:00", 15),
    ], "2026-06-03T00:00:00+00:00")
    assert s.points.balance == 0 and s.points.spent == 10
    assert any("only 10 of 15" in w for w in s.warnings)


FEATURES = PURCHASES + """
features:
  n_30d: {count: purchase, window: 30d}
  books: {count: purchase, where: 'category == "books"'}
  total: {sum: purchase.amount}
  biggest: {max: purchase.amount}
  smallest_7d: {min: purchase.amount, window: 7d, default: -1}
  kinds: {distinct: purchase.category}
  refunded: {exists: refund}
  share:
    ratio:
      of: {sum: purchase.amount, where: 'category == "books"'}
      to: {sum: purchase.amount}
    default: 0.5
  tenure: {days_since_first: any}
"""


def test_features_with_where_and_windows() -> None:
    rb = rulebook(FEATURES)
    events = [
        ev("a", "purchase", "2026-05-01T10:00:00+00:00", amount="30", category="books",
           order_id="o-a"),
        ev("b", "purchase", "2026-06-20T10:00:00+00:00", amount="10", category="games",
           order_id="o-b"),
        ev("c", "purchase", "2026-06-28T10:00:00+00:00", amount="20", category="games",
           order_id="o-c"),
    ]
    f = state(rb, events, "2026-06-30T12:00:00+00:00").features
    # a 30d window on 30 June holds 1–30 June: b and c, not a
    assert f["n_30d"] == 2
    assert f["books"] == 1
    assert f["total"] == Decimal("60")
    assert f["biggest"] == Decimal("30")
    assert f["smallest_7d"] == Decimal("20")      # 24–30 June: only c
    assert f["kinds"] == 2
    assert f["refunded"] is False
    assert f["share"] == Decimal("0.5")           # 30 / 60
    assert f["tenure"] == 60                      # 1 May to 30 June
    later = state(rb, events, "2026-07-10T12:00:00+00:00").features
    assert later["smallest_7d"] == -1             # window empty: the default
    assert later["n_30d"] == 2                    # 11 June – 10 July still holds b and c
    empty = state(rb, [ev("r", "refund", "2026-06-01T10:00:00+00:00", order_id="o")],
                  "2026-06-02T00:00:00+00:00").features
    assert empty["share"] == Decimal("0.5") and empty["refunded"] is True


SCORE = PURCHASES + """
features:
  n: {count: purchase}
  spent: {sum: purchase.amount}
score:
  range: [300, 900]
  factors:
    - {id: often, label: Often, weight: 3, from: n, curve: [[0, 0], [10, 1]],
       reason: Few purchases, improve: Buy more often}
    - {id: much, label: Much, weight: 1, from: spent, curve: [[0, 0.2], [100, 1]],
       reason: Low spend, improve: Spend more}
    - {id: mix, label: Mix, weight: 2, expr: "n / (n + 1)",
       reason: Little mix, improve: Mix it up}
  bands:
    - {name: Low, from: 300}
    - {name: Mid, from: 500}
    - {name: High, from: 700}
"""


def test_score_factors_reasons_and_band() -> None:
    rb = rulebook(SCORE)
    events = [ev(f"e{i}", "purchase", f"2026-06-0{i + 1}T10:00:00+00:00", amount="25",
                 category="games", order_id=f"o{i}") for i in range(4)]
    sc = state(rb, events, "2026-06-10T00:00:00+00:00").score
    assert sc is not None
    # often: n=4 -> 0.4; much: spent=100 -> 1; mix: 4/5 = 0.8 (no curve: clamped to [0,1])
    # score = 300 + 600 * (3*0.4 + 1*1 + 2*0.8) / 6 = 300 + 600 * 3.8 / 6 = 680
    assert sc.value == 680
    assert sc.band == "Mid"
    by_id = {f.id: f for f in sc.factors}
    assert by_id["often"].points == Decimal("120.0")      # 600 * 3/6 * 0.4
    assert by_id["often"].points_lost == Decimal("180.0")
    assert by_id["mix"].points_lost == Decimal("40.0")    # 600 * 2/6 * 0.2
    assert [r.factor for r in sc.reasons] == ["often", "mix"]  # much lost nothing
    assert sc.reasons[0].improve == "Buy more often"


def test_curves_are_flat_beyond_their_ends() -> None:
    rb = rulebook(SCORE)
    sc = state(rb, [ev("r", "refund", "2026-06-01T10:00:00+00:00", order_id="o")],
               "2026-06-02T00:00:00+00:00").score
    assert sc is not None
    # n=0 -> 0; spent=0 -> 0.2 (left end); mix 0/1 = 0 -> 300 + 600 * 0.2/6 = 320
    assert sc.value == 320 and sc.band == "Low"
    many = [ev(f"e{i:02d}", "purchase", f"2026-06-{i + 1:02d}T10:00:00+00:00",
               amount="100", category="games", order_id=f"o{i}") for i in range(20)]
    top = state(rb, many, "2026-06-30T00:00:00+00:00").score
    assert top is not None
    # n=20 beyond the curve's end -> 1; spend -> 1; mix 20/21
    # 300 + 600 * (3 + 1 + 2*20/21) / 6 = 300 + 100 * 5.9047… = 890.476… -> 890
    assert top.value == 890


def test_at_most_four_reasons_ordered_by_points_lost_ties_by_rulebook_order() -> None:
    factors = "\n".join(
        f"    - {{id: f{i}, label: F{i}, weight: {w}, from: n, curve: [[0, 0], [1, 1]], "
        f"reason: R{i}, improve: I{i}}}" for i, w in enumerate([1, 2, 2, 1, 3]))
    rb = rulebook(PURCHASES + "features:\n  n: {count: purchase}\nscore:\n  range: [0, 900]"
                  "\n  factors:\n" + factors + "\n")
    sc = state(rb, [ev("r", "refund", "2026-06-01T10:00:00+00:00", order_id="o")],
               "2026-06-02T00:00:00+00:00").score
    assert sc is not None and sc.value == 0
    assert [r.factor for r in sc.reasons] == ["f4", "f1", "f2", "f0"]


TIERS = PURCHASES + """
points:
  rules:
    - {id: spend, on: purchase, award: floor(amount)}
    - {id: back, on: refund, reverses: spend, match: order_id}
tiers:
  basis: qualifying_points
  window: rolling 30d
  grace: 10d
  levels:
    - {name: Member, from: 0}
    - {name: Silver, from: 100}
    - {name: Gold, from: 200}
perks:
  - {id: lounge, label: Lounge, when: 'tier >= "Silver"'}
  - {id: gift, label: Gift, when: 'tier == "Gold"', partners: [shop]}
"""


def buy(id_: str, when: str, amount: str) -> object:
    return ev(id_, "purchase", when, amount=amount, category="games", order_id=f"o-{id_}")


def test_tier_window_grace_progress_and_perks() -> None:
    rb = rulebook(TIERS)
    events = [buy("a", "2026-06-01T10:00:00+00:00", "150"),
              buy("b", "2026-06-05T10:00:00+00:00", "60")]
    t = state(rb, events, "2026-06-10T00:00:00+00:00")
    assert t.tier is not None
    assert (t.tier.name, t.tier.value) == ("Gold", 210)
    assert [p.eligible for p in t.perks] == [True, True]   # Gold >= Silver by order
    # 1 July: the 30-day window holds 2 June – 1 July: only b (60) -> earned Member,
    # but Gold was earned on 30 June (last day with a in the window): kept 10 days
    g = state(rb, events, "2026-07-01T12:00:00+00:00").tier
    assert g is not None
    assert (g.name, g.earned, g.value, g.held_until) == ("Gold", "Member", 60, "2026-07-10")
    assert g.next is None
    gone = state(rb, events, "2026-07-11T12:00:00+00:00").tier
    assert gone is not None and (gone.name, gone.held_until) == ("Member", None)
    assert gone.next is not None and (gone.next.name, gone.next.missing) == ("Silver", 100)


def test_refund_reduces_qualifying_points() -> None:
    rb = rulebook(TIERS)
    events = [buy("a", "2026-06-01T10:00:00+00:00", "150"),
              ev("r", "refund", "2026-06-02T10:00:00+00:00", order_id="o-a")]
    t = state(rb, events, "2026-06-03T00:00:00+00:00").tier
    assert t is not None
    # Silver was reached on 1 June (end of day: 150), lost on 2 June: grace keeps it
    assert (t.value, t.earned, t.name, t.held_until) == (0, "Member", "Silver", "2026-06-11")


def test_calendar_year_and_anniversary_windows() -> None:
    cal = rulebook(TIERS.replace("rolling 30d", "calendar year").replace("grace: 10d",
                                                                         "grace: 1d"))
    events = [buy("a", "2025-12-31T10:00:00+00:00", "150"),
              buy("b", "2026-01-02T10:00:00+00:00", "20")]
    t = state(cal, events, "2026-01-05T00:00:00+00:00").tier
    assert t is not None and (t.value, t.name) == (20, "Member")   # the year restarted
    anniv = rulebook(TIERS.replace("rolling 30d", "anniversary").replace("grace: 10d",
                                                                         "grace: 1d"))
    events = [buy("a", "2025-03-10T10:00:00+00:00", "150"),
              buy("b", "2026-03-09T10:00:00+00:00", "20"),
              buy("c", "2026-03-11T10:00:00+00:00", "30")]
    before = state(anniv, events, "2026-03-09T12:00:00+00:00").tier
    after = state(anniv, events, "2026-03-12T12:00:00+00:00").tier
    assert before is not None and before.value == 170          # year 1: 10 Mar – 9 Mar
    assert after is not None and after.value == 30             # year 2 started 10 Mar


def test_score_basis_tiers_compare_by_order_not_alphabet() -> None:
    rb = rulebook(SCORE + """
tiers:
  basis: score
  levels:
    - {name: Silver, from: 300}
    - {name: Gold, from: 600}
    - {name: Bronze, from: 800}
perks:
  - {id: p, label: P, when: 'tier >= "Gold"'}
""")
    events = [ev(f"e{i}", "purchase", f"2026-06-0{i + 1}T10:00:00+00:00", amount="25",
                 category="games", order_id=f"o{i}") for i in range(4)]
    s = state(rb, events, "2026-06-10T00:00:00+00:00")
    assert s.tier is not None and (s.tier.name, s.tier.value) == ("Gold", 680)
    assert s.tier.next is not None and s.tier.next.missing == 120
    # "Gold" < "Silver" as text, but Gold is above Silver in the rulebook
    assert s.perks[0].eligible is True


def test_every_award_names_rule_event_and_version() -> None:
    rb = rulebook(SPEND_RULE)
    s = state(rb, [ev("a", "purchase", "2026-06-01T10:00:00+00:00", amount="5",
                      category="games", order_id="o-a")], "2026-06-02T00:00:00+00:00")
    (award,) = s.awards or ()
    assert (award.rule, award.event, award.rulebook_version) == ("spend", "a", 1)
    (lot,) = s.points.lots
    assert (lot.rule, lot.event, lot.rulebook_version) == ("spend", "a", 1)


def test_reading_twice_never_repeats_a_warning() -> None:
    """A perk or factor that fails on division by zero is reported on the view, once; the
    accumulator a cache keeps is not changed by being read, so a second read (or the
    summary ingest computes after every write) cannot pile the warning up."""
    from plaudit.domain.fold import MemberFold

    rb = rulebook(PURCHASES + """
features:
  spent: {sum: purchase.amount}
  games: {count: purchase, where: 'category == "games"'}
score:
  range: [300, 900]
  factors:
    - {id: ratio, label: Ratio, weight: 1, expr: spent / games,
       reason: Low, improve: Buy}
perks:
  - {id: odd, label: Odd, when: spent / games > 1}
""")
    acc = MemberFold(rb, "m")
    acc.apply(ev("e1", "purchase", "2026-06-01T10:00:00+00:00", amount="5",
                 category="books", order_id="o1"))
    as_of = at("2026-06-02T00:00:00+00:00")
    acc.summary(as_of)
    first = acc.view(as_of)
    assert [w.split(":")[0] for w in first.warnings] == ["factor ratio", "perk odd"]
    acc.summary(as_of)
    assert acc.view(as_of).warnings == first.warnings
    fresh = state(rb, [ev("e1", "purchase", "2026-06-01T10:00:00+00:00", amount="5",
                          category="books", order_id="o1")], "2026-06-02T00:00:00+00:00")
    assert first.warnings == fresh.warnings
