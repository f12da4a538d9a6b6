"""Bulk ingest with fold worker processes: the same file ingested on two workers stores
exactly what one process stores — refused batches, late events, redemptions and
cancellations, leaderboard words included — and a worker that dies stops the ingest with
everything acknowledged kept, so running it again finishes it. On SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import date
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql import tables as t
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.ingest import IngestReport
from plaudit.application.service import Plaudit
from plaudit.application.wire import to_json
from plaudit.application.workers import WorkerFailed
from plaudit.demo import play
from plaudit.domain.state import to_dict
from plaudit.synthetic import member_id

from ..conftest import NOW, synthetic_file
from .test_replay import derived, purchase

MEMBERS = 40
BATCH = 400


@pytest.fixture(scope="module")
def program_file(tmp_path_factory: pytest.TempPathFactory, sesame_text_module: str) -> Path:
    """Every event of a played program (purchases, refunds, redemptions, cancellations,
    leaderboard joins, friends), as an operator's JSON Lines export, with a late event, its
    repetitions and an overspend (in a batch of its own) appended."""
    tmp = tmp_path_factory.mktemp("pool")
    store = SqlStore(f"sqlite:///{tmp / 'source.db'}")
    svc = Plaudit(store, FixedClock(NOW))
    svc.publish_rulebook(sesame_text_module, actor="test")
    source = synthetic_file(tmp / "source.jsonl", MEMBERS, 120, start=date(2026, 6, 1),
                            seed=21)
    assert svc.ingest_file(source).ok
    play(svc, MEMBERS, seed=4)
    out = tmp / "program.jsonl"
    with store.engine.connect() as conn, out.open("wb") as f:
        rows = conn.execute(select(t.events.c.event_id, t.members.c.member_id, t.events.c.type,
                                   t.events.c.at, t.events.c.attributes)
                            .join(t.members, t.members.c.member_no == t.events.c.member_no)
                            .order_by(t.events.c.seq)).all()
        for event_id, member, type_, at, attributes in rows:
            f.write(orjson.dumps({"id": event_id, "member": member, "type": type_, "at": at,
                                  "attributes": orjson.loads(attributes)}) + b"\n")
        late = {"id": "late-1", "member": member_id(3), "type": "purchase",
                "at": "2026-06-02T09:00:00+08:00",
                "attributes": {"amount": "250", "category": "books", "order_id": "late-1"}}
        f.write(orjson.dumps(late) + b"\n")
        written = len(rows) + 1
        while written % BATCH:  # duplicates, up to a batch of its own for the overspend
            f.write(orjson.dumps(late) + b"\n")
            written += 1
        f.write(orjson.dumps({"id": "too-much", "member": member_id(5),
                              "type": "plaudit.spend", "at": "2026-11-01T09:00:00+08:00",
                              "attributes": {"points": 10_000_000}}) + b"\n")
    store.close()
    assert {r[2] for r in rows} >= {"plaudit.redeem", "plaudit.leaderboard"}
    return out


@pytest.fixture(scope="module")
def sesame_text_module() -> str:
    return (Path(__file__).resolve().parents[2] / "examples" / "sesame-style.yaml").read_text()


def ingest(service: Plaudit, path: Path, workers: int) -> IngestReport:
    with path.open("rb") as stream:
        return service.ingest_stream(stream, batch_size=BATCH, workers=workers)


def test_two_fold_workers_store_exactly_what_one_process_stores(
        service: Plaudit, store: SqlStore, program_file: Path, tmp_path: Path) -> None:
    alone = Plaudit(SqlStore(f"sqlite:///{tmp_path / 'alone.db'}"), FixedClock(NOW))
    alone.publish_rulebook(service.rulebook_versions()[-1].source, actor="test")
    one = ingest(alone, program_file, workers=1)
    two = ingest(service, program_file, workers=2)
    assert (two.stored, two.duplicates, two.batches) == (one.stored, one.duplicates,
                                                         one.batches)
    assert [(r.first_line, r.last_line, r.problems) for r in two.rejected] == \
        [(r.first_line, r.last_line, r.problems) for r in one.rejected]
    assert len(two.rejected) == 1  # the overspend's batch, named by its line
    assert "insufficient points" in two.rejected[0].problems[0].reason
    assert not multiprocessing.active_children()  # the workers were stopped
    expected = derived(alone.store)  # type: ignore[arg-type]
    assert expected["leaderboard_entries"]
    assert derived(store) == expected
    again = ingest(service, program_file, workers=2)  # a re-run stores nothing twice
    assert again.stored == 0 and derived(store) == expected


def test_a_killed_fold_worker_stops_the_ingest_and_a_rerun_finishes_it(
        service: Plaudit, store: SqlStore, program_file: Path, tmp_path: Path) -> None:
    alone = Plaudit(SqlStore(f"sqlite:///{tmp_path / 'alone.db'}"), FixedClock(NOW))
    alone.publish_rulebook(service.rulebook_versions()[-1].source, actor="test")
    ingest(alone, program_file, workers=1)
    acknowledged = [0]

    def kill_after_two_batches(done: int, report: IngestReport) -> None:
        acknowledged[0] = report.stored
        if report.batches == 2:
            for child in multiprocessing.active_children():
                assert child.pid is not None
                os.kill(child.pid, signal.SIGKILL)

    with program_file.open("rb") as stream, pytest.raises(WorkerFailed, match="stopped"):
        service.ingest_stream(stream, batch_size=BATCH, workers=2,
                              progress=kill_after_two_batches)
    assert not multiprocessing.active_children()
    with store.read() as tx:
        assert tx.count_events() == acknowledged[0] > 0  # what was acknowledged, no more
    rerun = ingest(service, program_file, workers=2)
    assert rerun.duplicates >= acknowledged[0]
    assert derived(store) == derived(alone.store)  # type: ignore[arg-type]


def test_a_server_whose_fold_processes_die_goes_on_folding_in_process(
        service: Plaudit, store: SqlStore) -> None:
    """Serving with fold processes (PLAUDIT_SERVE_FOLD_WORKERS): when they die, the write
    in flight is stored again, folded in the API process, and so is every later one."""
    assert service.start_folding(2) and service.folder is not None
    try:
        first = [purchase(f"p-{i}", member_id(i % 4 + 1), "100", "2026-06-01T10:00:00+08:00")
                 for i in range(8)]
        assert service.ingest_items(first).stored == 8
        assert service.member_state(member_id(1), history=False).points.balance > 0
        for child in multiprocessing.active_children():
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)
        later = [purchase(f"q-{i}", member_id(i % 4 + 1), "100", "2026-06-02T10:00:00+08:00")
                 for i in range(8)]
        assert service.ingest_items(later).stored == 8
        assert service.folder is None and not multiprocessing.active_children()
        with store.read() as tx:
            assert tx.count_events() == 16
        fresh = Plaudit(store, FixedClock(NOW))  # folds everything from the database
        for i in range(1, 5):
            assert service.member_state(member_id(i), history=False) == \
                fresh.member_state(member_id(i), history=False)
    finally:
        service.stop_folding()


def test_present_state_documents_are_rendered_by_the_owning_fold_process(
        service: Plaudit, store: SqlStore) -> None:
    """``GET /v1/members/{id}`` with fold processes: the member's owner renders the JSON
    document, byte for byte what the API renders from a fold of the stored events."""
    assert service.start_folding(2) and service.folder is not None
    try:
        items = [purchase(f"p-{i}", member_id(i % 4 + 1), "100", "2026-06-01T10:00:00+08:00")
                 for i in range(8)]
        assert service.ingest_items(items).stored == 8
        fresh = Plaudit(store, FixedClock(NOW))  # folds everything from the database
        for i in range(1, 5):
            doc = service.member_json(member_id(i))
            view = fresh.member_state(member_id(i), history=False)
            assert doc == to_json(view)
            assert orjson.loads(doc) == to_dict(view)
        assert len(service.cache) == 0  # every document came from an owner
    finally:
        service.stop_folding()
    alone = service.member_json(member_id(1))  # no fold processes: rendered here
    assert alone == to_json(fresh.member_state(member_id(1), history=False))
