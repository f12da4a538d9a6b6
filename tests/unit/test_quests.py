"""Quests: the worked example of docs/rulebook.md (`quests`), and every refusal of the section."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

from plaudit.domain.events import Event
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.state import QuestGoal
from plaudit.entrypoints.cli import render
from plaudit.rulebook import load_rulebook

from .helpers import ev, line_of, only, refused, rulebook, state

QUESTS = """
events:
  purchase:
    attributes:
      amount: {type: decimal, min: 0}
      category: {type: enum, values: [books, games]}
      order_id: {type: id}
  referral:
    attributes:
      referred: {type: member}
      level: {type: int, min: 0}
      note: {type: id}
points:
  expire_after: 30d
badges:
  - id: june-reader
    label: June reader
quests:
  - id: june-books
    label: June books
    from: 2026-06-01
    to: 2026-06-30
    goal: {sum: purchase.amount, where: 'category == "books"', at_least: 100}
    reward: {points: 50, badge: june-reader}
"""
"""Program timezone Asia/Shanghai (UTC+8): local days start at 16:00 UTC."""


def buy(id_: str, utc: str, amount: str, category: str = "books") -> Event:
    return ev(id_, "purchase", utc, amount=amount, category=category, order_id=f"o-{id_}")


HISTORY = [
    buy("a", "2026-05-31T15:30:00+00:00", "40"),            # 31 May 23:30 local: before
    buy("b", "2026-05-31T16:30:00+00:00", "40"),            # 1 June 00:30 local: 40
    buy("c", "2026-06-10T02:00:00+00:00", "80", "games"),   # `where` false
    buy("d", "2026-06-20T02:00:00+00:00", "70"),            # 110 >= 100: completed
    buy("e", "2026-06-25T02:00:00+00:00", "30"),            # after completion: no change
]


def rb_() -> Rulebook:
    return rulebook(QUESTS, timezone="Asia/Shanghai")


def test_worked_example_progress_status_and_reward() -> None:
    rb = rb_()
    before = state(rb, HISTORY[:1], "2026-05-31T15:45:00+00:00").quests[0]
    assert (before.status, before.progress) == ("upcoming", Decimal(0))
    assert before.deadline == "2026-07-01T00:00:00+08:00"
    assert (before.from_date, before.to_date) == ("2026-06-01", "2026-06-30")
    assert before.goal == QuestGoal("sum", "purchase.amount", 'category == "books"',
                                    Decimal(100))
    mid = state(rb, HISTORY[:3], "2026-06-15T00:00:00+00:00").quests[0]
    assert (mid.status, mid.progress, mid.completed_at) == ("active", Decimal(40), None)

    s = state(rb, HISTORY, "2026-07-01T00:00:00+00:00")
    q = s.quests[0]
    assert (q.status, q.progress, q.event) == ("completed", Decimal(110), "d")
    assert q.completed_at == "2026-06-20T10:00:00+08:00"
    assert (q.points, q.badge) == (50, "june-reader")
    assert [(b.id, b.event) for b in s.badges] == [("june-reader", "d")]
    lots = [lot for lot in s.points.lots if lot.rule == "quest:june-books"]
    assert [(lot.points, lot.event, lot.expires_at) for lot in lots] == [
        (50, "d", "2026-07-20T10:00:00+08:00")]       # a lot like any award: it expires
    assert [(a.rule, a.points) for a in s.awards or ()] == [("quest:june-books", 50)]
    assert state(rb, HISTORY, "2026-07-21T00:00:00+00:00").points.balance == 0


def test_a_quest_not_met_by_its_deadline_expires() -> None:
    rb = rb_()
    s = state(rb, [*HISTORY[:3], buy("late", "2026-06-30T16:30:00+00:00", "90")],
              "2026-07-02T00:00:00+00:00")   # 1 July 00:30 local: after the last day
    q = s.quests[0]
    assert (q.status, q.progress) == ("expired", Decimal(40))
    assert s.badges == () and s.points.balance == 0
    last_minute = state(rb, [*HISTORY[:3], buy("lm", "2026-06-30T15:59:00+00:00", "60")],
                        "2026-07-02T00:00:00+00:00").quests[0]
    assert (last_minute.status, last_minute.event) == ("completed", "lm")


def test_quest_points_count_for_tiers() -> None:
    body = QUESTS + """tiers:
  basis: qualifying_points
  window: rolling 30d
  levels:
    - {name: Member, from: 0}
    - {name: Silver, from: 50}
"""
    s = state(rulebook(body, timezone="Asia/Shanghai"), HISTORY, "2026-06-21T00:00:00+00:00")
    assert s.tier is not None and s.tier.name == "Silver"


def test_count_goals_and_points_only_or_badge_only() -> None:
    body = QUESTS.replace("goal: {sum: purchase.amount, where: 'category == \"books\"', "
                          "at_least: 100}", "goal: {count: purchase, at_least: 2}").replace(
        "reward: {points: 50, badge: june-reader}", "reward: {badge: june-reader}")
    s = state(rulebook(body, timezone="Asia/Shanghai"), HISTORY, "2026-07-01T00:00:00+00:00")
    q = s.quests[0]
    assert (q.progress, q.event, q.points) == (2, "c", None)   # b and c, whatever the category
    assert s.points.balance == 0 and [b.event for b in s.badges] == ["c"]
    body = QUESTS.replace("reward: {points: 50, badge: june-reader}", "reward: {points: 50}")
    body = body.replace("badges:\n  - id: june-reader\n    label: June reader\n", "")
    s = state(rulebook(body, timezone="Asia/Shanghai"), HISTORY, "2026-07-01T00:00:00+00:00")
    assert s.badges == () and s.points.balance == 50


def test_two_quests_granting_one_badge_grant_it_once() -> None:
    body = QUESTS + """  - id: june-books-again
    label: June books again
    from: 2026-06-15
    to: 2026-06-30
    goal: {count: purchase, at_least: 1}
    reward: {badge: june-reader}
"""
    s = state(rulebook(body, timezone="Asia/Shanghai"), HISTORY, "2026-07-01T00:00:00+00:00")
    assert [q.event for q in s.quests] == ["d", "d"]
    assert [(b.id, b.event) for b in s.badges] == [("june-reader", "d")]


def test_the_examples_quest() -> None:
    from ..conftest import EXAMPLES

    rb = load_rulebook((EXAMPLES / "sesame-style.yaml").read_text()).with_version(1)
    books = [ev(f"p{i}", "purchase", f"2027-03-{i + 10}T10:00:00+08:00", amount="12",
                category="books", order_id=f"o{i}") for i in range(3)]
    s = state(rb, books, "2027-03-31T00:00:00+08:00")
    q = s.quests[0]
    assert (q.id, q.status, q.progress, q.event) == ("spring-reading", "completed", 3, "p2")
    assert q.deadline == "2027-04-01T00:00:00+08:00"
    assert [b.id for b in s.badges] == ["spring-reader"]
    assert s.points.balance == 3 * 24 + 300


def test_member_output_shows_badges_and_quests() -> None:
    s = state(rb_(), HISTORY, "2026-07-01T00:00:00+00:00")
    console = Console(record=True, width=120)
    render.member(console, s, show_history=False)
    text = console.export_text()
    assert "Badges" in text and "June reader — 2026-06-20 (event d)" in text
    assert "June books (2026-06-01 to 2026-06-30): completed, sum 110 of 100" in text


# -- refusals ---------------------------------------------------------------------------

def with_goal(goal: str) -> str:
    return QUESTS.replace("{sum: purchase.amount, where: 'category == \"books\"', "
                          "at_least: 100}", goal)


def test_unknown_event_types_and_attributes_in_goals() -> None:
    body = with_goal("{count: purchse, at_least: 1}")
    p = only(refused(body))
    assert (p.where, p.field, p.suggestion) == (line_of(body, "goal:"),
                                                "quests[0].goal.count", "purchase")
    p = only(refused(with_goal("{sum: purchase.amont, at_least: 1}")))
    assert (p.field, p.suggestion) == ("quests[0].goal.sum", "amount")
    p = only(refused(with_goal("{sum: purchase.category, at_least: 1}")))
    assert "needs a number attribute" in p.reason
    p = only(refused(with_goal("{count: purchase.amount, at_least: 1}")))
    assert "takes an event type" in p.reason
    p = only(refused(with_goal("{sum: purchase, at_least: 1}")))
    assert "event_type.attribute" in p.reason
    p = only(refused(with_goal("{count: any, at_least: 1}")))
    assert "not `any`" in p.reason
    p = only(refused(with_goal("{at_least: 1}")))
    assert p.field == "quests[0].goal" and "exactly one of count, sum" in p.reason
    p = only(refused(with_goal("{count: purchase, sum: purchase.amount, at_least: 1}")))
    assert "(got count, sum)" in p.reason


def test_goals_never_read_another_member() -> None:
    p = only(refused(with_goal("{sum: referral.referred, at_least: 1}")))
    assert p.field == "quests[0].goal.sum" and "another member" in p.reason
    p = only(refused(with_goal("{count: referral, where: 'referred == \"m-1\"', "
                               "at_least: 1}")))
    assert p.field == "quests[0].goal.where" and "unknown name `referred`" in p.reason
    assert only(refused(with_goal("{count: referral, where: 'levl > 1', at_least: 1}"))
                ).suggestion == "level"


def test_at_least_must_be_a_goal() -> None:
    p = only(refused(with_goal("{count: purchase, at_least: 0}")))
    assert p.field == "quests[0].goal.at_least" and "above 0" in p.reason
    p = only(refused(with_goal("{count: purchase, at_least: 2.5}")))
    assert "whole number" in p.reason
    p = only(refused(with_goal("{count: purchase}")))
    assert (p.field, p.reason) == ("quests[0].goal.at_least", "required key is missing")


def test_dates_must_be_valid_and_in_order() -> None:
    body = QUESTS.replace("to: 2026-06-30", "to: 2026-05-30")
    p = only(refused(body))
    assert (p.where, p.field) == (line_of(body, "to: 2026-05-30"), "quests[0].to")
    assert "ends (2026-05-30) before it starts (2026-06-01)" in p.reason
    body = QUESTS.replace("from: 2026-06-01", "from: 2026-02-30")
    p = only(refused(body))
    assert (p.where, p.field) == (line_of(body, "from: 2026-02-30"), "quests[0].from")
    assert "is not a date" in p.reason
    p = only(refused(QUESTS.replace("to: 2026-06-30", "to: 30 June 2026")))
    assert p.field == "quests[0].to"
    assert only(refused(QUESTS.replace("to: 2026-06-30", "to: 2026-6-30"))).field == \
        "quests[0].to"
    p = only(refused(QUESTS.replace("to: 2026-06-30", "to: 9999-12-31")))
    assert "outside the dates events can have (1900-01-01 to 8999-12-31)" in p.reason


def test_rewards_need_points_or_a_badge() -> None:
    body = QUESTS.replace("reward: {points: 50, badge: june-reader}", "reward: {}")
    body = body.replace("badges:\n  - id: june-reader\n    label: June reader\n", "")
    p = only(refused(body))
    assert (p.where, p.field) == (line_of(body, "reward:"), "quests[0].reward")
    p = only(refused(QUESTS.replace("points: 50,", "points: 0,")))
    assert p.field == "quests[0].reward.points"


def test_reward_badges_must_be_declared_quest_only_badges() -> None:
    body = QUESTS.replace("badge: june-reader}", "badge: june-readr}")
    problems = refused(body)
    # the declared badge is now granted by nothing, and the reward names no badge
    assert [p.field for p in problems] == ["badges[0]", "quests[0].reward.badge"]
    assert problems[1].suggestion == "june-reader"
    assert problems[1].where == line_of(body, "reward:")
    body = QUESTS.replace("    label: June reader\n", "    label: June reader\n"
                          "    from: books\n    levels: [1]\n").replace(
        "points:\n  expire_after: 30d\n",
        "points:\n  expire_after: 30d\nfeatures:\n  books: {count: purchase}\n")
    p = only(refused(body))
    assert p.field == "quests[0].reward.badge"
    assert "awarded by its own `from`" in p.reason


def test_duplicate_quest_ids() -> None:
    body = QUESTS + """  - id: june-books
    label: Again
    from: 2026-06-01
    to: 2026-06-30
    goal: {count: purchase, at_least: 1}
    reward: {points: 1}
"""
    p = only(refused(body))
    assert (p.field, "used more than once" in p.reason) == ("quests[0].id", True)


def test_unknown_quest_keys_suggest() -> None:
    body = QUESTS.replace("    to: 2026-06-30\n", "    to: 2026-06-30\n    untill: x\n")
    p = only(refused(body))
    assert p.field == "quests[0].untill"
    body = QUESTS.replace("at_least: 100", "at_lest: 100")
    problems = refused(body)
    assert any(p.suggestion == "at_least" for p in problems)
