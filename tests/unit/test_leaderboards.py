"""Leaderboards, the member's side: metrics per local period, pseudonyms, compile refusals,
and the invariants (a board never lists a member who is not opted in; arrival order never
matters). The numbers of the worked example are the ones docs/rulebook.md shows."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.ingest import sort_key
from plaudit.application.service import Plaudit
from plaudit.domain.calendar import to_us
from plaudit.domain.errors import Problem, RulebookError
from plaudit.domain.events import FRIEND, LEADERBOARD, PSEUDONYM, Event
from plaudit.domain.fold import MemberFold, fold
from plaudit.domain.mechanics import PREFERENCES
from plaudit.domain.mechanics.leaderboards import pseudonym
from plaudit.domain.state import to_dict
from plaudit.rulebook import load_rulebook

from .helpers import PURCHASES, at, ev, rulebook

BOARDS = PURCHASES + """
leaderboards:
  - id: books-monthly
    label: Books this month
    metric: {sum: purchase.amount, where: 'category == "books"'}
    period: month
    visibility: opt_in
  - id: buys-weekly
    label: Purchases this week
    metric: {count: purchase}
    period: week
  - id: books-ever
    label: Books, all time
    metric: {sum: purchase.amount, where: 'category == "books"'}
    period: all_time
"""

# -- the worked example (docs/rulebook.md, leaderboards) --------------------------------

SHANGHAI = rulebook(BOARDS, timezone="Asia/Shanghai")
EXAMPLE = [
    ev("a", "purchase", "2026-06-29T10:00:00+08:00", amount="30", category="books",
       order_id="o-a"),   # Monday of ISO week 27
    ev("b", "purchase", "2026-06-30T23:30:00+08:00", amount="50", category="books",
       order_id="o-b"),   # 15:30 UTC, still June in Shanghai
    ev("c", "purchase", "2026-06-30T16:10:00+00:00", amount="20.50", category="books",
       order_id="o-c"),   # 00:10 on 1 July in Shanghai: a new month, the same week
    ev("d", "purchase", "2026-07-02T09:00:00+08:00", amount="99", category="games",
       order_id="o-d"),   # games: counted per week, not summed
]


def boards_at(events: list[Event], as_of: str) -> dict[str, tuple[str, Any]]:
    s = fold(SHANGHAI, "m", events, at(as_of))
    return {b.id: (b.period, b.value) for b in s.leaderboards}


def test_metric_per_local_period_rolls_over_at_local_midnight() -> None:
    assert boards_at(EXAMPLE[:2], "2026-06-30T23:59:00+08:00") == {
        "books-monthly": ("2026-06", Decimal(80)),
        "buys-weekly": ("2026-W27", 2),
        "books-ever": ("all", Decimal(80)),
    }
    # 00:10 local on 1 July: June's 80 is June's; July starts from the new purchase
    assert boards_at(EXAMPLE, "2026-07-02T12:00:00+08:00") == {
        "books-monthly": ("2026-07", Decimal("20.5")),
        "buys-weekly": ("2026-W27", 4),
        "books-ever": ("all", Decimal("100.5")),
    }
    # the next Monday: a new week with no purchase yet reads 0
    assert boards_at(EXAMPLE, "2026-07-06T00:00:00+08:00")["buys-weekly"] == ("2026-W28", 0)


def test_the_value_remembers_when_it_was_reached() -> None:
    acc = MemberFold(SHANGHAI, "m")
    for e in EXAMPLE:
        acc.apply(e)
    part = acc.leaderboards
    assert part is not None
    monthly, weekly, _ = (part.current(b) for b in SHANGHAI.leaderboards)
    assert monthly is not None and weekly is not None
    assert monthly.reached_at_us == EXAMPLE[2].at_us   # the games purchase changed nothing
    assert weekly.reached_at_us == EXAMPLE[3].at_us


def test_joining_opens_the_period_and_leaving_is_reported_for_removal() -> None:
    join = ev("j", LEADERBOARD, "2026-07-03T08:00:00+08:00", board="books-monthly",
              joined=True)
    leave = ev("l", LEADERBOARD, "2026-07-04T08:00:00+08:00", board="books-monthly",
               joined=False)
    acc = MemberFold(SHANGHAI, "m")
    for e in [*EXAMPLE, join]:
        acc.apply(e)
    part = acc.leaderboards
    assert part is not None and part.needs_write()
    writes = part.drain(SHANGHAI)
    assert [(v.board, v.period, v.value) for v in writes.entries] == [
        ("books-monthly", "2026-07", Decimal("20.5"))]
    assert writes.left == () and writes.friends is None and not writes.renamed
    acc.apply(leave)
    writes = part.drain(SHANGHAI)
    assert writes.entries == () and writes.left == ("books-monthly",)
    assert not part.needs_write()  # left everything, nothing changed since: no query


def test_preferences_are_not_behaviour() -> None:
    assert {LEADERBOARD, PSEUDONYM, FRIEND} <= PREFERENCES
    prefs = [ev("p", PSEUDONYM, "2026-01-01T00:00:00+08:00", seed=4),
             ev("f", FRIEND, "2026-01-02T00:00:00+08:00", friend="m-2", granted=True)]
    acc = MemberFold(SHANGHAI, "m")
    for e in prefs:
        acc.apply(e)
    assert acc.first_day is None  # never starts a member's first day


def test_a_member_who_never_joined_costs_no_write() -> None:
    acc = MemberFold(SHANGHAI, "m")
    for e in EXAMPLE:
        acc.apply(e)
    assert acc.leaderboards is not None and not acc.leaderboards.needs_write()


def test_sort_key_ranks_the_most_first_in_millionths() -> None:
    assert sort_key(Decimal("100.5")) < sort_key(Decimal("100.4999995")) < sort_key(3) < 0
    assert sort_key(Decimal("0.0000001")) == sort_key(0) == 0  # below a millionth: equal
    assert sort_key(Decimal("1e30")) == -(2**63 - 1)  # beyond 64 bits: clamped


# -- pseudonyms ---------------------------------------------------------------------------

def test_pseudonym_is_stable_and_re_rolls_with_the_seed() -> None:
    first = pseudonym("sesame-style", "m-42", 0)
    assert first == pseudonym("sesame-style", "m-42", 0)
    assert first.name == "keen-lemur-340"  # pinned: a change would rename every member
    others = {pseudonym("sesame-style", "m-42", seed).name for seed in range(1, 50)}
    assert first.name not in others and len(others) > 45
    assert pseudonym("fitness-club", "m-42", 0) != first  # another program, another name
    parts = first.name.split("-")
    assert len(parts) == 3 and len(parts[2]) == 3 and 0 <= first.tag < 2**62


def test_pseudonym_is_the_same_in_another_process() -> None:
    code = ("from plaudit.domain.mechanics.leaderboards import pseudonym; "
            "p = pseudonym('sesame-style', 'm-42', 7); print(p.name, p.tag)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env={"PYTHONHASHSEED": "random",
                                         "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    p = pseudonym("sesame-style", "m-42", 7)
    assert out.stdout.split() == [p.name, str(p.tag)]


def test_pseudonyms_of_neighbouring_ids_look_unrelated() -> None:
    names = [pseudonym("p", f"m-{i}", 0).name for i in range(200)]
    assert len(set(names)) > 195
    adjectives = {n.split("-")[0] for n in names}
    assert len(adjectives) > 50


def test_the_view_shows_the_chosen_pseudonym() -> None:
    events = [*EXAMPLE, ev("p", PSEUDONYM, "2026-07-03T00:00:00+08:00", seed=9)]
    s = fold(SHANGHAI, "m-9", events, at("2026-07-03T01:00:00+08:00"))
    assert {b.pseudonym for b in s.leaderboards} == {pseudonym("t", "m-9", 9).name}


# -- compile refusals ---------------------------------------------------------------------

def refused(body: str) -> tuple[str, list[Problem]]:
    text_ = "program: {id: t, name: Test}\n" + body
    with pytest.raises(RulebookError) as info:
        load_rulebook(text_, "rb.yaml")
    return text_, info.value.problems


def line_of(text_: str, needle: str) -> int:
    return next(i for i, line in enumerate(text_.splitlines(), 1) if needle in line)


def one_board(**fields: str) -> str:
    spec = {"id": "b", "label": "B", "metric": "{count: purchase}", "period": "month"}
    spec.update(fields)
    body = "\n".join(f"    {k}: {v}" for k, v in spec.items() if k != "id")
    return PURCHASES + f"leaderboards:\n  - id: {spec['id']}\n{body}\n"


@pytest.mark.parametrize(("fields", "field", "needle", "reason", "suggestion"), [
    ({"period": "monthly"}, "leaderboards[0].period", "period:",
     "unknown period `monthly`", "month"),
    ({"visibility": "public"}, "leaderboards[0].visibility", "visibility:",
     "visibility `public` is not offered", None),
    ({"metric": "{count: purchase, sum: purchase.amount}"}, "leaderboards[0].metric",
     "metric:", "exactly one of count, sum (got count, sum)", None),
    ({"metric": "{count: purchse}"}, "leaderboards[0].metric.count", "metric:",
     "unknown event type `purchse`", "purchase"),
    ({"metric": "{sum: purchase.amont}"}, "leaderboards[0].metric.sum", "metric:",
     "has no attribute `amont`", "amount"),
    ({"metric": "{sum: purchase.category}"}, "leaderboards[0].metric.sum", "metric:",
     "`sum` needs a number attribute", None),
    ({"metric": "{sum: purchase}"}, "leaderboards[0].metric.sum", "metric:",
     "`sum` takes `event_type.attribute`", None),
    ({"metric": "{count: purchase.amount}"}, "leaderboards[0].metric.count", "metric:",
     "`count` takes an event type", None),
    ({"metric": "{count: any}"}, "leaderboards[0].metric.count", "metric:",
     "one event type, not `any`", None),
    ({"metric": "{count: purchase, where: 'categry == \"books\"'}"},
     "leaderboards[0].metric.where", "metric:", "categry", "category"),
    ({"metric": "{avg: purchase.amount}"}, "leaderboards[0].metric.avg", "metric:",
     "unknown key `avg`", None),
    ({"id": "a board"}, "leaderboards[0].id", "id: a board", "must be letters", None),
])
def test_refusals_name_the_line_field_and_closest(fields: dict[str, str], field: str,
                                                   needle: str, reason: str,
                                                   suggestion: str | None) -> None:
    text_, problems = refused(one_board(**fields))
    p = next((p for p in problems if p.field == field), None)
    assert p is not None, [str(x) for x in problems]
    assert reason in p.reason
    assert p.where == f"rb.yaml:{line_of(text_, needle)}"
    if suggestion is not None:
        assert p.suggestion == suggestion


def test_a_metric_never_sums_another_member() -> None:
    body = """
events:
  referral:
    attributes:
      referred: {type: member}
      bonus: {type: int}
leaderboards:
  - id: b
    label: B
    metric: {sum: referral.referred}
    period: month
"""
    _, problems = refused(body)
    assert any("identifies another member" in p.reason for p in problems)


def test_a_board_id_used_twice_is_refused_once() -> None:
    body = one_board() + "  - id: b\n    label: C\n    metric: {count: purchase}\n" \
                         "    period: week\n"
    text_, problems = refused(body)
    dup = [p for p in problems if "used more than once" in p.reason]
    assert len(dup) == 1 and dup[0].where == f"rb.yaml:{line_of(text_, '- id: b')}"


def test_a_missing_metric_or_period_is_named() -> None:
    body = PURCHASES + "leaderboards:\n  - {id: b, label: B}\n"
    _, problems = refused(body)
    assert {p.field for p in problems} == {"leaderboards[0].metric", "leaderboards[0].period"}


# -- properties ---------------------------------------------------------------------------

START = datetime(2026, 6, 1, tzinfo=UTC)
MEMBERS = ["m-1", "m-2", "m-3", "m-4"]
BOARD_IDS = ["books-monthly", "buys-weekly", "books-ever"]


@st.composite
def member_events(draw: st.DrawFn, member: str, prefix: str) -> list[Event]:
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(["purchase", "purchase", LEADERBOARD, LEADERBOARD,
                                     PSEUDONYM, FRIEND]))
        if kind == "purchase":
            attrs: dict[str, Any] = {
                "amount": draw(st.decimals(0, 500, places=2)),
                "category": draw(st.sampled_from(["books", "games"])),
                "order_id": f"o-{i}"}
        elif kind == LEADERBOARD:
            attrs = {"board": draw(st.sampled_from(BOARD_IDS)), "joined": draw(st.booleans())}
        elif kind == PSEUDONYM:
            attrs = {"seed": draw(st.integers(0, 5))}
        else:
            attrs = {"friend": draw(st.sampled_from(MEMBERS)), "granted": draw(st.booleans())}
        # hours over ~10 weeks: weeks and months roll over; equal times test the id order
        when = START + timedelta(hours=draw(st.integers(0, 24 * 70)))
        out.append(Event(f"{prefix}-{member}-{i:02d}", member, kind, to_us(when),
                         when.isoformat(), attrs))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.randoms(use_true_random=False))
def test_arrival_order_never_changes_the_member_state(data: st.DataObject,
                                                      rnd: random.Random) -> None:
    events = data.draw(member_events("m-1", "e"))
    shuffled = events[:]
    rnd.shuffle(shuffled)
    as_of = to_us(START + timedelta(days=80))
    assert to_dict(fold(SHANGHAI, "m-1", events, as_of)) == \
        to_dict(fold(SHANGHAI, "m-1", shuffled, as_of))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_incremental_application_equals_a_full_fold(data: st.DataObject) -> None:
    events = sorted(data.draw(member_events("m-1", "e")), key=lambda e: (e.at_us, e.id))
    acc = MemberFold(SHANGHAI, "m-1", history=True)
    as_of = to_us(START + timedelta(days=80))
    for e in events:
        acc.apply(e)
        acc.view(as_of)  # reading between events changes nothing
    assert to_dict(acc.view(as_of)) == to_dict(fold(SHANGHAI, "m-1", events, as_of))


_STORE: dict[str, Plaudit] = {}
_RUN = iter(range(10**9))


def _service(tmp: Path) -> Plaudit:
    if "svc" not in _STORE:
        svc = Plaudit(SqlStore(f"sqlite:///{(tmp / 'lb.db').as_posix()}"),
                      FixedClock(to_us(START + timedelta(days=90))))
        svc.publish_rulebook("program: {id: t, name: Test, timezone: Asia/Shanghai}\n"
                             + BOARDS, "boards.yaml", actor="test")
        _STORE["svc"] = svc
    return _STORE["svc"]


def _wire(e: Event) -> dict[str, Any]:
    attrs = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in e.attributes.items()}
    return {"id": e.id, "member": e.member, "type": e.type, "at": e.at, "attributes": attrs}


@pytest.fixture(scope="module")
def lb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("leaderboards")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_board_never_lists_a_member_who_is_not_opted_in(lb_dir: Path,
                                                          data: st.DataObject) -> None:
    """Random join/leave/re-roll/friend/purchase histories of several members, sent in
    random batches (so some events arrive late and re-fold the member) through a real
    store: after every batch, every entry belongs to a member whose latest word on that
    board is "joined", shows their current pseudonym, and every joined member's current
    period is listed with the value their fold gives."""
    svc = _service(lb_dir)
    run = f"r{next(_RUN)}"
    members = [f"{run}-{m}" for m in MEMBERS]
    events = [e for m in members for e in data.draw(member_events(m, run))]
    events = [e._replace(attributes={**e.attributes, "friend": f"{run}-{e.attributes['friend']}"})
              if e.type == FRIEND else e for e in events]
    order = data.draw(st.permutations(events))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(order)), max_size=3)))
    sent: list[Event] = []
    for lo, hi in zip([0, *cuts], [*cuts, len(order)], strict=True):
        batch = list(order[lo:hi])
        if not batch:
            continue
        svc.ingest_items([_wire(e) for e in batch])
        sent.extend(batch)
        _check_entries(svc, run, sent)


def _check_entries(svc: Plaudit, run: str, sent: list[Event]) -> None:
    rb = svc.rulebook()
    with svc.store.read() as tx:
        conn = tx.conn  # type: ignore[attr-defined]
        rows = conn.execute(text(
            "SELECT m.member_id, e.board, e.period, e.value, e.pseudonym FROM "
            "leaderboard_entries e JOIN members m ON m.member_no = e.member_no "
            "WHERE m.member_id LIKE :run"), {"run": f"{run}-%"}).all()
    listed = {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}
    by_member: dict[str, list[Event]] = {}
    for e in sent:
        by_member.setdefault(e.member, []).append(e)
    for member, evs in by_member.items():
        ordered = sorted(evs, key=lambda e: (e.at_us, e.id))
        words: dict[str, bool] = {}
        for e in ordered:
            if e.type == LEADERBOARD:
                words[e.attributes["board"]] = e.attributes["joined"]
        mine = {k: v for k, v in listed.items() if k[0] == member}
        for (_, board, _period), _ in mine.items():
            assert words.get(board) is True, f"{member} listed on {board} without opting in"
        acc = MemberFold(rb, member)
        for e in ordered:
            acc.apply(e)
        part = acc.leaderboards
        assert part is not None
        name = part.pseudonym(acc).name
        assert {v[1] for v in mine.values()} <= {name}  # past periods renamed too
        for b in rb.leaderboards:  # the period of the member's latest event on the board
            v = part.current(b)
            if v is not None and words.get(v.board):
                value, shown = listed[(member, v.board, v.period)]
                assert Decimal(value) == v.value and shown == name
