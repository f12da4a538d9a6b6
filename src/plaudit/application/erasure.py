"""Erasure: a member's events and everything derived from them deleted for good, in one
transaction, leaving a tombstone with nothing that identifies them.

What goes (``ERASURE_STEPS`` in the SQL store, one line per table): the member's events,
state, fold snapshot, leaderboard entries, friend rows (theirs, and other members' rows
naming them), member tokens and the ``members`` row. What stays: aggregates across members (reward
stock), and other members' facts, with every reference to the erased member rewritten to
the tombstone's random id:

* a referral (a ``member`` attribute) or friend grant naming the member now names the
  tombstone, so the referrer keeps the points it earned, deterministically: ``once_per``
  and reversal matches see one stable value, and the tombstone id is no member's, so no
  new event can name it;
* the same holds for any ``id`` attribute equal to the member id (an operator may have
  put it in one); for an event type the rulebook no longer declares, any string value
  equal to it. ``enum`` values are rulebook constants and are left alone;
* those members are re-folded in the same transaction, and their state rows are written
  at rulebook version 0 (:data:`STALE`): a process that cached their accumulator before
  the rewrite holds the old references in memory, and version 0 is trusted by none, so
  their next write or read folds them from the rewritten events.

Concurrency: the erasure holds every member's lock (``lock_all_members``: the write lock on
SQLite, an EXCLUSIVE lock on ``members`` on PostgreSQL), so no write runs while it does,
and ingest checks that a referred member exists only after taking its own member locks:
a referral sent during an erasure either lands before it (and is rewritten) or after it
(and is refused: the member is gone). The erasure reads the events table once to find
references, so it blocks writes for about as long as that scan takes.

The erasure is recorded in the audit log in its own transaction, naming the member by their
audit reference and the tombstone (``erased-<ref>``, the same reference), never by id.

Erasing is not a block list: events sent for the same member id afterwards create a new
member from scratch (plaudit keeps nothing that could recognise them). Event ids are the
operator's: one that embeds a member id (``ref-m-42``) is not rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from plaudit.application import audit
from plaudit.application.ingest import state_row, to_event, write_boards
from plaudit.application.ports import TombstoneRow, Transaction
from plaudit.domain.calendar import from_us
from plaudit.domain.errors import NotFound
from plaudit.domain.events import Event
from plaudit.domain.fold import MemberFold, fold_events
from plaudit.domain.rulebook import BUILTIN_EVENTS, Rulebook

if TYPE_CHECKING:
    from plaudit.application.service import Plaudit

STALE = 0
"""The rulebook version written for members re-folded by an erasure: never trusted."""
_REFERENCES = frozenset({"member", "id"})


@dataclass(frozen=True)
class Erasure:
    tombstone: str
    """The random id left in place of the member (in others' rewritten references)."""
    erased_at: str
    events: int
    """The member's own events deleted."""
    rewritten: int
    """Other members' events whose references now name the tombstone."""
    refolded: int
    """Other members re-folded because of it."""


def tombstone_id(audit_ref: str) -> str:
    """The tombstone of the member whose audit reference is ``audit_ref``: the audit
    entries about them (``member:<ref>``) and their erasure then name the same random
    reference, and nothing links it to anyone once their row is gone."""
    return f"erased-{audit_ref}"


def erase_member(svc: Plaudit, member_id: str, *, actor: str) -> Erasure:
    """Erase the member for good (NotFound for an unknown one); ``actor`` is who asked
    (a key id, or ``cli:<user>``), for the audit record."""
    rb = svc.rulebook()
    now = svc.clock.now_us()
    with svc.store.write() as tx:
        tx.lock_all_members()
        no = tx.member_no(member_id)
        if no is None:
            raise NotFound(f"member `{member_id}` not found")
        subject = audit.member_subject(tx, no)  # before the member's row goes
        tombstone = tombstone_id(subject.removeprefix("member:"))
        tokens = [row.key_id for row in tx.member_tokens(member_id)]
        changed = [(other, event_id, new)
                   for other, event_id, type_, text in _with_types(tx, member_id, no)
                   if (new := rewrite(rb, type_, text, member_id, tombstone)) is not None]
        tx.set_attributes([(event_id, new) for _, event_id, new in changed])
        counts = tx.erase_rows(no, member_id)
        tx.add_tombstone(TombstoneRow(tombstone, now, counts["events"], len(changed)))
        others = sorted({other for other, _, _ in changed})
        _refold(tx, rb, others, now)
        audit.record(tx, svc.clock, actor, "member.erase", subject,
                     {"tombstone": tombstone, "events": counts["events"],
                      "rewritten": len(changed)})
    svc.cache.drop([no, *others])
    svc.access.forget(tokens)
    return Erasure(tombstone, from_us(now, rb.calendar.tz).isoformat(), counts["events"],
                   len(changed), len(others))


def _with_types(tx: Transaction, member_id: str, no: int
                ) -> list[tuple[int, str, str, str]]:
    """Other members' events that may name the member, with their types."""
    found = tx.events_naming(member_id, no)
    stored = tx.stored_events([event_id for _, event_id, _ in found])
    return [(other, event_id, stored[event_id].type, text) for other, event_id, text in found]


def rewrite(rb: Rulebook, type_: str, text: str, member_id: str, tombstone: str
            ) -> str | None:
    """The stored attributes with every reference to ``member_id`` naming ``tombstone``
    instead (still canonical JSON), or None when nothing in them refers to the member."""
    data: dict[str, Any] = orjson.loads(text)
    schema = rb.events.get(type_) or BUILTIN_EVENTS.get(type_)
    if schema is not None:
        names = [n for n, a in schema.attributes.items() if a.type in _REFERENCES]
    else:  # a type the rulebook no longer declares: any string equal to the id
        names = [n for n, v in data.items() if isinstance(v, str)]
    hits = [n for n in names if data.get(n) == member_id]
    if not hits:
        return None
    for n in hits:
        data[n] = tombstone
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()


def _refold(tx: Transaction, rb: Rulebook, member_nos: list[int], now_us: int) -> None:
    """Re-fold members whose events were rewritten, writing their state (at
    :data:`STALE`), leaderboard entries and friend rows."""
    if not member_nos:
        return
    tx.drop_snapshots(member_nos)  # they hold the old references
    by_no: dict[int, list[Event]] = {no: [] for no in member_nos}
    names: dict[int, str] = {}
    for no, row in tx.events_of_members(member_nos):
        by_no[no].append(to_event(rb, row))
        names[no] = row.member_id
    folded: list[tuple[int, MemberFold]] = [
        (no, fold_events(rb, names[no], by_no[no])) for no in member_nos if by_no[no]]
    tx.put_states([state_row(no, acc)._replace(rulebook_version=STALE)
                   for no, acc in folded], now_us)
    write_boards(tx, folded)


__all__ = ["STALE", "Erasure", "erase_member", "rewrite", "tombstone_id"]
