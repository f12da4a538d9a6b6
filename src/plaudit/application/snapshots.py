"""Persisted fold snapshots: when one is written, when it is trusted, and resuming from it.

A process keeps at most ``PLAUDIT_CACHE_MEMBERS`` accumulators; a member it does not hold
(a cache smaller than the active members, a restart, another process wrote them) would be
re-folded from every stored event. Instead the member's one row in ``fold_snapshots``
(:mod:`plaudit.domain.snapshot`) is restored and only the events after it are folded.

**Written** by the writer, in the transaction that writes the member's state row, when
the member's position has advanced by at least ``PLAUDIT_SNAPSHOT_EVERY`` events since
the snapshot this process last wrote or restored for it (ingest: :func:`due` in
``fold_batch``; a replay writes one for every member with that many events). The cost —
~0.2 ms to take one of a member with a few hundred events, a few KB compressed — is paid
once per that many events; members with fewer events never get one (re-folding them is as
cheap as restoring). ``0`` turns snapshots off: none written, none read.

**Trusted** (:func:`resume`) only when every one of these holds, and otherwise ignored
(the member is folded from all events, and the next write replaces the row):

* the snapshot's rulebook version is the current one and the state row's (a publish makes
  every older one unusable at once; an erasure's re-fold writes its rows at version 0);
* its revision is the state row's (a dispute that excluded or restored an event bumps it);
* it is a prefix of the member's stored events: exactly ``position`` of them sort at or
  before its last ``(at, id)`` — a late event stored before that key since (which leaves
  the count higher) is detected here, whoever stored it;
* the events being folded now all sort after it (a late event in this batch re-folds from
  scratch: there is one snapshot per member, taken after the latest events);
* its body restores against the rulebook (format, version, digest, mechanics) and says
  the same position and last event as its columns.

Erasure deletes the member's row (``ERASURE_STEPS``) and those of the members whose events
it rewrote; an export leaves snapshots out (they are derived from the exported events).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager

from plaudit.application.ports import SnapshotRow, StateRow, StoredEvent, Transaction
from plaudit.domain.events import Event
from plaudit.domain.fold import MemberFold
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.snapshot import SnapshotMismatch, restore, snapshot

DEFAULT_EVERY = 64

Key = tuple[int, str]
Wanted = tuple[int, str, "StateRow | None", Key]
"""A member to resume: ``(member_no, member id, stored state, first new event's key)``."""
Resume = Callable[[Sequence[Wanted]], "dict[int, tuple[MemberFold, list[Event]]]"]
"""Members to resume → for each with a trusted snapshot, the accumulator restored from it
and the events to fold after it (members without one are absent)."""


def due(acc: MemberFold, every: int) -> bool:
    """Whether ``acc`` has moved far enough since its last snapshot to write another."""
    return every > 0 and acc.position - acc.snapshot_at >= every and acc.last_key is not None


def snapshot_row(member_no: int, acc: MemberFold) -> SnapshotRow:
    """The row for ``acc`` (at its revision), marking it as snapshotted at its position."""
    assert acc.last_key is not None
    acc.snapshot_at = acc.position
    return SnapshotRow(member_no, acc.rulebook.version, acc.position, acc.last_key[0],
                       acc.last_key[1], acc.revision, snapshot(acc))


def due_rows(folded: Iterable[tuple[int, MemberFold]], every: int) -> list[SnapshotRow]:
    return [snapshot_row(no, acc) for no, acc in folded if due(acc, every)]


def usable(snap: SnapshotRow | None, state: StateRow | None, rulebook: Rulebook,
           first: Key | None = None) -> bool:
    """The checks that need no query (see the module docstring)."""
    return (snap is not None and state is not None
            and snap.rulebook_version == rulebook.version == state.rulebook_version
            and snap.revision == state.revision and snap.position <= state.position
            and (first is None or first > (snap.last_at_us, snap.last_event_id)))


def tail(snap: SnapshotRow, before: int, rows: Sequence[StoredEvent]) -> list[StoredEvent] | None:
    """The stored events after the snapshot, if it is a prefix of the member's events:
    ``before`` of them are earlier than its last instant and ``rows`` are the rest."""
    last = (snap.last_at_us, snap.last_event_id)
    after = [r for r in rows if (r.at_us, r.event_id) > last]
    if before + len(rows) - len(after) != snap.position:
        return None
    return after


def restored(rulebook: Rulebook, member: str, snap: SnapshotRow, state: StateRow
             ) -> MemberFold | None:
    """The snapshot's accumulator, or None if its body does not restore or disagrees with
    its columns."""
    try:
        acc = restore(rulebook, member, snap.body, revision=state.revision)
    except SnapshotMismatch:
        return None
    if acc.position != snap.position or acc.last_key != (snap.last_at_us, snap.last_event_id):
        return None
    acc.snapshot_at = acc.position
    return acc


def resume_in(tx: Transaction, rulebook: Rulebook, member_no: int, member: str,
              state: StateRow | None, snap: SnapshotRow | None, *, first: Key | None = None,
              until_us: int | None = None, to_event: Callable[[StoredEvent], Event]
              ) -> tuple[MemberFold, list[Event]] | None:
    """Resume the member from ``snap`` reading the rest in ``tx``: the restored
    accumulator and the stored events after it (up to ``until_us``), or None when the
    snapshot is not trusted."""
    if snap is None or not usable(snap, state, rulebook, first) or (
            until_us is not None and until_us < snap.last_at_us):
        return None
    assert state is not None
    before, rows = tx.member_tail(member_no, snap.last_at_us, until_us)
    after = tail(snap, before, rows)
    if after is None:
        return None
    acc = restored(rulebook, member, snap, state)
    if acc is None:
        return None
    return acc, [to_event(r) for r in after]


def resumer(read: Callable[[], AbstractContextManager[Transaction]], rulebook: Rulebook,
            convert: Callable[[StoredEvent], Event],
            unstored: Callable[[int], list[Event]] | None = None) -> Resume:
    """A :data:`Resume` for ``fold_batch``: the members' snapshots and the events after
    them are read in a few queries; ``read`` gives the transaction to read in;
    ``unstored`` the batch's own events a reader cannot see yet (a fold worker reads on
    its own connection, the writer's transaction not yet committed)."""

    def resume(wanted: Sequence[Wanted]) -> dict[int, tuple[MemberFold, list[Event]]]:
        with read() as tx:
            found = tx.snapshots([w[0] for w in wanted])
            trusted = {no: snap for no, _, state, first in wanted
                       if (snap := found.get(no)) is not None
                       and usable(snap, state, rulebook, first)}
            tails = tx.member_tails({no: snap.last_at_us for no, snap in trusted.items()}
                                    ) if trusted else {}
        out: dict[int, tuple[MemberFold, list[Event]]] = {}
        for no, member, state, _ in wanted:
            if (snap := trusted.get(no)) is None:
                continue
            assert state is not None
            after = tail(snap, *tails[no])
            acc = restored(rulebook, member, snap, state) if after is not None else None
            if after is None or acc is None:
                continue
            events = [convert(r) for r in after]
            if unstored is not None:
                events.extend(unstored(no))
            out[no] = (acc, events)
        return out

    return resume


__all__ = ["DEFAULT_EVERY", "Resume", "Wanted", "due", "due_rows", "restored", "resume_in",
           "resumer", "snapshot_row", "tail", "usable"]
