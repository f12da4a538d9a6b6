"""Replay: every member's stored state recomputed from their events under one rulebook.

A publish replays the program under the new version (``behind_only`` finishes one that was
cut off); ``plaudit replay`` does it on demand (after restoring a backup, after a crash,
to re-derive states from the event log). Members go in pages of :data:`PAGE`, in member
order. Each page is folded — by this process or by one of several worker processes
(:mod:`plaudit.application.workers`) — from one snapshot of its events and state rows;
this process is the **one writer**: it takes the page's member locks and writes a
member's new state only if the stored row is still the one the fold read. A member written
meanwhile (an ingest, a dispute, an erasure: each changes the row in the transaction that
changes the events) is folded again right there, under its lock, from what is stored now.
So a replay never writes a state older than the member's events, whatever runs beside it,
and the fold itself runs outside the write lock: ingest keeps going during a publish.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plaudit.application import snapshots
from plaudit.application.ingest import BoardRows, board_rows, events_by_member, state_row
from plaudit.application.ports import SnapshotRow, StateRow, Store, Transaction
from plaudit.application.workers import Page, RulebookText, pages, run_pages, workers_for
from plaudit.domain.fold import MemberFold, fold_events
from plaudit.domain.rulebook import Rulebook

PAGE = 500


@dataclass
class PageFold:
    """One page folded: what the writer needs, as plain rows."""

    page: Page
    seen: dict[int, StateRow]
    """The stored state rows the fold read its events with (absent: no row then)."""
    states: list[StateRow]
    boards: BoardRows
    events: int
    snapshots: list[SnapshotRow] = field(default_factory=list)
    """Fresh snapshots of the members with enough events (see application/snapshots.py)."""


@dataclass(frozen=True)
class ReplayReport:
    members: int
    """Members whose state was recomputed (every member paged, including any with no
    event left)."""
    events: int
    refolded: int
    """Members written meanwhile by someone else, folded again by the writer."""
    workers: int
    seconds: float


def fold_page(tx: Transaction, rulebook: Rulebook, page: Page, snapshot_every: int = 0
              ) -> PageFold:
    """Fold every member of ``page`` from its stored events read in ``tx``."""
    nos = [no for no, _ in page]
    seen = tx.states(nos)
    by_no = events_by_member(tx, rulebook, nos)
    states: list[StateRow] = []
    folded: list[tuple[int, MemberFold]] = []
    events = 0
    for no, member in page:
        evs = by_no.pop(no)
        if evs:
            events += len(evs)
            acc = fold_events(rulebook, member, evs)
            states.append(state_row(no, acc))
            folded.append((no, acc))
    return PageFold(page, seen, states, board_rows(folded), events,
                    snapshots.due_rows(folded, snapshot_every))


class ReplayJob:
    """Fold pages under one rulebook: compiled once per process, never pickled."""

    def __init__(self, source: RulebookText, compiled: Rulebook | None = None,
                 snapshot_every: int = 0) -> None:
        self.source = source
        self.rulebook = compiled
        self.snapshot_every = snapshot_every

    def __getstate__(self) -> dict[str, Any]:
        return {"source": self.source, "rulebook": None, "snapshot_every": self.snapshot_every}

    def prepare(self) -> None:
        if self.rulebook is None:
            self.rulebook = self.source.compile()

    def run(self, store: Store, page: Page) -> PageFold:
        assert self.rulebook is not None
        with store.snapshot() as tx:
            return fold_page(tx, self.rulebook, page, self.snapshot_every)


def write_page(tx: Transaction, rulebook: Rulebook, fold: PageFold, now_us: int,
               snapshot_every: int = 0) -> int:
    """Write a folded page under its members' locks; returns how many members had been
    written meanwhile and were folded again here. The page's older snapshots go (a new
    version cannot use them), replaced by the fresh ones."""
    nos = [no for no, _ in fold.page]
    tx.lock_members(nos)
    current = tx.states(nos)
    stale = {no for no in nos if current.get(no) != fold.seen.get(no)}
    states = [s for s in fold.states if s.member_no not in stale]
    boards = fold.boards.without(stale)
    fresh = [s for s in fold.snapshots if s.member_no not in stale]
    if stale:
        again = fold_page(tx, rulebook, [(no, m) for no, m in fold.page if no in stale],
                          snapshot_every)
        states.extend(again.states)
        again.boards.write(tx)
        fresh.extend(again.snapshots)
    tx.put_states(states, now_us)
    boards.write(tx)
    tx.drop_snapshots(nos)
    tx.put_snapshots(fresh)
    return len(stale)


def replay(store: Store, rulebook: Rulebook, source: RulebookText, *,
           now_us: Callable[[], int], workers: int | None = 1, behind_only: bool = False,
           progress: Callable[[int, int], Any] | None = None,
           snapshot_every: int = 0) -> ReplayReport:
    """Recompute every member's stored state under ``rulebook`` (whose text is ``source``);
    with ``behind_only``, only members whose state is at another version. Each page is one
    write transaction: a replay cut off anywhere leaves every member either done or behind,
    and running it again with ``behind_only`` finishes it."""
    started = time.perf_counter()
    behind = rulebook.version if behind_only else None
    with store.write() as tx:  # boards gone from the rulebook list no one
        tx.drop_boards([b.id for b in rulebook.leaderboards])
        total = tx.count_members(behind)
    n = workers_for(total, PAGE, workers)
    done = events = refolded = 0
    job = ReplayJob(source, rulebook, snapshot_every)
    for fold in run_pages(job, pages(store, behind, PAGE), store=store, workers=n):
        with store.write() as tx:
            refolded += write_page(tx, rulebook, fold, now_us(), snapshot_every)
        done += len(fold.page)
        events += fold.events
        if progress is not None:
            progress(done, total)
    return ReplayReport(done, events, refolded, n, time.perf_counter() - started)


__all__ = ["PAGE", "PageFold", "ReplayJob", "ReplayReport", "fold_page", "replay",
           "write_page"]
