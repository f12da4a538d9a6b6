"""Group commit: several requests in one transaction, each still atomic and answered
as if it had been written alone."""

from __future__ import annotations

from pathlib import Path

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.ingest import BatchResult
from plaudit.application.service import Plaudit
from plaudit.domain.errors import EventConflict, EventRejected
from plaudit.domain.state import to_dict

from ..conftest import NOW
from .test_store_contract import count_events, purchase, spend


def _requests() -> list[list[dict[str, object]]]:
    a = purchase("a", "m1", "2026-10-01T10:00:00+08:00", "100")
    b = purchase("b", "m1", "2026-10-02T10:00:00+08:00", "50")
    c = purchase("c", "m2", "2026-10-03T10:00:00+08:00", "70")
    return [[a, b], [b, c], [a], [spend("s", "m1", "2026-10-04T10:00:00+08:00", 20)]]


def test_a_group_answers_each_request_as_if_alone(service: Plaudit) -> None:
    results = service.ingest_requests(_requests())
    assert all(isinstance(r, BatchResult) for r in results)
    got = [(r.stored, r.duplicates, sorted(r.duplicate_at)) for r in results
           if isinstance(r, BatchResult)]
    assert got == [(2, 0, []), (1, 1, [0]), (0, 1, [0]), (1, 0, [])]
    assert count_events(service.store) == 4


def test_a_group_ends_where_requests_one_by_one_end(service: Plaudit, tmp_path: Path,
                                                    sesame_text: str) -> None:
    service.ingest_requests(_requests())
    alone = Plaudit(SqlStore(f"sqlite:///{tmp_path / 'alone.db'}"), FixedClock(NOW))
    alone.publish_rulebook(sesame_text, actor="test")
    for r in _requests():
        alone.ingest_items(r)
    for m in ("m1", "m2"):
        assert to_dict(service.member_state(m)) == to_dict(alone.member_state(m))
    alone.store.close()


def test_a_refused_request_fails_alone_with_its_own_item_numbers(service: Plaudit) -> None:
    service.ingest_items([purchase("x", "m9", "2026-10-01T10:00:00+08:00", "10")])
    reused = purchase("x", "m3", "2026-10-01T10:00:00+08:00", "99")  # another body
    overspend = spend("s3", "m4", "2026-10-05T10:00:00+08:00", 10**6)
    results = service.ingest_requests([
        [purchase("g1", "m3", "2026-10-01T10:00:00+08:00", "10")],
        [purchase("g2", "m3", "2026-10-02T10:00:00+08:00", "10"), reused],
        [purchase("g3", "m4", "2026-10-01T10:00:00+08:00", "10"), overspend],
        [purchase("g4", "m4", "2026-10-03T10:00:00+08:00", "10")],
    ])
    assert isinstance(results[0], BatchResult) and results[0].stored == 1
    assert isinstance(results[1], EventConflict)
    assert [p.where for p in results[1].problems] == ["item 1"]
    assert isinstance(results[2], EventRejected)
    assert [(p.where, p.field) for p in results[2].problems] == [
        ("item 1", "attributes.points")]
    assert isinstance(results[3], BatchResult) and results[3].stored == 1
    assert service.member_state("m3").events == 1
    assert service.member_state("m4").events == 1
    assert count_events(service.store) == 3


def test_an_event_out_of_the_time_range_fails_only_its_own_request(service: Plaudit) -> None:
    """Year 9999 in +14:00 is not a representable local date. Before times were limited to
    1900..9000 it crashed the fold, and the crash failed every request grouped with it;
    now it is refused at decoding, as a 422 of its own request naming `at`."""
    far = purchase("far", "m5", "9999-12-31T23:00:00-14:00", "10")
    early = purchase("early", "m5", "0001-01-01T10:00:00+14:00", "10")
    results = service.ingest_requests([
        [purchase("ok1", "m5", "2026-10-01T10:00:00+08:00", "10")],
        [far], [early],
        [purchase("ok2", "m6", "2026-10-01T10:00:00+08:00", "10")],
    ])
    assert [type(r).__name__ for r in results] == [
        "BatchResult", "EventRejected", "EventRejected", "BatchResult"]
    for bad in results[1:3]:
        assert isinstance(bad, EventRejected)
        assert [(p.where, p.field) for p in bad.problems] == [("item 0", "at")]
        assert "1900" in bad.problems[0].reason and "9000" in bad.problems[0].reason
    assert count_events(service.store) == 2
