"""Disputes against a real store (SQLite and PostgreSQL): a disputed event counts as if it
had never happened while the policy says so, through every read — the cache, as-of reads,
the ledger, score history, a publish's re-fold, a fresh process — and counts again when
the dispute is rejected."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql import tables as t
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.ingest import to_event
from plaudit.application.service import Plaudit
from plaudit.domain.errors import Conflict, InsufficientPoints, InvalidRequest, NotFound
from plaudit.domain.fold import fold
from plaudit.domain.state import to_dict

from ..conftest import EXAMPLES, NOW
from .test_store_contract import purchase, spend

T0 = datetime.fromisoformat("2026-10-01T10:00:00+08:00")
OPS = "k-ops"


def at(days: float) -> str:
    return (T0 + timedelta(days=days)).isoformat()


def refund(i: str, member: str, when: str, amount: str, order: str) -> dict[str, Any]:
    return {"id": i, "member": member, "type": "refund", "at": when,
            "attributes": {"amount": amount, "order_id": order}}


def history(svc: Plaudit, member: str) -> list[dict[str, Any]]:
    return [
        purchase(f"{member}-p1", member, at(0), "300", "books"),
        purchase(f"{member}-p2", member, at(3), "80.25", "games"),
        {"id": f"{member}-v", "member": member, "type": "identity_verified", "at": at(4),
         "attributes": {"method": "phone"}},
        purchase(f"{member}-p3", member, at(10), "1200", "produce"),
        refund(f"{member}-r1", member, at(12), "80.25", f"o-{member}-p2"),
    ]


def state_bytes(svc: Plaudit, member: str, as_of: int | None = None, **kw: Any) -> bytes:
    return orjson.dumps(to_dict(svc.member_state(member, as_of, **kw)))


def reference(svc: Plaudit, member: str, without: set[str], as_of: int = NOW) -> bytes:
    """The fold of the member's events minus ``without``, by the domain alone."""
    return orjson.dumps(to_dict(_fold(svc, member, without, history=True, as_of=as_of)))


def _fold(svc: Plaudit, member: str, without: set[str], *, history: bool,
          as_of: int = NOW) -> Any:
    """Every stored event of the member, whatever its flag says, minus ``without``."""
    e, m = t.events, t.members
    with svc.store.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(
            select(e.c.event_id).join(m, m.c.member_no == e.c.member_no)
            .where(m.c.member_id == member))]
    with svc.store.read() as tx:
        stored = tx.stored_events(ids)
    rb = svc.rulebook()
    return fold(rb, member, [to_event(rb, s) for s in stored.values()
                             if s.event_id not in without], as_of, history=history)


def test_an_open_dispute_leaves_the_event_out_as_if_it_never_happened(
        service: Plaudit, tmp_path: Path, sesame_text: str) -> None:
    events = history(service, "m")
    service.ingest_items(events)
    before = state_bytes(service, "m")
    view, created = service.disputes.open("m", "m-p3", "not-mine", actor="test")
    assert created and view.status == "open" and view.excluded
    assert view.event.type == "purchase" and view.reason == "not-mine"
    # byte for byte the state of the same member in a program that never had the event
    never = Plaudit(SqlStore(f"sqlite:///{(tmp_path / 'never.db').as_posix()}"),
                    FixedClock(NOW))
    never.publish_rulebook(sesame_text, actor="test")
    never.ingest_items([e for e in events if e["id"] != "m-p3"])
    assert state_bytes(service, "m") == state_bytes(never, "m")
    assert state_bytes(service, "m", history=False) == state_bytes(never, "m", history=False)
    assert service.member_state("m").points.balance == 300 * 2 + 100  # p1 doubled, verified
    past = NOW - 5 * 86_400_000_000
    assert state_bytes(service, "m", past) == state_bytes(never, "m", past)
    assert service.ledger("m") == never.ledger("m")
    assert service.score_history("m", days=90) == never.score_history("m", days=90)
    never.store.close()

    rejected = service.disputes.reject(view.id, "the till receipt is signed", actor=OPS)
    assert (rejected.status, rejected.excluded) == ("rejected", False)
    assert rejected.decision == "the till receipt is signed" and rejected.decided_by == OPS
    assert state_bytes(service, "m") == before


def test_an_accepted_dispute_stays_voided_after_a_publish_and_a_restart(
        store_url: str, sesame_text: str) -> None:
    svc = Plaudit(SqlStore(store_url), FixedClock(NOW))
    svc.publish_rulebook(sesame_text, actor="test")
    svc.ingest_items(history(svc, "m"))
    view, _ = svc.disputes.open("m", "m-p1", "wrong-amount", actor="test")
    accepted = svc.disputes.accept(view.id, actor=OPS)
    assert (accepted.status, accepted.excluded, accepted.decided_by) == \
        ("accepted", True, OPS)
    voided = reference(svc, "m", {"m-p1"})
    assert state_bytes(svc, "m") == voided
    svc.publish_rulebook(sesame_text + "\n# a new version\n", actor="test")  # re-folds every member
    assert svc.rulebook().version == 2
    assert state_bytes(svc, "m") == reference(svc, "m", {"m-p1"})
    with svc.store.read() as tx:                       # the stored state row too
        no = tx.member_no("m")
        assert no is not None
        row = tx.states([no])[no]
    assert row.balance == svc.member_state("m").points.balance and row.rulebook_version == 2
    svc.store.close()

    fresh = Plaudit(SqlStore(store_url), FixedClock(NOW))  # no cache, a new process
    assert state_bytes(fresh, "m") == reference(fresh, "m", {"m-p1"})
    assert fresh.disputes.get(view.id).status == "accepted"
    with pytest.raises(Conflict, match="already accepted"):
        fresh.disputes.reject(view.id, "too late", actor=OPS)
    with pytest.raises(Conflict, match="already accepted"):
        fresh.disputes.accept(view.id, actor=OPS)
    fresh.store.close()


def test_a_resent_voided_event_is_still_a_duplicate(service: Plaudit) -> None:
    events = history(service, "m")
    service.ingest_items(events)
    view, _ = service.disputes.open("m", "m-p1", "duplicate", actor="test")
    service.disputes.accept(view.id, actor=OPS)
    again = service.ingest_items([events[0]])
    assert (again.stored, again.duplicates) == (0, 1)
    with pytest.raises(Exception, match="already stored with a different body"):
        service.ingest_items([purchase("m-p1", "m", at(0), "1")])
    assert state_bytes(service, "m") == reference(service, "m", {"m-p1"})


def test_the_keep_policy_counts_an_open_disputed_event_until_accepted(
        store: SqlStore, sesame_text: str) -> None:
    svc = Plaudit(store, FixedClock(NOW))
    keep = sesame_text.replace("  wallet: points", "  wallet: points\n  disputes: keep", 1)
    svc.publish_rulebook(keep, actor="test")
    assert svc.rulebook().program.disputes == "keep"
    svc.ingest_items(history(svc, "m"))
    before = state_bytes(svc, "m")
    first, _ = svc.disputes.open("m", "m-p3", "not-mine", actor="test")
    second, _ = svc.disputes.open("m", "m-p1", "other", actor="test")
    assert not first.excluded and state_bytes(svc, "m") == before
    svc.disputes.reject(second.id, "no", actor=OPS)
    assert state_bytes(svc, "m") == before
    svc.disputes.accept(first.id, actor=OPS)
    assert state_bytes(svc, "m") == reference(svc, "m", {"m-p3"})

    # the policy follows the rulebook in force: an open dispute's event with it
    svc.ingest_items([purchase("m-p4", "m", at(20), "50")])
    third, _ = svc.disputes.open("m", "m-p4", "wrong-time", actor="test")
    assert not third.excluded
    svc.publish_rulebook(sesame_text, actor="test")                  # back to `exclude`
    assert svc.disputes.get(third.id).excluded
    assert state_bytes(svc, "m") == reference(svc, "m", {"m-p3", "m-p4"})
    svc.publish_rulebook(keep + "\n# again\n", actor="test")
    assert not svc.disputes.get(third.id).excluded
    assert state_bytes(svc, "m") == reference(svc, "m", {"m-p3"})


def test_voiding_a_purchase_whose_points_were_spent_never_goes_below_zero(
        service: Plaudit) -> None:
    service.ingest_items([purchase("p1", "m", at(0), "100", "games"),
                          spend("s1", "m", at(1), 80),
                          purchase("p2", "m", at(2), "50", "games")])
    assert service.member_state("m").points.balance == 70
    view, _ = service.disputes.open("m", "p1", "not-mine", actor="test")
    state = service.member_state("m")
    # As if p1 never happened: the spend had nothing to take; only p2's points are left.
    assert state.points.balance == 50
    assert any("s1" in w and "only 0 of 80" in w for w in state.warnings)
    assert min(e.balance for e in service.ledger("m")) >= 0
    service.disputes.accept(view.id, actor=OPS)
    assert service.member_state("m").points.balance == 50
    # the whole balance voided, later spends short: still never negative
    service.ingest_items([spend("s2", "m", at(3), 50)])
    view2, _ = service.disputes.open("m", "p2", "not-mine", actor="test")
    state = service.member_state("m")
    assert state.points.balance == 0 and not any(e.balance < 0 for e in service.ledger("m"))
    with service.store.read() as tx:
        no = tx.member_no("m")
        assert no is not None
        assert tx.states([no])[no].balance == 0
    service.disputes.reject(view2.id, "it was you", actor=OPS)
    assert service.member_state("m").points.balance == 0  # 50 earned, 50 spent


def test_voiding_the_only_event_leaves_an_empty_member(service: Plaudit) -> None:
    service.ingest_items([purchase("p1", "m", at(0), "100")])
    view, _ = service.disputes.open("m", "p1", "not-mine", actor="test")
    state = service.member_state("m", history=False)
    assert (state.events, state.points.balance, state.last_event) == (0, 0, None)
    service.disputes.reject(view.id, "no", actor=OPS)
    assert service.member_state("m", history=False).points.balance == 200
    service.ingest_items([purchase("p2", "m", at(1), "10")])  # writes go on as before
    assert service.member_state("m", history=False).events == 2


def test_a_fold_another_process_cached_is_never_believed_after_a_dispute(
        store_url: str, sesame_text: str) -> None:
    """Process A caches the member; B leaves an event out and then stores a late one, so
    the stored state again has A's event count and last event, over other events."""
    a = Plaudit(SqlStore(store_url), FixedClock(NOW))
    a.publish_rulebook(sesame_text, actor="test")
    b = Plaudit(SqlStore(store_url), FixedClock(NOW))
    try:
        a.ingest_items(history(a, "m"))
        cached = a.member_state("m", history=False)
        assert cached.events == 5
        b.disputes.open("m", "m-p1", "not-mine", actor="test")
        b.ingest_items([purchase("late", "m", at(1), "999", "books")])
        seen = a.member_state("m", history=False)
        assert (seen.events, seen.last_event) == (cached.events, cached.last_event)
        assert to_dict(seen) == to_dict(_fold(a, "m", {"m-p1"}, history=False))
        a.ingest_items([purchase("next", "m", at(30), "1")])  # A's write re-folds
        assert a.member_state("m", history=False).points.balance == \
            b.member_state("m", history=False).points.balance
    finally:
        a.store.close()
        b.store.close()


def test_a_joined_leaderboard_shows_the_value_without_the_voided_event(
        store: SqlStore, sesame_text: str) -> None:
    clock = FixedClock(NOW)
    svc = Plaudit(store, clock)
    svc.publish_rulebook(sesame_text, actor="test")
    svc.ingest_items([purchase("p1", "m", "2026-11-20T10:00:00+08:00", "40", "books"),
                      purchase("p2", "m", "2026-11-21T10:00:00+08:00", "60", "books")])
    svc.join_leaderboard("m", "good-spend-monthly")
    top = svc.leaderboard("good-spend-monthly")
    assert [str(s.value) for s in top.standings] == ["100"]
    view, _ = svc.disputes.open("m", "p2", "wrong-amount", actor="test")
    assert [str(s.value) for s in svc.leaderboard("good-spend-monthly").standings] == ["40"]
    svc.disputes.reject(view.id, "the amount is right", actor=OPS)
    assert [str(s.value) for s in svc.leaderboard("good-spend-monthly").standings] == ["100"]


def test_refusals_name_the_field_and_store_nothing(service: Plaudit) -> None:
    service.ingest_items(history(service, "m") + history(service, "other"))
    service.record_consent("m", "city-rentals", True)
    service.ingest_items([spend("m-s", "m", at(13), 10)])
    redeemed = service.redeem("m", "coffee", "k-1")

    def refused(event_id: str, reason: str = "not-mine", member: str = "m") -> str:
        with pytest.raises(InvalidRequest) as info:
            service.disputes.open(member, event_id, reason, actor="test")
        (problem,) = info.value.problems
        return f"{problem.field}: {problem.reason}"

    unknown = refused("nope")
    assert unknown == "event_id: no event `nope` of member `m`"
    assert refused("other-p1") == unknown.replace("nope", "other-p1")  # whose? not said
    assert refused("x", member="m-nobody") == "event_id: no event `x` of member `m-nobody`"
    assert "plaudit.redeem" in refused(redeemed.id)
    assert refused("m-p1", "fraud").startswith("reason: `fraud` is not a reason code")
    with service.store.read() as tx:
        no = tx.member_no("m")
        assert no is not None
        assert tx.member_disputes(no) == []
    # a spend the member does not recognise may be disputed: it was the operator's record
    spent, _ = service.disputes.open("m", "m-s", "not-mine", actor="test")
    assert spent.excluded

    first, created = service.disputes.open("m", "m-p1", "not-mine", actor="test")
    again, created_again = service.disputes.open("m", "m-p1", "not-mine", actor="test")
    assert (created, created_again) == (True, False) and again == first
    with pytest.raises(Conflict, match="already has an open dispute"):
        service.disputes.open("m", "m-p1", "wrong-amount", actor="test")
    service.disputes.reject(first.id, "no", actor=OPS)
    with pytest.raises(Conflict, match="was rejected: an event is disputed once"):
        service.disputes.open("m", "m-p1", "not-mine", actor="test")
    for bad in ("", "   ", "x" * 501, "line\x00break", "bell\x07"):
        with pytest.raises(InvalidRequest, match="1 to 500 characters"):
            service.disputes.reject(spent.id, bad, actor=OPS)
    assert service.disputes.get(spent.id).status == "open"
    with pytest.raises(NotFound):
        service.disputes.accept("dsp_0000000000000000", actor=OPS)
    with pytest.raises(NotFound):
        service.disputes.of_member("m-nobody")


def test_consents_and_other_member_choices_are_not_disputable(service: Plaudit) -> None:
    service.ingest_items(history(service, "m"))
    service.record_consent("m", "city-rentals", True)
    service.join_leaderboard("m", "good-spend-monthly")
    with service.store.read() as tx:
        no = tx.member_no("m")
        assert no is not None
        own = [s for s in tx.member_events(no) if s.type.startswith("plaudit.")]
    assert {s.type for s in own} == {"plaudit.consent", "plaudit.leaderboard"}
    for s in own:
        with pytest.raises(InvalidRequest, match=f"is a `{s.type}` event"):
            service.disputes.open("m", s.event_id, "not-mine", actor="test")


def test_listing_pages_by_status(service: Plaudit) -> None:
    service.ingest_items(history(service, "m"))
    ids = [service.disputes.open("m", e, "other", actor="test")[0].id
           for e in ("m-p1", "m-p2", "m-p3", "m-v")]
    service.disputes.accept(ids[1], actor=OPS)
    service.disputes.reject(ids[2], "no", actor=OPS)
    assert [v.id for v in service.disputes.page().disputes] == ids
    first = service.disputes.page("open", limit=1)
    assert [v.id for v in first.disputes] == [ids[0]] and first.next is not None
    rest = service.disputes.page("open", after=first.next, limit=1)
    assert [v.id for v in rest.disputes] == [ids[3]] and rest.next is None
    assert [v.id for v in service.disputes.page("accepted").disputes] == [ids[1]]
    mine = service.disputes.of_member("m")
    assert [v.status for v in mine] == ["open", "accepted", "rejected", "open"]
    assert all(v.decided_by is None for v in mine)      # who decided: not the member's
    assert mine[2].decision == "no" and mine[2].decided_at is not None
    with pytest.raises(InvalidRequest):
        service.disputes.page("closed")


# -- the property -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plaudit]:
    path = tmp_path_factory.mktemp("disputes") / "p.db"
    svc = Plaudit(SqlStore(f"sqlite:///{path.as_posix()}"), FixedClock(NOW))
    svc.publish_rulebook((EXAMPLES / "sesame-style.yaml").read_text(), actor="test")
    yield svc
    svc.store.close()


_members = iter(range(10**9))
ACTIONS = st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["open", "accept",
                                                                    "reject"])),
                   max_size=12)
AMOUNTS = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 900),
                             st.sampled_from(["books", "games", "produce"])),
                   min_size=1, max_size=8)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(purchases=AMOUNTS, actions=ACTIONS, spent=st.integers(0, 500))
def test_the_state_is_the_fold_of_the_events_minus_the_open_and_accepted(
        shared: Plaudit, purchases: list[tuple[int, int, str]],
        actions: list[tuple[int, str]], spent: int) -> None:
    svc = shared
    member = f"h{next(_members)}"
    items = [purchase(f"{member}-{i}", member, at(d), str(a), c)
             for i, (d, a, c) in enumerate(purchases)]
    items.append(spend(f"{member}-s", member, at(61), 1))
    items.append(refund(f"{member}-r", member, at(62), "1", f"o-{member}-0"))
    svc.ingest_items(items)
    if spent:
        with contextlib.suppress(InsufficientPoints):  # not covered: not stored
            svc.ingest_items([spend(f"{member}-s2", member, at(63), spent)])
    ids = [e["id"] for e in items]
    disputes: dict[str, str] = {}
    status: dict[str, str] = {}
    for index, action in actions:
        event_id = ids[index % len(ids)]
        if action == "open" and event_id not in disputes:
            disputes[event_id] = svc.disputes.open(member, event_id, "other", actor="test")[0].id
            status[event_id] = "open"
        elif event_id in disputes and status[event_id] == "open" and action != "open":
            decided = svc.disputes.accept(disputes[event_id], actor=OPS) \
                if action == "accept" else svc.disputes.reject(disputes[event_id], "no",
                                                               actor=OPS)
            status[event_id] = decided.status
        left_out = {e for e, s in status.items() if s in ("open", "accepted")}
        assert state_bytes(svc, member, history=False) == \
            orjson.dumps(to_dict(_fold(svc, member, left_out, history=False)))
    left_out = {e for e, s in status.items() if s in ("open", "accepted")}
    assert state_bytes(svc, member) == reference(svc, member, left_out)



# -- concurrency --------------------------------------------------------------------------

def test_concurrent_opens_and_decisions_each_happen_once(store_url: str,
                                                         sesame_text: str) -> None:
    """Eight processes (their own engines and caches) open the same dispute at once, then
    decide it at once, while a ninth stores events of the member: one dispute, one
    decision, and every process then reads the fold without the event."""
    from .test_concurrency import run_together

    first = Plaudit(SqlStore(store_url), FixedClock(NOW))
    first.publish_rulebook(sesame_text, actor="test")
    first.ingest_items(history(first, "m"))
    others = [Plaudit(SqlStore(store_url), FixedClock(NOW)) for _ in range(8)]
    try:
        for svc in others:                      # every cache holds the member
            svc.member_state("m", history=False)
        opened = run_together(8, lambda i: others[i].disputes.open("m", "m-p1", "not-mine",
                                                                   actor="test"))
        assert not [r for r in opened if isinstance(r, Exception)], opened
        assert len({v.id for v, _ in opened}) == 1
        assert sum(created for _, created in opened) == 1
        dispute_id = opened[0][0].id

        def decide(i: int) -> Any:
            if i == 8:
                return first.ingest_items([purchase(f"late-{n}", "m", at(1 + n / 10), "7")
                                           for n in range(5)])
            return others[i].disputes.accept(dispute_id, actor=f"k-{i}")

        decided = run_together(9, decide)
        accepted = [r for r in decided[:8] if not isinstance(r, Exception)]
        assert len(accepted) == 1 and all(isinstance(r, Conflict) for r in decided[:8]
                                          if r not in accepted)
        assert not isinstance(decided[8], Exception), decided[8]
        want = reference(first, "m", {"m-p1"})
        for svc in (first, *others):
            assert state_bytes(svc, "m") == want
            assert orjson.dumps(to_dict(svc.member_state("m", history=False))) == \
                orjson.dumps(to_dict(_fold(svc, "m", {"m-p1"}, history=False)))
    finally:
        for svc in (first, *others):
            svc.store.close()


def test_a_page_is_offered_exactly_the_events_a_dispute_would_take(service: Plaudit) -> None:
    """`disputable` says what `open` would accept: the member's own operator events, not
    their commands (a redemption, a consent), not another member's events, not unknowns."""
    service.ingest_items(history(service, "m") + history(service, "o"))
    service.record_consent("m", "city-rentals", True)
    redemption = service.redeem("m", "coffee", "k-1")
    own = [e["id"] for e in history(service, "m")]
    words = [e["id"] for e in service.export_member("m", actor="t")["events"]
             if e["type"].startswith("plaudit.")]
    asked = [*own, *words, redemption.id, "o-p1", "nope"]
    offered = service.disputes.disputable("m", asked)
    assert offered == set(own)
    for event_id in asked:
        if event_id in offered:
            continue
        with pytest.raises((InvalidRequest, NotFound)):
            service.disputes.open("m", event_id, "other", actor="t")
