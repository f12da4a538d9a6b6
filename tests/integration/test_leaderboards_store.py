"""Leaderboard storage and reads, on SQLite and PostgreSQL alike: ranking order and ties,
"my rank", opt-out removing a member at once, renames, and friends needing both grants."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from plaudit.adapters.sql.store import SqlStore
from plaudit.application.ingest import sort_key
from plaudit.application.ports import EntryRow
from plaudit.application.service import Plaudit
from plaudit.domain.errors import EventRejected, NotFound

from ..conftest import NOW

BOARD = "good-spend-monthly"
PERIOD = "2026-11"  # NOW is 2026-11-22 (Asia/Shanghai)


def purchase(i: str, member: str, amount: str, at: str = "2026-11-20T10:00:00+08:00",
             category: str = "books") -> dict[str, Any]:
    return {"id": i, "member": member, "type": "purchase", "at": at,
            "attributes": {"amount": amount, "category": category, "order_id": f"o-{i}"}}


def entry(no: int, value: str, reached: int, tag: int, board: str = "b",
          period: str = "p") -> EntryRow:
    return EntryRow(no, board, period, sort_key(Decimal(value)), value, reached,
                    f"name-{no}", tag)


def members(store: SqlStore, n: int) -> list[int]:
    with store.write() as tx:
        nos, _ = tx.ensure_members([f"m-{i:02d}" for i in range(n)], NOW)
    return [nos[f"m-{i:02d}"] for i in range(n)]


def test_ranking_is_value_then_earliest_then_tag_then_member(store: SqlStore) -> None:
    a, b, c, d, e = members(store, 5)
    rows = [
        entry(a, "10", reached=50, tag=9),
        entry(b, "12.5", reached=90, tag=9),   # the most: first whenever reached
        entry(c, "10", reached=40, tag=9),     # 10 reached earlier than a
        entry(d, "10", reached=50, tag=1),     # same value and time as a: lower tag first
        entry(e, "9.999999", reached=1, tag=0),
    ]
    with store.write() as tx:
        tx.put_entries(rows)
    with store.read() as tx:
        top = tx.top_entries("b", "p", 10)
        assert [r.member_no for r in top] == [b, c, d, a, e]
        assert [tx.rank(r) for r in top] == [1, 2, 3, 4, 5]
        assert tx.count_entries("b", "p") == 5
        assert [r.member_no for r in tx.top_entries("b", "p", 2)] == [b, c]
        assert tx.entry("b", "p", a) == rows[0]
        assert tx.entry("b", "other", a) is None


def test_an_upsert_replaces_and_drops_remove_every_period(store: SqlStore) -> None:
    a, b = members(store, 2)
    with store.write() as tx:
        tx.put_entries([entry(a, "1", 1, 1), entry(b, "2", 1, 1),
                        entry(a, "5", 1, 1, period="q"), entry(a, "3", 1, 1, board="c")])
        tx.put_entries([entry(a, "7", 2, 1)])
    with store.read() as tx:
        assert [(r.member_no, r.value) for r in tx.top_entries("b", "p", 10)] == \
            [(a, "7"), (b, "2")]
    with store.write() as tx:
        tx.drop_entries([(a, "b")])
        tx.rename_entries([(b, "new-name-001", 42)])
    with store.read() as tx:
        assert [r.member_no for r in tx.top_entries("b", "p", 10)] == [b]
        assert tx.top_entries("b", "q", 10) == []
        assert tx.entry("c", "p", a) is not None  # another board is untouched
        assert tx.entry("b", "p", b) == entry(b, "2", 1, 1)._replace(
            pseudonym="new-name-001", tag=42)
    with store.write() as tx:
        tx.drop_boards(["b"])
    with store.read() as tx:
        assert tx.entry("c", "p", a) is None


def test_friend_entries_need_both_grants(store: SqlStore) -> None:
    a, b, c, d = members(store, 4)
    with store.write() as tx:
        tx.put_entries([entry(n, "1", 1, n) for n in (a, b, c, d)])
        tx.put_friends([(a, ["m-01", "m-02", "m-03", "m-99"]), (b, ["m-00"]),
                        (c, ["m-03"]), (d, [])])  # c named someone else; d no one
    with store.read() as tx:
        assert [r.member_no for r in tx.friend_entries("b", "p", a, "m-00")] == [b]
        assert tx.friend_entries("b", "p", c, "m-02") == []
        assert tx.friends_of(a) == ("m-01", "m-02", "m-03", "m-99")
    with store.write() as tx:
        tx.put_friends([(b, [])])  # b withdraws
    with store.read() as tx:
        assert tx.friend_entries("b", "p", a, "m-00") == []


# -- through the service: written with the member's state ---------------------------------

def test_join_lists_leave_removes_at_once(service: Plaudit) -> None:
    service.ingest_items([purchase("e1", "m-1", "120.50"), purchase("e2", "m-2", "80"),
                          purchase("e3", "m-3", "500", category="games")])
    assert service.leaderboard(BOARD).standings == ()  # nobody opted in
    for m in ("m-1", "m-2", "m-3"):
        service.join_leaderboard(m, BOARD)
    page = service.leaderboard(BOARD, viewer="m-2")
    assert page.period == PERIOD and len(page.standings) == 3
    assert [(s.rank, s.value, s.you) for s in page.standings] == [
        (1, Decimal("120.5"), False), (2, Decimal(80), True), (3, Decimal(0), False)]
    mine = service.member_leaderboards("m-2").boards[0]
    assert (mine.rank, mine.joined, mine.value) == (2, True, Decimal(80))
    left = service.join_leaderboard("m-1", BOARD, False)
    assert (left.joined, left.rank) == (False, None)
    assert [s.value for s in service.leaderboard(BOARD).standings] == [Decimal(80),
                                                                         Decimal(0)]
    assert service.member_leaderboards("m-2").boards[0].rank == 1


def test_a_new_purchase_moves_the_member_up(service: Plaudit) -> None:
    service.ingest_items([purchase("e1", "m-1", "50"), purchase("e2", "m-2", "80")])
    for m in ("m-1", "m-2"):
        service.join_leaderboard(m, BOARD)
    service.ingest_items([purchase("e3", "m-1", "40", at="2026-11-21T10:00:00+08:00")])
    assert service.member_leaderboards("m-1").boards[0].rank == 1
    # a late event re-folds the member and rewrites the entry
    service.ingest_items([purchase("e0", "m-2", "100", at="2026-11-02T10:00:00+08:00")])
    top = service.leaderboard(BOARD).standings
    assert [s.value for s in top] == [Decimal(180), Decimal(90)]


def test_a_pseudonym_change_renames_every_row(service: Plaudit) -> None:
    service.ingest_items([purchase("e1", "m-1", "50")])
    service.join_leaderboard("m-1", BOARD)
    before = service.member_leaderboards("m-1").pseudonym
    change = service.choose_pseudonym("m-1", 12)
    assert change.pseudonym != before
    assert [s.pseudonym for s in service.leaderboard(BOARD).standings] == [change.pseudonym]
    assert service.member_leaderboards("m-1").pseudonym == change.pseudonym
    rolled = service.choose_pseudonym("m-1")  # no seed: a random one
    assert rolled.seed == 12 or rolled.pseudonym != change.pseudonym


def test_friends_view_needs_mutual_consent(service: Plaudit) -> None:
    service.ingest_items([purchase(f"e{m}", m, a) for m, a in
                          (("m-1", "10"), ("m-2", "20"), ("m-3", "30"))])
    for m in ("m-1", "m-2", "m-3"):
        service.join_leaderboard(m, BOARD)
    service.record_friend("m-1", "m-2", True)
    service.record_friend("m-1", "m-3", True)
    service.record_friend("m-3", "m-1", True)    # only m-3 named m-1 back
    view = service.leaderboard_friends("m-1", BOARD)
    assert [(s.rank, s.value, s.you) for s in view.standings] == [
        (1, Decimal(30), False), (2, Decimal(10), True)]
    assert len(service.leaderboard_friends("m-2", BOARD).standings) == 1  # only m-2
    service.record_friend("m-3", "m-1", False)
    assert [s.you for s in service.leaderboard_friends("m-1", BOARD).standings] == [True]
    assert service.member_leaderboards("m-1").friends == ("m-2", "m-3")


def test_a_friend_grant_says_nothing_about_the_friend(service: Plaudit) -> None:
    service.ingest_items([purchase("e1", "m-1", "10"), purchase("e2", "m-2", "10")])
    known = service.record_friend("m-1", "m-2", True)
    unknown = service.record_friend("m-1", "m-nobody", True)
    assert (known.granted, unknown.granted) == (True, True)
    assert set(vars(known)) == set(vars(unknown)) == {"member", "friend", "granted", "at"}
    with pytest.raises(EventRejected):
        service.record_friend("m-1", "m-1", True)


def test_unknown_board_member_and_period_are_not_found(service: Plaudit) -> None:
    service.ingest_items([purchase("e1", "m-1", "10")])
    with pytest.raises(NotFound):
        service.leaderboard("nope")
    with pytest.raises(NotFound):
        service.join_leaderboard("m-1", "nope")
    with pytest.raises(NotFound):
        service.join_leaderboard("m-nobody", BOARD)
    with pytest.raises(NotFound, match="periods are months"):
        service.leaderboard(BOARD, "2026-W07")
    assert service.leaderboard(BOARD, "2026-10").standings == ()


def test_past_periods_stay_as_final_standings(service: Plaudit) -> None:
    service.ingest_items([purchase("e1", "m-1", "10", at="2026-10-20T10:00:00+08:00")])
    service.join_leaderboard("m-1", BOARD)  # at NOW: opens November at 0
    service.ingest_items([purchase("e2", "m-1", "5", at="2026-11-22T20:30:00+08:00")])
    assert [s.value for s in service.leaderboard(BOARD, "2026-11").standings] == [Decimal(5)]
    assert service.leaderboard(BOARD, "2026-10").standings == ()  # joined in November


def test_republishing_keeps_entries_and_drops_boards_that_are_gone(
        service: Plaudit, sesame_text: str) -> None:
    service.ingest_items([purchase("e1", "m-1", "10")])
    service.join_leaderboard("m-1", BOARD)
    service.publish_rulebook(sesame_text + "\n# v2\n", actor="test")
    assert len(service.leaderboard(BOARD).standings) == 1
    without = sesame_text[:sesame_text.index("\nleaderboards:")] + "\n"
    service.publish_rulebook(without, actor="test")
    with service.store.read() as tx:
        assert tx.count_entries(BOARD, PERIOD) == 0
