"""Real concurrency: several writers (threads, each with its own engine and cache, as
separate processes would have) hitting one database at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.domain.errors import EventRejected
from plaudit.domain.state import to_dict

from .test_store_contract import count_events, purchase, spend

WRITERS = 8


def run_together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Start ``n`` threads at the same instant; collect results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def target(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as e:  # the assertion looks at what each writer saw
            results[i] = e

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    return results


def test_writers_sending_the_same_events_store_each_exactly_once(
        service: Plaudit, store_url: str, clock: FixedClock) -> None:
    events = [purchase(f"e{i:03d}", f"m-{i % 5}", f"2026-06-{1 + i % 28:02d}T10:00:00+08:00",
                       f"{10 + i}", "games") for i in range(60)]

    def work(i: int) -> Any:
        store = SqlStore(store_url, migrate=False)
        try:
            writer = Plaudit(store, clock)
            # every writer sends everything, in its own order and batching
            mine = events[i * 7 % 60:] + events[:i * 7 % 60]
            return [writer.ingest_items(mine[k:k + 20]) for k in range(0, 60, 20)]
        finally:
            store.close()

    results = run_together(WRITERS, work)
    assert not [r for r in results if isinstance(r, Exception)]
    stored = sum(b.stored for r in results for b in r)
    assert stored == 60, "each event stored by exactly one writer"
    assert count_events(service.store) == 60  # type: ignore[arg-type]
    fresh = Plaudit(SqlStore(store_url, migrate=False), clock)
    for m in range(5):
        folded = fresh.member_state(f"m-{m}")
        assert folded.events == 12
        assert to_dict(folded) == to_dict(service.member_state(f"m-{m}"))


def test_concurrent_spends_never_overspend(service: Plaudit, store_url: str,
                                           clock: FixedClock) -> None:
    service.ingest_items([purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "100", "games")])

    def work(i: int) -> Any:
        store = SqlStore(store_url, migrate=False)
        try:
            return Plaudit(store, clock).ingest_items(
                [spend(f"s{i}", "m-1", f"2026-06-02T10:00:0{i}+08:00", 30)])
        finally:
            store.close()

    results = run_together(WRITERS, work)
    accepted = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, EventRejected)]
    assert len(accepted) == 3 and len(refused) == WRITERS - 3, results
    state = service.member_state("m-1")
    assert state.points.balance == 10 and state.points.spent == 90


@pytest.mark.parametrize("writers", [4])
def test_cached_accumulators_notice_other_writers(service: Plaudit, store_url: str,
                                                  clock: FixedClock, writers: int) -> None:
    """A writer's cached fold is stale once another process wrote the member."""
    a = Plaudit(SqlStore(store_url, migrate=False), clock)
    b = Plaudit(SqlStore(store_url, migrate=False), clock)
    a.ingest_items([purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "100", "games")])
    b.ingest_items([purchase("e2", "m-1", "2026-06-02T10:00:00+08:00", "50", "games")])
    a.ingest_items([spend("s1", "m-1", "2026-06-03T10:00:00+08:00", 150)])
    assert a.member_state("m-1").points.balance == 0
    assert writers == 4


def test_concurrent_publishes_of_one_text_create_one_version(service: Plaudit, store_url: str,
                                                             sesame_text: str) -> None:
    richer = sesame_text.replace("award: 100\n      once: true", "award: 150\n      once: true")
    assert richer != sesame_text

    def work(i: int) -> Any:
        store = SqlStore(store_url, migrate=False)
        try:
            return Plaudit(store, FixedClock(service.clock.now_us())).publish_rulebook(
                richer, actor="test")
        finally:
            store.close()

    results = run_together(WRITERS, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.created for r in results) == [False] * (WRITERS - 1) + [True]
    assert {r.version for r in results} == {2}
    assert [row.version for row in service.rulebook_versions()] == [1, 2]


def test_a_write_during_a_refold_is_never_overwritten(service: Plaudit, store_url: str,
                                                      sesame_text: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process records a consent just after a publish's re-fold has read the
    member's events. The re-fold holds the member, so the write waits and then lands on
    top: the stored state keeps the consent (it was once overwritten by the re-fold's
    older fold, and the partner check refused a consenting member)."""
    from plaudit.adapters.sql.store import SqlTransaction

    service.ingest_items([purchase("e1", "m-1", "2026-06-01T10:00:00+08:00", "100")])
    other = Plaudit(SqlStore(store_url, migrate=False), FixedClock(service.clock.now_us()))
    read_events = SqlTransaction.events_of_members
    writer: list[threading.Thread] = []

    def events_then_a_concurrent_write(self: SqlTransaction, nos: Any) -> Any:
        rows = read_events(self, nos)
        if not writer:
            writer.append(threading.Thread(
                target=other.record_consent, args=("m-1", "city-rentals", True)))
            writer[0].start()
            writer[0].join(timeout=0.5)  # without the member lock it commits right here
        return rows

    monkeypatch.setattr(SqlTransaction, "events_of_members", events_then_a_concurrent_write)
    service.publish_rulebook(sesame_text + "\n# v2\n", actor="test")
    monkeypatch.undo()
    writer[0].join(timeout=60)
    other.store.close()
    with service.store.read() as tx:
        no = tx.member_no("m-1")
        assert no is not None
        row = tx.states([no])[no]
        assert (row.position, row.consents) == (2, "city-rentals")
    assert service.check_perk("city-rentals", "m-1", "deposit_free_rental").member == "m-1"
