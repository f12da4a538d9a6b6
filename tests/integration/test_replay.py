"""Replay of the whole program: on worker processes it writes exactly what one process
writes, a member written while its page was being folded is folded again by the writer,
a worker that dies stops the replay with nothing half-written, and backtests on workers
report the same as in one process. On SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import plaudit.application.replay as replay_module
from plaudit.adapters.sql import tables as t
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.replay import fold_page, write_page
from plaudit.application.service import Plaudit
from plaudit.application.workers import WorkerFailed
from plaudit.demo import play
from plaudit.rulebook import load_rulebook
from plaudit.synthetic import member_id

from ..conftest import synthetic_file

MEMBERS = 48


@pytest.fixture
def program(service: Plaudit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Plaudit:
    """A seeded program with redemptions, leaderboards and friends; pages of 4 members,
    so 12 pages: enough for two workers."""
    path = synthetic_file(tmp_path / "events.jsonl", MEMBERS, 150, start=date(2026, 5, 1),
                          seed=11)
    assert service.ingest_file(path).ok
    play(service, MEMBERS, seed=3)
    monkeypatch.setattr(replay_module, "PAGE", 4)
    return service


def purchase(event_id: str, member: str, amount: str, at: str) -> dict[str, Any]:
    return {"id": event_id, "member": member, "type": "purchase", "at": at,
            "attributes": {"amount": amount, "category": "books", "order_id": event_id}}


def derived(store: SqlStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every derived row a replay writes, but the time it was written."""
    out = {}
    with store.engine.connect() as conn:
        for table in (t.member_states, t.leaderboard_entries, t.friendships):
            cols = [c for c in table.c if c.name != "updated_us"]
            out[table.name] = sorted(tuple(r) for r in conn.execute(select(*cols)).all())
    return out


def scramble(store: SqlStore) -> None:
    """Make every stored state wrong, so a replay that skips a member shows."""
    with store.engine.begin() as conn:
        conn.execute(t.member_states.update().values(balance=-1, score=1, tier="x"))
        conn.execute(t.leaderboard_entries.delete())
        conn.execute(t.friendships.delete())


def test_two_workers_write_exactly_what_one_process_writes(program: Plaudit,
                                                           store: SqlStore) -> None:
    serial = program.replay(workers=1)
    expected = derived(store)
    assert serial.workers == 1 and serial.members == MEMBERS
    assert expected["leaderboard_entries"] and expected["friendships"]  # covered
    scramble(store)
    seen: list[tuple[int, int]] = []
    parallel = program.replay(workers=2, progress=lambda d, n: seen.append((d, n)))
    assert parallel.workers == 2
    assert (parallel.members, parallel.events) == (serial.members, serial.events)
    assert derived(store) == expected
    assert seen[-1] == (MEMBERS, MEMBERS)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)  # in page order


def test_a_member_written_while_its_page_was_folded_is_folded_again(program: Plaudit,
                                                                   store: SqlStore) -> None:
    rb = program.rulebook()
    with store.read() as tx:
        page = tx.member_ids(0, 4)
    with store.snapshot() as tx:
        folded = fold_page(tx, rb, page)
    late = member_id(1)
    assert page[0][1] == late
    program.ingest_items([purchase("late-1", late, "500", "2026-10-01T10:00:00+08:00")])
    after_ingest = program.member_state(late).points.balance
    with store.write() as tx:
        refolded = write_page(tx, rb, folded, program.clock.now_us())
    assert refolded == 1
    # the state written is the one with the late purchase, not the older fold's
    assert program.member_state(late).points.balance == after_ingest
    with store.read() as tx:
        row = tx.states([page[0][0]])[page[0][0]]
    assert row.position == program.member_state(late).events


def test_ingest_during_a_parallel_replay_loses_nothing(program: Plaudit,
                                                       store: SqlStore) -> None:
    """Events stored while pages are in flight on the workers end up in the states."""
    sent = [0]

    def ingest_meanwhile(done: int, total: int) -> None:
        n = sent[0] = sent[0] + 1
        program.ingest_items([purchase(f"during-{n}", member_id(min(MEMBERS, done + 1)), "100",
                                       "2026-10-02T10:00:00+08:00")])

    program.replay(workers=2, progress=ingest_meanwhile)
    during = derived(store)
    program.replay(workers=1)
    assert derived(store) == during  # a fresh serial replay finds nothing to correct


def test_killed_workers_stop_the_replay_and_behind_only_finishes_it(
        program: Plaudit, store: SqlStore, sesame_text: str) -> None:
    richer = sesame_text.replace("award: 100\n      once: true", "award: 150\n      once: true")
    assert richer != sesame_text
    killed = []

    def kill_the_workers(done: int, total: int) -> None:
        """After the first page is written, with pages left for the workers to fold."""
        if not killed:
            for child in multiprocessing.active_children():
                assert child.pid is not None
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)

    program.fold_workers = 2
    with pytest.raises(WorkerFailed, match="stopped"):
        program.publish_rulebook(richer, progress=kill_the_workers, actor="test")
    assert len(killed) == 2 and not multiprocessing.active_children()
    with store.read() as tx:
        versions = [r.rulebook_version for r in tx.states(range(1, MEMBERS + 1)).values()]
    assert 2 in versions and 1 in versions  # some pages written, the rest behind
    finished = program.replay(behind_only=True, workers=2)
    assert 0 < finished.members < MEMBERS
    with store.read() as tx:
        assert {r.rulebook_version for r in tx.states(range(1, MEMBERS + 1)).values()} == {2}
    expected = derived(store)
    program.replay(workers=1)
    assert derived(store) == expected


def test_a_backtest_on_workers_reports_what_one_process_reports(
        program: Plaudit, sesame_text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import plaudit.application.backtest as backtest_module

    monkeypatch.setattr(backtest_module, "PAGE", 4)
    text = sesame_text.replace("when: score >= 650", "when: score >= 500")
    candidate = load_rulebook(text, "candidate.yaml")
    program.fold_workers = 1
    one = program.backtest(candidate, "candidate", candidate_text=text)
    program.fold_workers = 2
    two = program.backtest(candidate, "candidate", candidate_text=text)
    assert two == one
    assert one["members"] == MEMBERS and one["changed"] > 0  # the candidate moved people
