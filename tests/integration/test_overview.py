"""The console overview's reads: events per day and the score histogram, on SQLite and on
PostgreSQL (each test runs once per backend), against what the stored rows say."""

from __future__ import annotations

from typing import Any

from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit

from ..conftest import NOW

DAY_US = 86_400_000_000


def purchase(i: str, member: str, at: str, amount: str = "40") -> dict[str, Any]:
    return {"id": i, "member": member, "type": "purchase", "at": at,
            "attributes": {"amount": amount, "category": "books", "order_id": f"o-{i}"}}


def test_events_are_counted_per_day_of_the_given_offset(service: Plaudit,
                                                         store: SqlStore) -> None:
    service.ingest_items([
        purchase("a", "m-1", "2026-11-20T23:30:00+00:00"),   # 21st at UTC+8
        purchase("b", "m-1", "2026-11-21T01:00:00+00:00"),   # 21st either way
        purchase("c", "m-2", "2026-11-21T17:00:00+00:00"),   # 22nd at UTC+8
        purchase("d", "m-2", "2026-11-01T10:00:00+00:00"),   # before the window
    ])
    day = (NOW // DAY_US)  # 2026-11-22 UTC
    since = (day - 2) * DAY_US
    with store.read() as tx:
        utc = tx.events_per_day(since)
        plus8 = tx.events_per_day(since - 8 * 3_600_000_000, 8 * 3_600_000_000)
    assert utc == {day - 2: 1, day - 1: 2}
    assert plus8 == {day - 1: 2, day: 1}


def test_the_histogram_buckets_stored_scores(service: Plaudit, store: SqlStore) -> None:
    service.ingest_items([purchase(f"e{i}", f"m-{i}", "2026-11-20T10:00:00+08:00",
                                   str(10 + 300 * i)) for i in range(6)])
    with store.read() as tx:
        scores = [r.score for r in tx.states(range(1, 7)).values()]
        counts = tx.score_histogram(350, 50)
        narrow = tx.score_histogram(0, 1_000)
    assert sum(counts.values()) == sum(1 for s in scores if s is not None) == 6
    for bucket, n in counts.items():
        assert n == sum(1 for s in scores if s is not None and (s - 350) // 50 == bucket)
    assert narrow == {0: 6}


def test_the_overview_lists_every_day_band_and_tier(service: Plaudit) -> None:
    service.ingest_items([purchase("a", "m-1", "2026-11-21T10:00:00+08:00"),
                          purchase("b", "m-2", "2026-11-21T11:00:00+08:00")])
    view = service.overview(days=30)
    assert len(view.events_per_day) == 30
    assert view.events_per_day[-1].date == "2026-11-22"
    assert [d.events for d in view.events_per_day][-2:] == [2, 0]
    assert (view.members, view.events, view.rulebook_version) == (2, 2, 1)
    rb = service.rulebook()
    assert rb.score is not None and rb.tiers is not None
    assert [name for name, _ in view.bands] == [b.name for b in rb.score.bands]
    assert [name for name, _ in view.tiers] == [t.name for t in rb.tiers.levels]
    assert sum(n for _, n in view.bands) == 2
    assert sum(b.members for b in view.histogram) == 2
    assert view.histogram[0].low == rb.score.low and view.histogram[-1].high == rb.score.high
    assert view.open_disputes == 0


def test_open_disputes_are_counted_across_members_and_decided_ones_are_not(
        service: Plaudit) -> None:
    service.ingest_items([purchase("a", "m-1", "2026-11-21T10:00:00+08:00"),
                          purchase("b", "m-1", "2026-11-21T11:00:00+08:00"),
                          purchase("c", "m-2", "2026-11-21T12:00:00+08:00")])
    opened = [service.disputes.open(m, e, "not-mine", actor="t")[0]
              for m, e in (("m-1", "a"), ("m-1", "b"), ("m-2", "c"))]
    assert service.overview(days=7).open_disputes == 3
    service.disputes.accept(opened[0].id, actor="ops")
    assert service.overview(days=7).open_disputes == 2
