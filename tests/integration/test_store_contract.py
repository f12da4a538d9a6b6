"""The store contract: every behaviour here must hold on SQLite and on PostgreSQL.

Each test runs once per backend (see the ``store_url`` fixture in tests/conftest.py).
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from plaudit.adapters.sql import tables as t
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.domain.errors import EventRejected, NotFound
from plaudit.domain.state import to_dict
from plaudit.synthetic import generate

from ..conftest import NOW


def purchase(i: str, member: str, at: str, amount: str, category: str = "books",
             order: str | None = None) -> dict[str, Any]:
    return {"id": i, "member": member, "type": "purchase", "at": at,
            "attributes": {"amount": amount, "category": category,
                           "order_id": order or f"o-{i}"}}


def spend(i: str, member: str, at: str, points: int) -> dict[str, Any]:
    return {"id": i, "member": member, "type": "plaudit.spend", "at": at,
            "attributes": {"points": points}}


def count_events(store: SqlStore) -> int:
    with store.read() as tx:
        return tx.count_events()


def state_row(store: SqlStore, member: str) -> tuple[Any, ...]:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(t.member_states).join(t.members,
                                         t.members.c.member_no == t.member_states.c.member_no)
            .where(t.members.c.member_id == member)).one()
    return tuple(v for k, v in row._mapping.items() if k != "updated_us")


def test_ingest_stores_events_and_derived_state(service: Plaudit, store: SqlStore) -> None:
    result = service.ingest_items([
        purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "120.50"),  # books: 120 x 2
        purchase("e2", "m-1", "2026-06-02T10:00:00+08:00", "80", "games"),
        purchase("e3", "m-2", "2026-06-02T11:00:00+08:00", "10", "games"),
    ])
    assert (result.stored, result.duplicates, result.members) == (3, 0, 2)
    assert count_events(store) == 3
    row = state_row(store, "m-1")
    # member_no, version, position, last_at_us, last_event_id, balance, score, band, tier
    assert row[1:3] == (1, 2)
    assert row[4] == "e2"
    assert row[5] == 240 + 80
    state = service.member_state("m-1")
    assert state.points.balance == 320
    assert row[6] == service.member_state("m-1", row[3]).score.value  # type: ignore[union-attr]


def test_same_id_same_body_is_a_no_op(service: Plaudit, store: SqlStore) -> None:
    batch = [purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "120.50")]
    service.ingest_items(batch)
    before = state_row(store, "m-1")
    again = copy.deepcopy(batch)
    again[0]["attributes"]["amount"] = 120.5              # same value, other spelling
    again[0]["at"] = "2026-06-01T02:00:00Z"               # same instant, other offset
    result = service.ingest_items(again)
    assert (result.stored, result.duplicates) == (0, 1)
    assert count_events(store) == 1
    assert state_row(store, "m-1") == before


def test_same_id_other_body_rejects_the_whole_batch(service: Plaudit, store: SqlStore) -> None:
    service.ingest_items([purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "10")])
    with pytest.raises(EventRejected) as info:
        service.ingest_items([
            purchase("e2", "m-1", "2026-06-02T10:00:00+08:00", "10"),
            purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "11"),
        ])
    (problem,) = info.value.problems
    assert (problem.where, problem.field) == ("item 1", "id")
    assert "different body" in problem.reason
    assert count_events(store) == 1, "nothing of a rejected batch is stored"


def test_duplicate_id_inside_one_batch_with_other_body_is_rejected(service: Plaudit) -> None:
    with pytest.raises(EventRejected) as info:
        service.ingest_items([
            purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "10"),
            purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "12"),
        ])
    assert info.value.problems[0].where == "item 1"
    assert "first at item 0" in info.value.problems[0].reason


def test_invalid_items_are_all_named_and_nothing_is_stored(service: Plaudit,
                                                           store: SqlStore) -> None:
    with pytest.raises(EventRejected) as info:
        service.ingest_items([
            purchase("ok", "m-1", "2026-06-01T10:00:00+08:00", "10"),
            purchase("neg", "m-1", "2026-06-01T10:00:00+08:00", "-1"),
            {**purchase("naive", "m-1", "2026-06-01T10:00:00", "1")},
            {"id": "x", "member": "m-1", "type": "purchse", "at": "2026-06-01T10:00:00Z"},
        ])
    got = {(p.where, p.field) for p in info.value.problems}
    assert got == {("item 1", "attributes.amount"), ("item 2", "at"), ("item 3", "type")}
    suggestion = next(p for p in info.value.problems if p.where == "item 3").suggestion
    assert suggestion == "purchase"
    assert count_events(store) == 0


def test_late_event_refolds_the_member(service: Plaudit, store_url: str, clock: Any,
                                       sesame_text: str) -> None:
    events = [
        purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "1500", "games", "o-1"),
        purchase("e2", "m-1", "2026-06-01T12:00:00+08:00", "900", "games", "o-2"),
        {"id": "e3", "member": "m-1", "type": "refund", "at": "2026-06-03T10:00:00+08:00",
         "attributes": {"amount": "1500", "order_id": "o-1"}},
        spend("e4", "m-1", "2026-06-04T10:00:00+08:00", 300),
    ]
    # arrival order: the refund and the spend first, the purchases late
    service.ingest_items([events[0]])
    service.ingest_items([events[2]])
    service.ingest_items([events[1], events[3]])
    late = service.member_state("m-1")
    # e1 earns 1500; e2 asks 900 but the 2000/day cap leaves 500; the refund claws back
    # o-1's 1500; the spend takes 300: 500 - 300 = 200
    assert late.points.balance == 200
    assert late.points.reversed == 1500
    ordered = Plaudit(service.store, clock)
    assert to_dict(late) == to_dict(ordered.member_state("m-1"))
    assert state_row(service.store, "m-1")[5] == 200  # type: ignore[arg-type]


def test_spend_beyond_balance_is_rejected_and_nothing_stored(service: Plaudit,
                                                             store: SqlStore) -> None:
    service.ingest_items([purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "100", "games")])
    with pytest.raises(EventRejected) as info:
        service.ingest_items([
            purchase("e2", "m-1", "2026-06-02T10:00:00+08:00", "5", "games"),
            spend("s1", "m-1", "2026-06-03T10:00:00+08:00", 106),
        ])
    problem = info.value.problems[0]
    assert (problem.where, problem.field) == ("item 1", "attributes.points")
    assert "balance" in problem.reason and "105" in problem.reason
    assert count_events(store) == 1
    service.ingest_items([spend("s1", "m-1", "2026-06-03T10:00:00+08:00", 100)])
    assert service.member_state("m-1").points.balance == 0


def test_unknown_member_is_not_found(service: Plaudit) -> None:
    with pytest.raises(NotFound, match="m-404"):
        service.member_state("m-404")


def test_publish_refolds_every_member(service: Plaudit, store: SqlStore,
                                      sesame_text: str) -> None:
    service.ingest_items([
        {"id": "v1", "member": "m-1", "type": "identity_verified",
         "at": "2026-06-01T10:00:00+08:00", "attributes": {"method": "phone"}},
        {"id": "v2", "member": "m-2", "type": "identity_verified",
         "at": "2026-06-01T10:00:00+08:00", "attributes": {"method": "bank_card"}},
    ])
    assert state_row(store, "m-1")[5] == 100
    richer = sesame_text.replace("award: 100\n      once: true", "award: 150\n      once: true")
    assert richer != sesame_text
    result = service.publish_rulebook(richer, actor="test")
    assert (result.version, result.created, result.members) == (2, True, 2)
    for member in ("m-1", "m-2"):
        row = state_row(store, member)
        assert (row[1], row[5]) == (2, 150)
    state = service.member_state("m-1")
    assert state.rulebook_version == 2
    assert state.points.lots[0].rulebook_version == 2
    assert service.publish_rulebook(richer, actor="test").created is False


class Interrupted(Exception):
    pass


def test_publishing_the_same_text_again_finishes_an_interrupted_refold(
        service: Plaudit, store: SqlStore, sesame_text: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import plaudit.application.replay as replay_module

    service.ingest_items([
        {"id": f"v{i}", "member": f"m-{i}", "type": "identity_verified",
         "at": "2026-06-01T10:00:00+08:00", "attributes": {"method": "phone"}}
        for i in range(5)])
    richer = sesame_text.replace("award: 100\n      once: true", "award: 150\n      once: true")
    monkeypatch.setattr(replay_module, "PAGE", 2)

    def crash(done: int, total: int) -> None:
        raise Interrupted  # the process stops after the first page of members

    with pytest.raises(Interrupted):
        service.publish_rulebook(richer, progress=crash, actor="test")
    versions = [state_row(store, f"m-{i}")[1] for i in range(5)]
    assert versions == [2, 2, 1, 1, 1]  # the first page only

    seen: list[tuple[int, int]] = []
    result = service.publish_rulebook(richer, progress=lambda d, t: seen.append((d, t)),
                                      actor="test")
    assert (result.version, result.created, result.members) == (2, False, 3)
    assert seen[-1] == (3, 3)
    for i in range(5):
        row = state_row(store, f"m-{i}")
        assert (row[1], row[5]) == (2, 150)
    assert service.publish_rulebook(richer, actor="test").members == 0  # nothing left behind


def test_member_state_as_of_the_past(service: Plaudit) -> None:
    service.ingest_items([
        purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "100", "games"),
        purchase("e2", "m-1", "2026-07-01T10:00:00+08:00", "50", "games"),
    ])
    from datetime import datetime

    from plaudit.domain.calendar import to_us

    june = service.member_state("m-1", to_us(datetime.fromisoformat(
        "2026-06-15T00:00:00+08:00")))
    assert (june.events, june.points.balance) == (1, 100)
    assert service.member_state("m-1").points.balance == 150


def test_file_ingest_rejects_bad_batches_only_and_reruns_cleanly(service: Plaudit,
                                                                 store: SqlStore,
                                                                 tmp_path: Path) -> None:
    lines = [purchase(f"e{i}", f"m-{i % 3}", f"2026-06-0{1 + i // 3}T10:00:00+08:00", "10")
             for i in range(6)]
    bad = copy.deepcopy(lines)
    bad[4]["attributes"]["category"] = "bookz"
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in bad) + b"\n\n")
    report = service.ingest_file(path, batch_size=3)
    assert (report.stored, report.batches) == (3, 2)
    (rejected,) = report.rejected
    assert (rejected.first_line, rejected.last_line) == (4, 6)
    assert [(p.where, p.field) for p in rejected.problems] == [("line 5",
                                                                 "attributes.category")]
    assert count_events(store) == 3
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in lines))
    again = service.ingest_file(path, batch_size=3)
    assert (again.stored, again.duplicates, again.ok) == (3, 3, True)
    assert count_events(store) == 6


def test_stored_summary_matches_a_fresh_fold(service: Plaudit, store: SqlStore,
                                             tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with path.open("wb") as f:
        for e in generate(25, 120, start=date(2026, 1, 1), seed=3):
            f.write(orjson.dumps(e) + b"\n")
    report = service.ingest_file(path, batch_size=500)
    assert report.ok and report.stored > 500
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.members.c.member_id, t.member_states.c.last_at_us,
                                   t.member_states.c.balance, t.member_states.c.score,
                                   t.member_states.c.tier)
                            .join(t.member_states,
                                  t.members.c.member_no == t.member_states.c.member_no)).all()
    assert len(rows) == 25
    for member, last_at_us, balance, score, tier in rows:
        fresh = service.member_state(member, last_at_us)
        assert (balance, score, tier) == (fresh.points.balance, fresh.score.value,  # type: ignore[union-attr]
                                          fresh.tier.name)  # type: ignore[union-attr]


def test_now_is_the_injected_clock(service: Plaudit) -> None:
    service.ingest_items([purchase("e1", "m-1", "2025-11-01T10:00:00+08:00", "100", "games")])
    state = service.member_state("m-1")
    assert state.as_of.startswith("2026-11-22T20:00:00")  # NOW in Asia/Shanghai
    assert state.points.balance == 0 and state.points.expired == 100  # 365d expiry passed
    assert NOW > 0


def test_stored_state_keeps_the_partners_the_latest_word_grants(service: Plaudit) -> None:
    """The partner check refuses from this column before folding anything: it must follow
    the latest word by event time, late events and re-folds included."""

    def consent(i: str, at: str, partner: str, granted: bool) -> dict[str, Any]:
        return {"id": i, "member": "m-1", "type": "plaudit.consent", "at": at,
                "attributes": {"partner": partner, "granted": granted}}

    def granted() -> frozenset[str]:
        with service.store.read() as tx:
            return tx.granted_partners("m-1")

    service.ingest_items([consent("c1", "2026-06-01T10:00:00+08:00", "partner-hotels", True),
                          consent("c2", "2026-06-02T10:00:00+08:00", "city-rentals", True)])
    assert granted() == {"partner-hotels", "city-rentals"}
    service.ingest_items([consent("c3", "2026-06-03T10:00:00+08:00", "partner-hotels", False)])
    assert granted() == {"city-rentals"}
    # a late grant older than the revocation does not reopen it
    service.ingest_items([consent("c0", "2026-06-02T12:00:00+08:00", "partner-hotels", True)])
    assert granted() == {"city-rentals"}
    with service.store.read() as tx:
        assert tx.granted_partners("m-nobody") == frozenset()


def test_a_state_row_from_before_the_consents_column_is_folded_then_filled(
        service: Plaudit, store: SqlStore, sesame_text: str) -> None:
    """Rows written before migration 0003 have NULL consents: not known. The partner check
    must fold those members rather than refuse them, and publishing the current rulebook
    again fills the column in."""
    service.ingest_items([
        {"id": "c1", "member": "m-1", "type": "plaudit.consent",
         "at": "2026-06-01T10:00:00+08:00",
         "attributes": {"partner": "city-rentals", "granted": True}}])
    with store.engine.begin() as conn:
        conn.execute(t.member_states.update().values(consents=None))
    with store.read() as tx:
        assert tx.granted_partners("m-1") is None
    check = service.check_perk("city-rentals", "m-1", "deposit_free_rental")
    assert check.member == "m-1"
    result = service.publish_rulebook(sesame_text, actor="test")
    assert (result.created, result.members) == (False, 1)
    with store.read() as tx:
        assert tx.granted_partners("m-1") == {"city-rentals"}


def test_revoking_a_key_revokes_the_member_tokens_it_issued(service: Plaudit) -> None:
    access = service.access
    service.ingest_items([purchase("e1", "m1", "2026-11-01T10:00:00Z", "1")])
    key = access.create_key("app", ["read"], actor="test")
    mine = access.issue_member_token("m1", 600, issued_by=key.row.key_id, actor="test")
    console = access.issue_member_token("m1", 600, issued_by="console", actor="test")
    access.revoke(key.row.key_id, actor="test")
    with service.store.read() as tx:
        rows = [tx.key(k.row.key_id) for k in (mine, console)]
    assert [(r.revoked_us, r.issued_by) if r else None for r in rows] == [
        (NOW, key.row.key_id), (None, "console")]
