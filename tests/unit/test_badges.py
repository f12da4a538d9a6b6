"""Badges: the worked example of docs/rulebook.md (`badges`), and every refusal of the section."""

from __future__ import annotations

from decimal import Decimal

from plaudit.domain.events import Event
from plaudit.domain.fold import fold_events
from plaudit.domain.mechanics import plan_for
from plaudit.domain.mechanics.badges import BadgeChange, BadgesPart
from plaudit.domain.state import BadgeLevel, BadgeProgress
from plaudit.rulebook import load_rulebook

from .helpers import at, ev, line_of, only, refused, rulebook, state

BADGES = """
events:
  purchase:
    attributes:
      amount: {type: decimal, min: 0}
      category: {type: enum, values: [books, games]}
      order_id: {type: id}
  refund:
    attributes:
      order_id: {type: id}
  referral:
    attributes:
      referred: {type: member}
features:
  books: {count: purchase, where: 'category == "books"'}
  spend_90d: {sum: purchase.amount, window: 90d}
  refunds_7d: {count: refund, window: 7d}
  verified: {exists: referral}
badges:
  - id: reader
    label: Reader
    from: books
    levels: [2, 4]
  - id: big-spender
    label: Big spender
    when: spend_90d >= 100 and refunds_7d == 0
    revoked_by: [refund]
"""


def buy(id_: str, when: str, amount: str, category: str = "books") -> Event:
    return ev(id_, "purchase", f"{when}T10:00:00+00:00", amount=amount, category=category,
              order_id=f"o-{id_}")


HISTORY = [
    buy("p1", "2026-06-01", "60"),                  # books 1, spend 60
    buy("p2", "2026-06-02", "50"),                  # books 2: Reader 1; spend 110: Big spender
    ev("r1", "refund", "2026-06-05T10:00:00+00:00", order_id="o-p1"),  # refunds_7d 1: revoked
    buy("p3", "2026-06-20", "10"),                  # refunds_7d 0 since 12 June: re-awarded
    buy("p4", "2026-06-25", "5"),                   # books 4: Reader 2
]


def test_worked_example_levels_revocation_and_re_award() -> None:
    rb = rulebook(BADGES)
    early = state(rb, HISTORY[:3], "2026-06-08T00:00:00+00:00")
    assert [(b.id, b.level, b.event) for b in early.badges] == [("reader", 1, "p2")]
    assert early.badges[0].progress == BadgeProgress(2, 2, Decimal(4))
    assert early.badges[0].levels == 2

    s = state(rb, HISTORY, "2026-06-30T00:00:00+00:00")
    reader, spender = s.badges
    assert (reader.level, reader.event, reader.awarded_at) == (
        2, "p4", "2026-06-25T10:00:00+00:00")
    assert reader.earlier == (BadgeLevel(1, "2026-06-02T10:00:00+00:00", "p2", 1),)
    assert reader.progress is None  # top level
    assert (spender.level, spender.levels, spender.event) == (1, 1, "p3")
    assert spender.rulebook_version == 1

    acc = fold_events(rb, "m", HISTORY, history=True)
    assert acc.badges is not None and acc.badges.history is not None
    assert [(c.badge, c.level, c.kind, c.event) for c in acc.badges.history] == [
        ("reader", 1, "award", "p2"),
        ("big-spender", 1, "award", "p2"),
        ("big-spender", 1, "revoke", "r1"),
        ("big-spender", 1, "award", "p3"),
        ("reader", 2, "award", "p4"),
    ]
    assert isinstance(acc.badges.history[0], BadgeChange)


def test_time_passing_awards_only_at_the_next_listened_event() -> None:
    """The refund leaves the 7-day window on 12 June; nothing is folded between events, so
    the badge comes back with the next purchase (20 June), not on 12 June."""
    rb = rulebook(BADGES)
    s = state(rb, HISTORY[:3], "2026-06-19T00:00:00+00:00")
    assert [b.id for b in s.badges] == ["reader"]
    assert s.features["refunds_7d"] == 0 and s.features["spend_90d"] == Decimal(110)


def test_one_event_can_award_several_levels() -> None:
    rb = rulebook(BADGES.replace("levels: [2, 4]", "levels: [1, 2, 3]").replace(
        "books: {count: purchase", "books: {sum: purchase.amount"))
    s = state(rb, [buy("p1", "2026-06-01", "2.5")], "2026-06-02T00:00:00+00:00")
    reader = s.badges[0]
    assert (reader.level, reader.event) == (2, "p1")
    assert [lv.level for lv in reader.earlier] == [1]
    assert reader.progress == BadgeProgress(Decimal("2.5"), 3, Decimal(3))


def test_without_revoked_by_a_badge_stays_when_its_condition_fails() -> None:
    rb = rulebook(BADGES.replace("    revoked_by: [refund]\n", ""))
    s = state(rb, HISTORY[:3], "2026-06-08T00:00:00+00:00")
    assert [b.id for b in s.badges] == ["reader", "big-spender"]


def test_revocation_takes_back_only_the_levels_no_longer_met() -> None:
    body = BADGES + """  - id: spender
    label: Spender
    from: spend_90d
    levels: [50, 100, 200]
    revoked_by: [refund]
"""
    rb = rulebook(body)
    events = [buy("p1", "2026-01-01", "60"), buy("p2", "2026-03-15", "60"),
              # on 5 April the 90-day window holds 6 Jan - 5 Apr: only p2 (60)
              ev("r1", "refund", "2026-04-05T10:00:00+00:00", order_id="o-x")]
    s = state(rb, events, "2026-04-06T00:00:00+00:00")
    spender = next(b for b in s.badges if b.id == "spender")
    assert (spender.level, spender.event) == (1, "p1")
    assert spender.progress == BadgeProgress(Decimal(60), 2, Decimal(100))


def test_badges_listen_only_to_the_event_types_they_read() -> None:
    rb = rulebook(BADGES)
    assert rb.badges[0].listens == frozenset({"purchase"})
    assert rb.badges[1].listens == frozenset({"purchase", "refund"})
    plan = plan_for(rb)
    badges_at = plan.kinds.index(BadgesPart)
    assert badges_at in plan.by_type["purchase"] and badges_at in plan.by_type["refund"]
    assert badges_at not in plan.by_type["referral"]
    body = BADGES.replace("features:\n", "features:\n  days: {days_since_first: any}\n")
    anything = rulebook(body + "  - {id: active, label: Active, from: days, levels: [10]}\n")
    assert anything.badges[2].listens is None
    assert plan_for(anything).unknown  # every behaviour event reaches badges


def test_quest_badges_are_never_checked_by_events() -> None:
    rb = rulebook(BADGES + """  - id: q
    label: Quest badge
quests:
  - id: qq
    label: Q
    from: 2026-01-01
    to: 2026-12-31
    goal: {count: refund, at_least: 5}
    reward: {badge: q}
""")
    assert rb.badges[2].kind == "quest" and rb.badges[2].listens == frozenset()
    assert [b.id for b in state(rb, HISTORY, "2026-07-01T00:00:00+00:00").badges] == [
        "reader", "big-spender"]


def test_a_failing_condition_warns_and_awards_nothing() -> None:
    rb = rulebook(BADGES.replace("when: spend_90d >= 100 and refunds_7d == 0",
                                 "when: spend_90d / refunds_7d > 1"))
    s = state(rb, [buy("p1", "2026-06-01", "60")], "2026-06-02T00:00:00+00:00")
    assert s.badges == ()
    assert any("badge big-spender" in w for w in s.warnings)


def test_the_examples_badges() -> None:
    from ..conftest import EXAMPLES

    rb = load_rulebook((EXAMPLES / "sesame-style.yaml").read_text()).with_version(1)
    assert [(b.id, b.kind) for b in rb.badges] == [
        ("bookworm", "levelled"), ("punctual", "once"), ("spring-reader", "quest")]
    events = [ev(f"r{i}", "repayment", f"2026-{i + 1:02d}-10T10:00:00+08:00", amount="10",
                 days_late=0) for i in range(12)]
    s = state(rb, events, "2026-12-31T00:00:00+08:00")
    assert [(b.id, b.event) for b in s.badges] == [("punctual", "r11")]
    fit = load_rulebook((EXAMPLES / "fitness-club.yaml").read_text())
    assert [b.id for b in fit.badges] == ["all-rounder"]


# -- refusals ---------------------------------------------------------------------------

def with_badge(badge: str) -> str:
    return BADGES + badge


def test_unknown_feature_is_refused_with_a_suggestion() -> None:
    body = with_badge("  - {id: x, label: X, from: bookz, levels: [1]}\n")
    p = only(refused(body))
    assert (p.where, p.field) == (line_of(body, "id: x"), "badges[2].from")
    assert p.reason == "unknown feature `bookz`" and p.suggestion == "books"
    body = with_badge("  - {id: x, label: X, when: bookz > 1}\n")
    p = only(refused(body))
    assert p.field == "badges[2].when" and p.suggestion == "books"


def test_levels_must_be_positive_and_strictly_increasing() -> None:
    body = with_badge("  - id: x\n    label: X\n    from: books\n    levels: [0, 5, 5, 4]\n")
    problems = refused(body)
    assert [p.field for p in problems] == ["badges[2].levels[0]", "badges[2].levels[2]",
                                           "badges[2].levels[3]"]
    assert "above 0" in problems[0].reason
    assert "strictly increasing: level 3 (5) is not above level 2 (5)" in problems[1].reason
    assert {p.where for p in problems} == {line_of(body, "levels: [0")}
    p = only(refused(with_badge("  - {id: x, label: X, from: books, levels: []}\n")))
    assert "at least one threshold" in p.reason
    p = only(refused(with_badge("  - {id: x, label: X, from: books}\n")))
    assert (p.field, "needs `levels`" in p.reason) == ("badges[2]", True)


def test_when_and_from_together_or_levels_alone_are_refused() -> None:
    body = with_badge("  - {id: x, label: X, when: books > 1, from: books, levels: [1]}\n")
    p = only(refused(body))
    assert (p.where, p.field) == (line_of(body, "id: x"), "badges[2]")
    assert "not both" in p.reason
    p = only(refused(with_badge("  - {id: x, label: X, levels: [1]}\n")))
    assert p.field == "badges[2].levels" and "needs `from`" in p.reason


def test_neither_when_nor_from_needs_a_quest_granting_it() -> None:
    body = with_badge("  - {id: lonely, label: Lonely}\n")
    p = only(refused(body))
    assert (p.where, p.field) == (line_of(body, "id: lonely"), "badges[2]")
    assert "no quest grants it" in p.reason


def test_levelled_badges_need_a_number_feature() -> None:
    p = only(refused(with_badge("  - {id: x, label: X, from: verified, levels: [1]}\n")))
    assert p.field == "badges[2].from" and "number feature" in p.reason


def test_a_condition_reading_no_feature_is_refused() -> None:
    p = only(refused(with_badge("  - {id: x, label: X, when: 'True'}\n")))
    assert p.field == "badges[2].when" and "reads no feature" in p.reason


def test_conditions_read_features_only() -> None:
    p = only(refused(with_badge("  - {id: x, label: X, when: amount > 1}\n")))
    assert "unknown name `amount`" in p.reason
    p = only(refused(with_badge("  - {id: x, label: X, when: books}\n")))
    assert p.field == "badges[2].when"


def test_revoked_by_names_event_types() -> None:
    body = with_badge("  - {id: x, label: X, when: books > 1, revoked_by: [refnd]}\n")
    p = only(refused(body))
    assert (p.field, p.suggestion) == ("badges[2].revoked_by[0]", "refund")
    assert p.where == line_of(body, "id: x")


def test_quest_badges_cannot_be_revoked() -> None:
    body = with_badge("  - {id: q, label: Q, revoked_by: [refund]}\n")
    p = only(refused(body))
    assert p.field == "badges[2].revoked_by" and "no condition to re-check" in p.reason


def test_duplicate_and_malformed_badge_ids() -> None:
    body = with_badge("  - {id: reader, label: Again, when: books > 1}\n")
    p = only(refused(body))
    assert (p.where, p.field) == (line_of(body, "- id: reader"), "badges[0].id")
    assert "used more than once" in p.reason
    p = only(refused(with_badge("  - {id: 'no spaces', label: X, when: books > 1}\n")))
    assert "must be letters, digits" in p.reason


def test_a_refused_feature_is_not_reported_again_by_the_badge() -> None:
    body = BADGES.replace("  refunds_7d: {count: refund, window: 7d}",
                          "  refunds_7d: {count: refnd, window: 7d}")
    p = only(refused(body))
    assert p.field == "features.refunds_7d.count"


def test_unknown_badge_keys_are_shape_errors_with_suggestions() -> None:
    body = with_badge("  - {id: x, label: X, from: books, level: [1]}\n")
    p = only(refused(body))
    assert p.field == "badges[2].level" and p.suggestion == "levels"
    assert p.where == line_of(body, "id: x")


def test_badge_records_carry_the_local_time_of_the_event() -> None:
    rb = rulebook(BADGES, timezone="Asia/Shanghai")
    s = state(rb, HISTORY[:2], "2026-06-03T00:00:00+00:00")
    assert s.badges[0].awarded_at == "2026-06-02T18:00:00+08:00"
    assert at(s.badges[0].awarded_at) == at("2026-06-02T10:00:00+00:00")
