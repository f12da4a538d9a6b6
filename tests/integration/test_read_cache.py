"""Reads served from the fold cache must equal a fold of the stored events, always.

``member_state`` answers from the accumulator this process kept after writing, but only
while it matches the member's stored state row. These tests try to make it lie: another
process writing the same member, a rejected batch, a read in the past, and readers racing a
writer in threads.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.domain.calendar import to_us
from plaudit.domain.errors import EventRejected
from plaudit.domain.state import MemberState, to_dict

from ..conftest import NOW
from .test_store_contract import purchase, spend

T0 = datetime.fromisoformat("2026-10-01T10:00:00+08:00")


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def folded(svc: Plaudit, member: str, as_of: int | None = None) -> MemberState:
    """The reference: a fold of the stored events (naming the version skips the cache)."""
    version = svc.rulebook().version
    return svc.member_state(member, as_of, version=version, history=False)


def test_cached_reads_equal_a_fold_of_the_events(service: Plaudit) -> None:
    service.ingest_items([purchase(f"e{i}", f"m{i % 3}", at(i), f"{10 + i}.25",
                                   "books" if i % 2 else "other") for i in range(30)])
    service.ingest_items([spend("s1", "m0", at(40), 30)])
    for m in ("m0", "m1", "m2"):
        assert service.cache.view(_state(service, m), service.rulebook(), NOW) is not None
        assert to_dict(service.member_state(m, history=False)) == to_dict(folded(service, m))
    past = to_us(T0 + timedelta(minutes=10))
    assert to_dict(service.member_state("m0", past, history=False)) == \
        to_dict(folded(service, "m0", past))
    assert service.member_state("m0", past, history=False).events < \
        service.member_state("m0", history=False).events


def test_another_process_writing_the_member_is_seen(store_url: str, sesame_text: str) -> None:
    a = Plaudit(SqlStore(store_url), FixedClock(NOW))
    a.publish_rulebook(sesame_text, actor="test")
    b = Plaudit(SqlStore(store_url), FixedClock(NOW))
    try:
        a.ingest_items([purchase("e1", "m", at(0), "100")])
        assert a.member_state("m", history=False).events == 1  # from a's cache
        b.ingest_items([purchase("e2", "m", at(5), "100")])
        seen = a.member_state("m", history=False)
        assert seen.events == 2
        assert to_dict(seen) == to_dict(folded(b, "m"))
    finally:
        a.store.close()
        b.store.close()


def test_a_read_that_folds_keeps_its_fold_for_the_next_read(store_url: str,
                                                            sesame_text: str) -> None:
    """After a restart (or when another process wrote the member) the first read folds
    the stored events; it keeps that fold, so the next read is a view, and a later write
    through this process continues from it."""
    writer = Plaudit(SqlStore(store_url), FixedClock(NOW))
    writer.publish_rulebook(sesame_text, actor="test")
    writer.ingest_items([purchase(f"e{i}", "m", at(i), "10") for i in range(5)])
    writer.store.close()
    fresh = Plaudit(SqlStore(store_url), FixedClock(NOW))  # a restarted process
    try:
        assert len(fresh.cache) == 0
        first = fresh.member_state("m", history=False)
        assert len(fresh.cache) == 1
        assert fresh.cache.view(_state(fresh, "m"), fresh.rulebook(), NOW) is not None
        assert to_dict(fresh.member_state("m", history=False)) == to_dict(first)
        # a read in the past, or with history, folds something else and keeps nothing new
        fresh.cache.clear()
        fresh.member_state("m", to_us(T0 + timedelta(minutes=2)), history=False)
        fresh.member_state("m", history=True)
        assert len(fresh.cache) == 0
        fresh.member_state("m", history=False)
        fresh.ingest_items([purchase("e9", "m", at(9), "10")])
        assert to_dict(fresh.member_state("m", history=False)) == to_dict(folded(fresh, "m"))
        assert fresh.member_state("m", history=False).events == 6
    finally:
        fresh.store.close()


def test_a_rejected_batch_leaves_no_trace_in_reads(service: Plaudit) -> None:
    service.ingest_items([purchase("e1", "m", at(0), "100")])
    before = to_dict(service.member_state("m", history=False))
    try:
        service.ingest_items([purchase("e2", "m", at(5), "100"), spend("s", "m", at(6), 10**6)])
    except EventRejected:
        pass
    else:
        raise AssertionError("an overspend must be refused")
    assert to_dict(service.member_state("m", history=False)) == before


def test_readers_racing_a_writer_see_whole_batches(service: Plaudit) -> None:
    """Four threads read while one writes batches of 5: every read is the fold of a
    whole number of committed batches, never a half-applied accumulator."""
    service.ingest_items([purchase("seed", "m", at(0), "10")])
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(service.member_state("m", history=False).events)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)
                return

    readers = [threading.Thread(target=read) for _ in range(4)]
    for r in readers:
        r.start()
    for b in range(40):
        service.ingest_items([purchase(f"b{b}-{k}", "m", at(1 + b * 5 + k), "10")
                              for k in range(5)])
    stop.set()
    for r in readers:
        r.join(timeout=60)
    assert not errors, errors[0]
    assert seen and all((n - 1) % 5 == 0 for n in seen), sorted(set(seen))
    assert to_dict(service.member_state("m", history=False)) == to_dict(folded(service, "m"))


def _state(svc: Plaudit, member: str):  # type: ignore[no-untyped-def]
    with svc.store.read() as tx:
        no = tx.member_no(member)
        assert no is not None
        return tx.states([no])[no]
