"""Bulk ingest's fold workers: processes that each own a share of the members.

One process cannot both decode, store and fold a file fast: the fold alone fills most of
a core. So a bulk ingest splits the work. This process stays the **one writer**: it
decodes each batch, checks and inserts its events, and writes the derived rows, all in the
batch's transaction as before. The fold moves out: member ``no`` belongs to worker
``no % N``, which keeps that member's accumulator in its own cache between batches, so a
time-ordered file is folded incrementally across processes exactly as it is in one. A
batch's members are sent to their owners as plain rows (the canonical attribute JSON the
writer computed for the insert anyway; a worker rebuilds the events from it, as a re-fold
from the database does), each owner folds its share at the same time, and the writer
stores what they return — state rows, leaderboard rows, the rewards cancellations gave
back — before it commits.

Nothing in a worker is trusted blindly: an accumulator is used only while it matches the
state row the writer read for the member in this batch's transaction (the same check as
:class:`~plaudit.application.ingest.FoldCache`), so a batch the writer rolled back, or a
member another process wrote, is re-folded from the database — the worker reads the
member's committed events on its own connection, plus this batch's new ones, which it was
sent. A refusal raised in a worker (an overspend, a redemption out of limits) comes back as
itself, naming the batch item, and the writer rolls the batch back. A worker that dies
fails the batch it was folding and the pool: what was acknowledged was committed, and a
re-run stores only what is missing.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from plaudit.application import snapshots
from plaudit.application.collector import FreezeAfterWrites, quiet_collector
from plaudit.application.ingest import (
    BoardRows,
    FoldBatch,
    FoldCache,
    FoldOutcome,
    events_by_member,
    fold_batch,
    to_event,
)
from plaudit.application.ports import StateRow, Store, StoredEvent
from plaudit.application.wire import to_json
from plaudit.application.workers import RulebookText, WorkerFailed
from plaudit.domain.errors import PlauditError
from plaudit.domain.events import Event
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.state import MemberState

_POLL_SECONDS = 1.0
Row = tuple[str, str, int, str, str, str]
"""A new event as sent to its member's owner: id, type, at_us, at, canonical attributes,
batch label."""
Share = list[tuple[int, str, StateRow | None, bool, list[Row]]]
"""A worker's share of a batch: (member_no, member id, stored state, created, events)."""


class FoldPool:
    """``workers`` fold processes, started at once and stopped by :meth:`close` (or at the
    end of a ``with`` block). Implements :class:`~plaudit.application.ingest.Folder`."""

    def __init__(self, opener: Callable[[], Store],
                 source_of: Callable[[Rulebook], RulebookText], workers: int, *,
                 cache_members: int, snapshot_every: int = 0,
                 memory_mb: int | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.source_of = source_of
        self.conns: list[Connection] = []
        self.procs: list[BaseProcess] = []
        self.known: list[set[int]] = []
        self.lock = threading.Lock()
        """One caller at a time talks to the workers (a server's threads share the pool)."""
        per_worker = max(1, cache_members // workers)
        for i in range(workers):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(opener, theirs, per_worker, snapshot_every,
                                                    memory_mb),
                               name=f"plaudit-fold-{i}", daemon=True)
            proc.start()
            theirs.close()
            self.conns.append(mine)
            self.procs.append(proc)
            self.known.append(set())

    def __enter__(self) -> FoldPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fold(self, rulebook: Rulebook, batch: FoldBatch, *,
             meanwhile: Callable[[], None] = lambda: None) -> FoldOutcome:
        with self.lock:
            return self._fold(rulebook, batch, meanwhile)

    def view(self, rulebook: Rulebook, state: StateRow, as_of_us: int, *,
             rendered: bool = False) -> MemberState | bytes | None:
        """The member's present state from its owner's accumulator (``rendered``: as its
        JSON document, :func:`~plaudit.application.wire.to_json`), or None when the owner
        holds none it trusts for ``state`` (the caller folds it then)."""
        k = state.member_no % len(self.conns)
        with self.lock:
            self._know(k, rulebook)
            self._send(k, ("view", rulebook.version, state, as_of_us, rendered))
            kind, value = self._receive(k)
        if kind != "ok":
            raise WorkerFailed(f"fold worker {k} failed: {value}")
        result: MemberState | bytes | None = value
        return result

    def _know(self, k: int, rulebook: Rulebook) -> None:
        if rulebook.version not in self.known[k]:
            self._send(k, ("rulebook", self.source_of(rulebook)))
            self.known[k].add(rulebook.version)

    def _fold(self, rulebook: Rulebook, batch: FoldBatch, meanwhile: Callable[[], None]
              ) -> FoldOutcome:
        n = len(self.conns)
        shares: list[Share] = [[] for _ in range(n)]
        for member, evs in batch.by_member.items():
            no = batch.nos[member]
            rows = [(e.id, e.type, e.at_us, e.at, batch.canon[e.id], batch.label_of[e.id])
                    for e in evs]
            shares[no % n].append((no, member, batch.states.get(no), member in batch.created,
                                   rows))
        asked = []
        for k, share in enumerate(shares):
            if not share:
                continue
            self._know(k, rulebook)
            self._send(k, ("fold", rulebook.version, share))
            asked.append(k)
        try:
            meanwhile()
        except BaseException:
            for k in asked:  # every asked worker answers before the pipes are used again
                self._receive(k)
            raise
        outcome = FoldOutcome([], BoardRows(), {})
        refusals: list[PlauditError] = []
        for k in asked:
            kind, value = self._receive(k)
            if kind == "ok":
                outcome.states.extend(value.states)
                outcome.boards.extend(value.boards)
                outcome.cancelled.update(value.cancelled)
                outcome.snapshots.extend(value.snapshots)
            elif kind == "refused":
                refusals.append(value)
            else:
                raise WorkerFailed(f"fold worker {k} failed: {value}")
        if refusals:  # the one naming the earliest item of the batch, as one process would
            order = {label: i for i, label in enumerate(batch.label_of.values())}
            raise min(refusals, key=lambda e: min(
                (order.get(p.where, len(order)) for p in getattr(e, "problems", ())),
                default=len(order)))
        return outcome

    def _send(self, k: int, message: tuple[Any, ...]) -> None:
        try:
            self.conns[k].send(message)
        except OSError:  # the pipe broke: the worker is gone
            self.procs[k].join(timeout=5)
            raise WorkerFailed.stopped(self.procs[k]) from None

    def _receive(self, k: int) -> tuple[str, Any]:
        conn, proc = self.conns[k], self.procs[k]
        while not conn.poll(_POLL_SECONDS):
            if proc.exitcode is not None:
                raise WorkerFailed.stopped(proc)
        try:
            message: tuple[str, Any] = conn.recv()
        except (EOFError, OSError):  # closed, or reset by a worker killed mid-write
            proc.join(timeout=5)
            raise WorkerFailed.stopped(proc) from None
        return message

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):  # already gone
                conn.send(None)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for conn in self.conns:
            conn.close()


def _serve(opener: Callable[[], Store], conn: Connection, cache_members: int,
           snapshot_every: int = 0, memory_mb: int | None = None) -> None:
    """A worker: fold the shares it is sent, with its own cache and connection."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the writer stops its workers
    collector = FreezeAfterWrites(generation=2)
    store = opener()
    cache = FoldCache(cache_members, snapshot_every, memory_mb=memory_mb)
    rulebooks: dict[int, Rulebook] = {}
    try:
        with quiet_collector():  # as bulk ingest: see collector
            while (message := conn.recv()) is not None:
                if message[0] == "rulebook":
                    rb = message[1].compile()
                    rulebooks[rb.version] = rb
                    continue
                if message[0] == "view":
                    _, version, state, as_of_us, rendered = message
                    try:
                        view = cache.view(state, rulebooks[version], as_of_us)
                        conn.send(("ok", to_json(view) if rendered and view is not None
                                   else view))
                    except Exception:
                        conn.send(("failed", traceback.format_exc(limit=8)))
                    continue
                _, version, share = message
                try:
                    conn.send(("ok", _fold_share(store, rulebooks[version], cache, share)))
                except PlauditError as e:
                    conn.send(("refused", e))
                except Exception:
                    conn.send(("failed", traceback.format_exc(limit=8)))
                collector.after_write()  # the accumulators kept are long-lived
    except EOFError:  # the writer went away
        pass
    finally:
        store.close()


def _fold_share(store: Store, rulebook: Rulebook, cache: FoldCache, share: Share
                ) -> FoldOutcome:
    by_member: dict[str, list[Event]] = {}
    nos: dict[str, int] = {}
    created: set[str] = set()
    label_of: dict[str, str] = {}
    states: dict[int, StateRow] = {}
    for no, member, state, is_new, rows in share:
        nos[member] = no
        if state is not None:
            states[no] = state
        if is_new:
            created.add(member)
        by_member[member] = [to_event(rulebook, StoredEvent(r[0], member, r[1], r[2], r[3],
                                                            r[4])) for r in rows]
        label_of.update((r[0], r[5]) for r in rows)
    new_of = {nos[m]: evs for m, evs in by_member.items()}

    def history(member_nos: Sequence[int]) -> dict[int, list[Event]]:
        # committed events on this worker's own connection, plus the batch's own (not
        # committed yet: the writer holds them in its transaction)
        with store.read() as tx:
            stored = events_by_member(tx, rulebook, member_nos)
        for no, evs in stored.items():
            evs.extend(new_of[no])
        return stored

    resume = snapshots.resumer(store.read, rulebook, lambda s: to_event(rulebook, s),
                               lambda no: new_of[no]) if cache.snapshot_every else None
    return fold_batch(rulebook, cache, FoldBatch(by_member, nos, created, label_of, states,
                                                 {}), history, resume)


__all__ = ["FoldPool"]
