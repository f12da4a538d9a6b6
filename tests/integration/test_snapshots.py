"""Persisted fold snapshots on SQLite and PostgreSQL: a cache far smaller than the members
resumes them from snapshots and stores exactly what a cache holding everyone stores; a
snapshot that no longer is a prefix of the member's events (a late event, from this
process or another), one of an older revision (a dispute) or version (a publish) is not
used; erasure leaves no snapshot of the member, nor of those whose events it rewrote."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql import store as store_module
from plaudit.adapters.sql import tables as t
from plaudit.adapters.sql.store import SqlStore
from plaudit.application import ingest as ingest_module
from plaudit.application import snapshots
from plaudit.application.ingest import IngestReport, to_event
from plaudit.application.service import Plaudit
from plaudit.domain.calendar import to_us
from plaudit.domain.state import to_dict
from plaudit.synthetic import member_id

from ..conftest import NOW
from .test_fold_pool import BATCH, MEMBERS, program_file, sesame_text_module  # noqa: F401
from .test_replay import derived

EVERY = 4


def ingest(svc: Plaudit, path: Path, workers: int = 1) -> IngestReport:
    with path.open("rb") as stream:
        return svc.ingest_stream(stream, batch_size=BATCH, workers=workers)


@pytest.fixture
def reference(tmp_path: Path, sesame_text_module: str,  # noqa: F811
              program_file: Path) -> Plaudit:  # noqa: F811
    """The program ingested with a cache holding every member and no snapshots."""
    svc = Plaudit(SqlStore(f"sqlite:///{tmp_path / 'reference.db'}"), FixedClock(NOW),
                  cache_size=10_000, snapshot_every=0)
    svc.publish_rulebook(sesame_text_module, actor="test")
    ingest(svc, program_file)
    return svc


@pytest.fixture
def small(store: SqlStore, sesame_text_module: str) -> Plaudit:  # noqa: F811
    """A service whose cache holds two members, writing a snapshot every 4 events."""
    svc = Plaudit(store, FixedClock(NOW), cache_size=2, snapshot_every=EVERY)
    svc.publish_rulebook(sesame_text_module, actor="test")
    return svc


def snapshot_rows(store: SqlStore) -> dict[int, tuple[int, int, int]]:
    s = t.fold_snapshots
    with store.engine.connect() as conn:
        return {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
            select(s.c.member_no, s.c.rulebook_version, s.c.position, s.c.revision))}


def trusted(svc: Plaudit, member: str) -> bool:
    """Whether the member's stored snapshot would be resumed from now."""
    rb = svc.rulebook()
    with svc.store.read() as tx:
        no = tx.member_no(member)
        assert no is not None
        return snapshots.resume_in(tx, rb, no, member, tx.states([no]).get(no),
                                   tx.snapshots([no]).get(no),
                                   to_event=lambda s: to_event(rb, s)) is not None


def states_match(svc: Plaudit, reference: Plaudit) -> None:
    assert derived(svc.store) == derived(reference.store)  # type: ignore[arg-type]
    svc.cache.clear()
    for i in range(1, MEMBERS + 1):  # reads resumed from snapshots equal full folds
        m = member_id(i)
        assert to_dict(svc.member_state(m, NOW, history=False)) == \
            to_dict(reference.member_state(m, NOW, history=True)) | {"awards": None}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_small_cache_resumes_from_snapshots_and_stores_what_a_full_cache_stores(
        small: Plaudit, reference: Plaudit, program_file: Path,  # noqa: F811
        workers: int) -> None:
    report = ingest(small, program_file, workers)
    assert report.stored > 0 and len(report.rejected) == 1  # the overspend's batch
    rows = snapshot_rows(small.store)  # type: ignore[arg-type]
    assert len(rows) >= MEMBERS // 2
    if workers == 1:
        assert small.cache.resumed > 0  # cache misses were resumed, not re-folded
    states_match(small, reference)


def late_purchase(event_id: str, member: str, at: str) -> dict[str, object]:
    return {"id": event_id, "member": member, "type": "purchase", "at": at,
            "attributes": {"amount": "80", "category": "books", "order_id": event_id}}


def test_late_events_disputes_and_publishes_make_a_snapshot_unusable(
        small: Plaudit, reference: Plaudit, program_file: Path,  # noqa: F811
        tmp_path: Path) -> None:
    ingest(small, program_file)
    m = member_id(3)
    assert trusted(small, m)
    # a late event stored by another process (its own cache, writing no snapshot)
    other = Plaudit(small.store, FixedClock(NOW), snapshot_every=0)
    late: list[object] = [late_purchase("late-a", m, "2026-06-03T10:00:00+08:00")]
    for svc in (other, reference):
        assert svc.ingest_items(late).stored == 1
    assert not trusted(small, m)  # one more event before its last: not a prefix
    states_match(small, reference)
    # this process re-folds from scratch and writes a fresh snapshot
    more: list[object] = [late_purchase("late-b", m, "2026-06-04T10:00:00+08:00")]
    for svc in (small, reference):
        assert svc.ingest_items(more).stored == 1
    assert trusted(small, m)
    states_match(small, reference)
    # a dispute that leaves an event out bumps the revision
    for svc in (small, reference):
        view, _ = svc.disputes.open(m, "late-b", "not-mine", actor="test")
        svc.disputes.accept(view.id, actor="test")
    assert not trusted(small, m)
    states_match(small, reference)
    # a new version: every snapshot is of the old one; the replay writes fresh ones
    text = small.rulebook_versions()[-1].source.replace("cap: {max: 2000", "cap: {max: 1999")
    before = snapshot_rows(small.store)  # type: ignore[arg-type]
    for svc in (small, reference):
        svc.publish_rulebook(text, actor="test")
    after = snapshot_rows(small.store)  # type: ignore[arg-type]
    assert {v for v, _, _ in before.values()} == {1}
    assert after and {v for v, _, _ in after.values()} == {2}
    states_match(small, reference)


def test_erasure_leaves_no_snapshot_of_the_member_nor_of_members_naming_them(
        small: Plaudit, program_file: Path) -> None:  # noqa: F811
    ingest(small, program_file)
    with small.store.read() as tx:
        gone = tx.member_no(member_id(7))
        assert gone is not None
        referrers = [no for no, _, _ in tx.events_naming(member_id(7), gone)]
    assert gone in snapshot_rows(small.store)  # type: ignore[arg-type]
    small.erase_member(member_id(7), actor="test")
    rows = snapshot_rows(small.store)  # type: ignore[arg-type]
    assert gone not in rows and not set(referrers) & set(rows)
    with small.store.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(select(func.count()).select_from(t.fold_snapshots)
                            .where(t.fold_snapshots.c.member_no == gone)).scalar_one() == 0


def test_reads_before_a_snapshot_fold_every_event(small: Plaudit, reference: Plaudit,
                                                  program_file: Path) -> None:  # noqa: F811
    ingest(small, program_file)
    small.cache.clear()
    early = to_us(__import__("datetime").datetime.fromisoformat("2026-07-01T00:00:00+08:00"))
    for i in (1, 2, 3):
        m = member_id(i)
        assert to_dict(small.member_state(m, early, history=False)) == \
            to_dict(reference.member_state(m, early, history=False))


@pytest.mark.parametrize("every", [0, EVERY])
def test_cache_misses_read_in_chunks_store_what_a_full_cache_stores(
        store: SqlStore, reference: Plaudit, program_file: Path,  # noqa: F811
        sesame_text_module: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        every: int) -> None:
    """Members folded again are read a chunk at a time (histories, or snapshots and their
    tails): a chunk smaller than a batch's members, with and without snapshots."""
    monkeypatch.setattr(ingest_module, "REFOLD_CHUNK", 3)
    svc = Plaudit(store, FixedClock(NOW), cache_size=2, snapshot_every=every)
    svc.publish_rulebook(sesame_text_module, actor="test")
    report = ingest(svc, program_file)
    assert report.stored > 0 and len(report.rejected) == 1  # the overspend's batch
    assert (svc.cache.resumed > 0) == bool(every)
    states_match(svc, reference)


@pytest.mark.parametrize("chunk", [None, 4])
def test_member_tails_read_what_member_tail_reads(
        small: Plaudit, program_file: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        chunk: int | None) -> None:
    """The batched read behind resuming many members: per member, the events before its
    own bound are counted and those at or after it returned; excluded events are neither
    (in one statement, or in statements of two members each)."""
    if chunk is not None:
        monkeypatch.setattr(store_module, "_CHUNK", chunk)
    ingest(small, program_file)
    store = small.store
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        first = conn.execute(select(t.events.c.event_id).order_by(t.events.c.at_us)
                             .limit(3)).scalars().all()
        conn.execute(t.events.update().where(t.events.c.event_id.in_(first))
                     .values(excluded=True))
    with store.read() as tx:
        nos = [no for no in (tx.member_no(member_id(i)) for i in range(1, MEMBERS + 1))
               if no is not None]
        bounds = {no: min(r.at_us for r in tx.member_events(no)) + k * 86_400_000_000
                  for k, no in enumerate(nos)}
        bounds[nos[0]] = 0  # before every event of the member
        many = tx.member_tails(bounds)
        one = {no: tx.member_tail(no, since) for no, since in bounds.items()}
    assert set(many) == set(one)
    for no, (before, rows) in one.items():
        got_before, got_rows = many[no]
        assert got_before == before
        assert sorted(got_rows) == sorted(rows) and not set(first) & {r.event_id
                                                                       for r in got_rows}
    assert many[nos[0]][0] == 0 and any(b for b, _ in many.values())


def test_over_its_memory_budget_the_cache_gives_up_members_and_stores_the_same(
        store: SqlStore, reference: Plaudit, program_file: Path,  # noqa: F811
        sesame_text_module: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """PLAUDIT_MEMORY_MB: a process over its budget (1 MB: always) keeps ever fewer
    accumulators (a quarter fewer after each write it grew in, down to the floor), and
    what it stores does not change."""
    monkeypatch.setattr(ingest_module, "MIN_CACHED", 3)
    svc = Plaudit(store, FixedClock(NOW), cache_size=10_000, snapshot_every=EVERY,
                  memory_mb=1)
    svc.publish_rulebook(sesame_text_module, actor="test")
    report = ingest(svc, program_file)
    assert report.stored > 0 and len(report.rejected) == 1
    assert 3 <= svc.cache.capacity < MEMBERS and svc.cache.limit == 10_000
    assert len(svc.cache) <= svc.cache.capacity
    states_match(svc, reference)
