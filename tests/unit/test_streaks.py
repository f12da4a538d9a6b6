"""Streaks: worked examples small enough to check by hand (the same numbers are in
docs/rulebook.md, "streaks"), refusals with their lines, and the invariants as properties."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plaudit.domain.calendar import to_us
from plaudit.domain.errors import Problem
from plaudit.domain.events import Event
from plaudit.domain.fold import MemberFold, fold, fold_events
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.state import StreakView, to_dict
from plaudit.rulebook import load_rulebook

from ..conftest import EXAMPLES
from .helpers import at, ev, line_of, only, refused, rulebook

VISITS = """
events:
  visit:
    attributes:
      ok: {type: bool}
      guest: {type: member}
"""


def streak_rb(spec: str, timezone: str = "UTC") -> Rulebook:
    return rulebook(VISITS + "streaks:\n  - {id: s, label: S, on: visit, " + spec + "}\n",
                    timezone)


def visit(id_: str, when: str, ok: bool = True) -> Event:
    return ev(id_, "visit", when, ok=ok, guest="m2")


def streak(rb: Rulebook, events: list[Event], as_of: str) -> StreakView:
    return fold(rb, "m", events, at(as_of)).streaks[0]


def brief(v: StreakView) -> tuple[str, int, int]:
    return v.status, v.current, v.longest


# -- worked examples ---------------------------------------------------------------------

def test_daily_streak_at_risk_then_broken_longest_kept() -> None:
    rb = streak_rb("period: day")
    events = [visit("a", "2026-06-01T08:00:00+00:00"), visit("b", "2026-06-02T20:00:00+00:00"),
              visit("c", "2026-06-03T09:00:00+00:00"), visit("d", "2026-06-05T10:00:00+00:00")]
    v = streak(rb, events, "2026-06-03T12:00:00+00:00")
    assert brief(v) == ("active", 3, 3)
    assert (v.started_on, v.last_qualified, v.period_start, v.period_end) == (
        "2026-06-01", "2026-06-03", "2026-06-03", "2026-06-03")
    assert v.breaks_at == "2026-06-05T00:00:00+00:00"  # 4 June is the last chance
    v = streak(rb, events, "2026-06-04T23:59:59+00:00")
    assert brief(v) == ("at_risk", 3, 3)
    assert v.at_risk_until == v.breaks_at == "2026-06-05T00:00:00+00:00"
    assert v.events_in_period == 0
    v = streak(rb, events, "2026-06-05T09:00:00+00:00")  # 4 June passed without a visit
    assert brief(v) == ("broken", 0, 3)
    assert (v.started_on, v.last_qualified, v.at_risk_until, v.breaks_at) == (
        None, "2026-06-03", None, None)
    v = streak(rb, events, "2026-06-05T10:00:00+00:00")
    assert brief(v) == ("active", 1, 3)
    assert v.started_on == "2026-06-05"
    assert brief(streak(rb, [], "2026-06-05T10:00:00+00:00")) == ("not_started", 0, 0)


def test_weekly_streak_needs_two_visits_a_week() -> None:
    rb = streak_rb("period: week, at_least: 2")
    events = [visit("a", "2026-06-01T10:00:00+00:00"), visit("b", "2026-06-03T10:00:00+00:00"),
              visit("c", "2026-06-09T10:00:00+00:00"),  # one visit only in the week of 8 June
              visit("d", "2026-06-15T10:00:00+00:00"), visit("e", "2026-06-16T10:00:00+00:00")]
    v = streak(rb, events, "2026-06-10T00:00:00+00:00")
    assert brief(v) == ("at_risk", 1, 1)
    assert (v.events_in_period, v.period_start, v.period_end, v.at_risk_until) == (
        1, "2026-06-08", "2026-06-14", "2026-06-15T00:00:00+00:00")
    v = streak(rb, events, "2026-06-15T12:00:00+00:00")
    assert brief(v) == ("broken", 0, 1) and v.events_in_period == 1
    v = streak(rb, events, "2026-06-16T12:00:00+00:00")
    assert brief(v) == ("active", 1, 1) and v.started_on == "2026-06-15"


def sesame() -> Rulebook:
    return load_rulebook((EXAMPLES / "sesame-style.yaml").read_text()).with_version(1)


def repayment(id_: str, when: str, days_late: int = 0) -> Event:
    return ev(id_, "repayment", when, amount="100", days_late=days_late)


def test_monthly_streak_with_one_freeze_per_six_months() -> None:
    """sesame-style: on-time repayments, month by month in Shanghai; one freeze in
    January-June and one in July-December."""
    rb = sesame()
    events = [repayment("jan", "2026-01-10T10:00:00+08:00"),
              repayment("feb", "2026-02-10T10:00:00+08:00"),
              repayment("mar", "2026-03-10T10:00:00+08:00", days_late=3),  # late: not counted
              repayment("apr", "2026-04-10T10:00:00+08:00"),
              # nothing in May
              repayment("jun", "2026-06-10T10:00:00+08:00"),
              repayment("jul", "2026-07-10T10:00:00+08:00")]
    v = streak(rb, events, "2026-03-20T00:00:00+08:00")
    assert brief(v) == ("at_risk", 2, 2) and v.events_in_period == 0
    assert (v.freezes_used, v.freezes_left) == (0, 1)
    assert v.at_risk_until == "2026-04-01T00:00:00+08:00"
    assert v.breaks_at == "2026-05-01T00:00:00+08:00"  # March can be frozen, April not
    v = streak(rb, events, "2026-04-10T10:00:00+08:00")
    assert brief(v) == ("active", 3, 3) and v.frozen == 1
    assert (v.freezes_used, v.freezes_left, v.started_on) == (1, 0, "2026-01-01")
    v = streak(rb, events, "2026-05-20T00:00:00+08:00")
    assert brief(v) == ("at_risk", 3, 3)
    assert v.at_risk_until == v.breaks_at == "2026-06-01T00:00:00+08:00"
    v = streak(rb, events, "2026-06-01T00:00:00+08:00")
    assert brief(v) == ("broken", 0, 3) and (v.freezes_used, v.freezes_left) == (1, 0)
    v = streak(rb, events, "2026-07-20T00:00:00+08:00")
    assert brief(v) == ("active", 2, 3) and v.started_on == "2026-06-01"
    assert (v.frozen, v.freezes_used, v.freezes_left) == (0, 0, 1)  # a new block


def test_weekly_freezes_are_charged_to_the_block_of_the_weeks_monday() -> None:
    """fitness-club: two freezes a calendar year. The week of Monday 28 December 2026 ends in
    2027 but is charged to 2026."""
    rb = load_rulebook((EXAMPLES / "fitness-club.yaml").read_text()).with_version(1)

    def check_in(id_: str, when: str) -> Event:
        return ev(id_, "check_in", when, club="c1")

    # two visits a week in the weeks of 7 and 14 December and of 4 January; none between
    days = ["2026-12-07", "2026-12-09", "2026-12-14", "2026-12-16", "2027-01-05", "2027-01-07"]
    events = [check_in(f"v{i}", f"{d}T18:00:00+01:00") for i, d in enumerate(days)]
    v = streak(rb, events, "2026-12-30T12:00:00+01:00")
    assert brief(v) == ("at_risk", 2, 2)
    assert (v.frozen, v.freezes_used, v.freezes_left) == (1, 1, 1)
    assert (v.period_start, v.period_end) == ("2026-12-28", "2027-01-03")
    # if nobody comes: 28 Dec (2026's second), 4 and 11 Jan (2027's two) are frozen
    assert v.breaks_at == "2027-01-25T00:00:00+01:00"
    v = streak(rb, events, "2027-01-07T20:00:00+01:00")
    assert brief(v) == ("active", 3, 3)
    assert (v.frozen, v.freezes_used, v.freezes_left) == (2, 0, 2)


def test_daily_streak_across_the_spring_dst_change_in_berlin() -> None:
    """Clocks go from 02:00 to 03:00 on Sunday 29 March 2026 (01:00Z). The first two visits
    are on the same UTC day, but on two local days; 29 March lasts 23 hours."""
    rb = streak_rb("period: day", "Europe/Berlin")
    events = [visit("a", "2026-03-28T22:30:00+00:00"),   # 23:30 Saturday 28th, +01:00
              visit("b", "2026-03-28T23:10:00+00:00"),   # 00:10 Sunday 29th, +01:00
              visit("c", "2026-03-29T22:30:00+00:00")]   # 00:30 Monday 30th, +02:00
    v = streak(rb, events, "2026-03-28T23:00:00+00:00")  # 00:00 Sunday, before visit b
    assert brief(v) == ("at_risk", 1, 1)
    assert v.at_risk_until == "2026-03-30T00:00:00+02:00"  # 23 hours later
    v = streak(rb, events, "2026-03-29T21:59:59+00:00")  # 23:59:59 Sunday, +02:00
    assert brief(v) == ("active", 2, 2) and v.period_start == "2026-03-29"
    assert brief(streak(rb, events, "2026-03-29T22:30:00+00:00")) == ("active", 3, 3)
    utc = streak_rb("period: day")  # the same visits cut in UTC: 28, 28, 29 March
    assert brief(streak(utc, events, "2026-03-29T22:30:00+00:00")) == ("active", 2, 2)


def test_daily_streak_across_the_autumn_dst_change_in_berlin() -> None:
    """Clocks go back from 03:00 to 02:00 on Sunday 25 October 2026 (01:00Z): that day lasts
    25 hours, so 23:30 on the 24th and 23:30 on the 25th are 25 hours apart yet on
    consecutive days, and 00:30 on the 26th follows."""
    rb = streak_rb("period: day", "Europe/Berlin")
    events = [visit("a", "2026-10-24T21:30:00+00:00"),   # 23:30 Saturday, +02:00
              visit("b", "2026-10-25T22:30:00+00:00"),   # 23:30 Sunday, +01:00
              visit("c", "2026-10-25T23:30:00+00:00")]   # 00:30 Monday, +01:00
    v = streak(rb, events, "2026-10-25T12:00:00+00:00")
    assert brief(v) == ("at_risk", 1, 1)
    assert v.at_risk_until == "2026-10-26T00:00:00+01:00"
    assert brief(streak(rb, events, "2026-10-25T23:30:00+00:00")) == ("active", 3, 3)


def test_week_boundary_at_local_midnight_in_auckland() -> None:
    """Pacific/Auckland is UTC+12 in June: 11:30Z on Sunday 7 June is 23:30 Sunday there,
    12:30Z is 00:30 on Monday 8 June, a new ISO week, while in UTC both are Sunday."""
    rb = streak_rb("period: week", "Pacific/Auckland")
    events = [visit("a", "2026-06-07T11:30:00+00:00"), visit("b", "2026-06-07T12:30:00+00:00")]
    v = streak(rb, events, "2026-06-07T12:30:00+00:00")
    assert brief(v) == ("active", 2, 2)
    assert (v.started_on, v.period_start, v.period_end) == ("2026-06-01", "2026-06-08",
                                                            "2026-06-14")
    v = streak(rb, events[:1], "2026-06-07T11:59:59.999999+00:00")  # 23:59:59.999999 Sunday
    assert v.at_risk_until is None and v.breaks_at == "2026-06-15T00:00:00+12:00"
    utc = streak_rb("period: week")
    assert brief(streak(utc, events, "2026-06-07T12:30:00+00:00")) == ("active", 1, 1)


def test_local_midnight_itself_belongs_to_the_new_week_in_shanghai() -> None:
    rb = streak_rb("period: week", "Asia/Shanghai")
    events = [visit("a", "2026-06-03T10:00:00+08:00")]
    v = streak(rb, events, "2026-06-07T15:59:59.999999+00:00")  # 23:59:59.999999 Sunday
    assert brief(v) == ("active", 1, 1)
    v = streak(rb, events, "2026-06-07T16:00:00+00:00")  # 00:00 Monday 8 June, +08:00
    assert brief(v) == ("at_risk", 1, 1) and v.period_start == "2026-06-08"
    assert v.at_risk_until == "2026-06-15T00:00:00+08:00"
    late = [*events, visit("b", "2026-06-07T16:00:00+00:00")]
    assert brief(streak(rb, late, "2026-06-07T16:00:00+00:00")) == ("active", 2, 2)


def test_where_filters_and_member_attributes_are_not_names() -> None:
    rb = streak_rb('period: day, where: "ok"')
    events = [visit("a", "2026-06-01T10:00:00+00:00"),
              visit("b", "2026-06-02T10:00:00+00:00", ok=False)]
    v = streak(rb, events, "2026-06-02T12:00:00+00:00")
    assert brief(v) == ("at_risk", 1, 1) and v.events_in_period == 0


def test_a_broken_streak_breaks_by_as_of_and_a_read_changes_nothing() -> None:
    rb = streak_rb("period: day, freezes: {max: 1, per: week}")
    acc = fold_events(rb, "m", [visit("a", "2026-06-01T10:00:00+00:00"),
                                visit("b", "2026-06-02T10:00:00+00:00")])
    before = to_dict(acc.view(at("2026-06-02T12:00:00+00:00")))
    statuses = [acc.view(at(f"2026-06-{d:02d}T12:00:00+00:00")).streaks[0].status
                for d in (2, 3, 4, 5, 4, 2)]
    # 3 June at risk; 4 June at risk with 3 June frozen; 5 June broken (4 June not frozen:
    # one freeze a week); reading earlier again gives the earlier answers
    assert statuses == ["active", "at_risk", "at_risk", "broken", "at_risk", "active"]
    assert to_dict(acc.view(at("2026-06-02T12:00:00+00:00"))) == before
    acc.apply(visit("c", "2026-06-04T10:00:00+00:00"))
    v = acc.view(at("2026-06-04T12:00:00+00:00")).streaks[0]
    assert brief(v) == ("active", 3, 3) and v.frozen == 1 and v.freezes_left == 0


# -- refusals ----------------------------------------------------------------------------

BASE = "program: {id: t, name: T}\n" + VISITS


def one(body: str, needle: str) -> Problem:
    p = only(refused(body, BASE))
    assert p.where == line_of(body, needle, BASE), str(p)
    return p


def entry(**keys: str) -> str:
    fields = {"id": "s", "label": "S", "on": "visit", "period": "day", **keys}
    return "streaks:\n  - " + "\n    ".join(f"{k}: {v}" for k, v in fields.items()) + "\n"


@pytest.mark.parametrize(("keys", "needle", "field", "reason", "suggestion"), [
    ({"on": "visits"}, "on: visits", "streaks[0].on", "unknown event type `visits`", "visit"),
    ({"where": "1 + 1"}, "where:", "streaks[0].where", "must be a condition", None),
    ({"where": "okk"}, "where:", "streaks[0].where", "unknown name `okk`", "ok"),
    ({"where": "guest == 'm'"}, "where:", "streaks[0].where", "unknown name `guest`", None),
    ({"period": "wek"}, "period:", "streaks[0].period", "unknown period `wek`", "week"),
    ({"period": "year"}, "period:", "streaks[0].period", "unknown period `year`", None),
    ({"at_least": "0"}, "at_least:", "streaks[0].at_least", "greater than or equal to 1",
     None),
    ({"freezes": "{max: -1, per: year}"}, "freezes:", "streaks[0].freezes.max",
     "greater than or equal to 0", None),
    ({"freezes": "{max: 1, per: 6 monts}"}, "freezes:", "streaks[0].freezes.per",
     "is not a calendar block", "months"),
    ({"freezes": "{max: 1, per: 0 weeks}"}, "freezes:", "streaks[0].freezes.per",
     "at least one week", None),
    ({"period": "month", "freezes": "{max: 1, per: 8 weeks}"}, "freezes:",
     "streaks[0].freezes.per", "shorter than the streak's period (month)", None),
    ({"period": "week", "freezes": "{max: 4, per: month}"}, "freezes:",
     "streaks[0].freezes.max", "could freeze every week of a block", None),
    ({"freezes": "{max: 1, per: day}"}, "freezes:", "streaks[0].freezes.max",
     "the streak could never break", None),
])
def test_refusals_name_line_field_and_closest(keys: dict[str, str], needle: str, field: str,
                                              reason: str, suggestion: str | None) -> None:
    p = one(entry(**keys), needle)
    assert p.field == field and reason in p.reason, str(p)
    assert p.suggestion == suggestion


def test_duplicate_streak_ids_are_refused() -> None:
    body = entry() + "  - {id: s, label: T, on: visit, period: week}\n"
    p = one(body, "  - id: s")
    assert p.field == "streaks[0].id" and "streak id `s` is used more than once" in p.reason


def test_freeze_blocks_are_read_in_every_spelling() -> None:
    for per, expected in [("year", (1, "year")), ("2 years", (2, "year")),
                          ("6 months", (6, "month")), ("month", (1, "month")),
                          ("30days", (30, "day")), ("4 weeks", (4, "week"))]:
        rb = load_rulebook(BASE + entry(freezes=f"{{max: 1, per: {per}}}"))
        fz = rb.streaks[0].freezes
        assert fz is not None and (fz.every, fz.unit) == expected, per


# -- properties --------------------------------------------------------------------------

SPECS = ["period: day", "period: day, at_least: 2, freezes: {max: 2, per: 2 weeks}",
         "period: week, at_least: 2, freezes: {max: 2, per: year}",
         "period: month, freezes: {max: 1, per: 6 months}", "period: week, where: ok"]
ZONES = ["Europe/Berlin", "Pacific/Auckland", "UTC"]
RBS = {(spec, zone): streak_rb(spec, zone) for spec in SPECS for zone in ZONES}
START = datetime(2026, 1, 1, tzinfo=UTC)
STEPS = [0, 60 * 12, 60 * 24, 60 * 36, 60 * 48, 60 * 72, 60 * 24 * 7, 60 * 24 * 9,
         60 * 24 * 14, 60 * 24 * 31, 60 * 24 * 45, 60 * 24 * 62]
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def histories(draw: st.DrawFn) -> tuple[Rulebook, list[Event], int]:
    rb = RBS[(draw(st.sampled_from(SPECS)), draw(st.sampled_from(ZONES)))]
    n = draw(st.integers(0, 40))
    events = []
    at_ = START
    for i in range(n):  # a walk with steps from minutes to two months: runs and gaps
        at_ += timedelta(minutes=draw(st.sampled_from(STEPS)) + draw(st.integers(0, 59)))
        events.append(Event(f"e{i:03d}", "m", "visit", to_us(at_), at_.isoformat(),
                            {"ok": draw(st.booleans()), "guest": "m2"}))
    last = max((e.at_us for e in events), default=to_us(START))
    as_of = last + draw(st.integers(0, 24 * 60)) * 3_600_000_000 // 60
    return rb, events, as_of


def reference(rb: Rulebook, events: list[Event], as_of: int) -> tuple[Any, ...]:
    """The streak computed the slow, obvious way: every period from the first counted
    event's to the as-of one, in order."""
    s = rb.streaks[0]
    cal = rb.calendar
    counts: dict[int, int] = defaultdict(int)
    for e in events:
        if s.where is None or s.where(e.attributes):
            counts[cal.period_index(cal.day(e.at_us), s.period)] += 1
    now = cal.period_index(cal.day(as_of), s.period)
    if not counts:
        return ("not_started", 0, 0, 0, 0, 0)
    alive, current, longest, frozen, qualified = False, 0, 0, 0, False
    used: dict[int, int] = defaultdict(int)

    def block(k: int) -> int:
        assert s.freezes is not None
        return s.freezes.block(cal, cal.period_first_day(k, s.period))

    for k in range(min(counts), now + 1):
        if counts[k] >= s.at_least:
            current, frozen = (current + 1, frozen) if alive else (1, 0)
            alive = qualified = True
            longest = max(longest, current)
        elif k == now:
            break
        elif alive and s.freezes is not None and used[block(k)] < s.freezes.max:
            used[block(k)] += 1
            frozen += 1
        else:
            alive, current, frozen = False, 0, 0
    if counts[now] >= s.at_least:
        status = "active"
    else:
        status = "at_risk" if alive else ("broken" if qualified else "not_started")
    in_block = used[block(now)] if s.freezes is not None else 0
    return (status, current, longest, frozen, in_block, counts[now])


def observed(v: StreakView) -> tuple[Any, ...]:
    return (v.status, v.current, v.longest, v.frozen, v.freezes_used, v.events_in_period)


@FAST
@given(histories())
def test_the_fold_agrees_with_the_period_by_period_reference(
        case: tuple[Rulebook, list[Event], int]) -> None:
    rb, events, as_of = case
    assert observed(fold(rb, "m", events, as_of).streaks[0]) == reference(rb, events, as_of)


@FAST
@given(histories())
def test_length_never_exceeds_the_periods_elapsed(
        case: tuple[Rulebook, list[Event], int]) -> None:
    rb, events, as_of = case
    v = fold(rb, "m", events, as_of).streaks[0]
    s, cal = rb.streaks[0], rb.calendar
    if not events:
        assert v.longest == 0
        return
    first = cal.period_index(cal.day(min(e.at_us for e in events)), s.period)
    elapsed = cal.period_index(cal.day(as_of), s.period) - first + 1
    assert 0 <= v.current <= v.longest <= elapsed
    assert v.current + v.frozen <= elapsed
    assert v.freezes_left >= 0 and v.freezes_used + v.freezes_left == (
        s.freezes.max if s.freezes else 0)


@FAST
@given(histories(), st.randoms(use_true_random=False))
def test_arrival_order_does_not_matter(case: tuple[Rulebook, list[Event], int],
                                       rnd: random.Random) -> None:
    rb, events, as_of = case
    shuffled = events[:]
    rnd.shuffle(shuffled)
    assert to_dict(fold(rb, "m", events, as_of)) == to_dict(fold(rb, "m", shuffled, as_of))


@FAST
@given(histories(), st.integers(1, 60 * 24 * 90))
def test_a_view_changes_nothing(case: tuple[Rulebook, list[Event], int], minutes: int) -> None:
    """Viewing twice gives the same answer, and applying after a view gives what applying
    without it gives; a view at T2 equals the fold with one more uncounted event at T2."""
    rb, events, as_of = case
    ordered = sorted(events, key=lambda e: (e.at_us, e.id))
    half = len(ordered) // 2
    seen = MemberFold(rb, "m")
    unseen = MemberFold(rb, "m")
    for e in ordered[:half]:
        seen.apply(e)
        unseen.apply(e)
    mid = ordered[half].at_us if half < len(ordered) else as_of
    first = to_dict(seen.view(mid))
    assert to_dict(seen.view(mid)) == first
    seen.view(as_of)
    for e in ordered[half:]:
        seen.apply(e)
        unseen.apply(e)
    assert to_dict(seen.view(as_of)) == to_dict(unseen.view(as_of))
    later = as_of + minutes * 60_000_000
    if rb.streaks[0].where is not None:  # `ok: false` is not counted
        extra = Event("zzz", "m", "visit", later, "", {"ok": False, "guest": "m2"})
        assert seen.view(later).streaks == fold(rb, "m", [*events, extra], later).streaks


def test_the_cli_shows_streaks_with_a_member() -> None:
    from rich.console import Console

    from plaudit.entrypoints.cli import render

    state = fold(sesame(), "m", [repayment("r", "2026-08-10T10:00:00+08:00")],
                 at("2026-09-05T00:00:00+08:00"))
    console = Console(record=True, width=160, color_system=None)
    render.member(console, state, show_history=False)
    text = console.export_text()
    assert "Streaks" in text and "Months repaid on time" in text
    assert "at risk" in text and "0/1 since 2026-09-01" in text
    assert "2026-10-01T00:00" in text  # at risk until the end of September


def test_a_where_that_fails_while_folding_counts_nothing_and_warns() -> None:
    rb = rulebook("events:\n  pay:\n    attributes:\n      n: {type: int}\n"
                  "streaks:\n  - {id: s, label: S, on: pay, where: '10 / n > 1', "
                  "period: day}\n")
    events = [ev("a", "pay", "2026-06-01T10:00:00+00:00", n=2),
              ev("b", "pay", "2026-06-02T10:00:00+00:00", n=0)]   # 10 / 0
    s = fold(rb, "m", events, at("2026-06-02T12:00:00+00:00"))
    assert brief(s.streaks[0]) == ("at_risk", 1, 1) and s.streaks[0].events_in_period == 0
    assert any("streak s" in w and "not counted" in w for w in s.warnings), s.warnings
