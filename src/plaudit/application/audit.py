"""The audit log: every operator action, append-only and hash-chained, with no personal data.

An entry says who (``actor``: an operator key id, a member token's id, ``cli:<user>``,
never a secret) did what (``action``, one of :data:`ACTIONS`) to what (``subject``) when,
with a small canonical JSON ``detail``. Entries are numbered 1, 2, 3 … and chained: each
holds the previous entry's hash, and its own hash is

    sha256(prev_hash + "\\n" + JSON [seq, at_us, actor, action, subject, detail])

(compact JSON as :func:`orjson.dumps` writes it, UTF-8; the first entry's ``prev_hash`` is
:data:`GENESIS`), so changing, inserting or removing an entry breaks every later link.
The head (the newest seq and hash) is stored apart and moved in the appending transaction,
so removing the newest entries breaks the match with the head. :func:`verify` names the
first entry that does not hold.

An entry is written by :func:`record` inside the transaction of the action it records, as
its last statement: if the action fails, nothing is recorded, and an entry never exists
without its action. Appends queue on the head's lock (:meth:`Transaction.lock_audit_head`),
so concurrent actions cannot fork the chain.

**No personal data.** A member is never named by id or number: the subject of a
member's entries is ``member:<ref>``, a random reference kept on the member's row
(:meth:`Transaction.audit_ref`). Erasure deletes that row, so afterwards nothing links the
reference to anyone; the erased member's tombstone is ``erased-<ref>``, the same reference.
Free text that may mention a member (a dispute rejection's explanation, a member token's
name) is never copied into an entry.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from plaudit.application.ports import AuditRow, Clock, Store, Transaction
from plaudit.domain.calendar import from_us
from plaudit.domain.errors import InvalidRequest, Problem
from plaudit.domain.expressions import closest

GENESIS = "0" * 64
"""The ``prev_hash`` of entry 1."""

ACTIONS = (
    "key.create", "key.revoke", "token.issue",
    "draft.upload", "rulebook.publish",
    "dispute.open", "dispute.accept", "dispute.reject",
    "member.export", "member.opt_out", "member.opt_in", "member.erase",
    "member.erase_request", "member.erase_decline",
)
"""Everything that is recorded. Reads of members are not (they would be most of the log
and say nothing about who changed what); exports are, being a copy of everything."""

MAX_PAGE = 500
MAX_DETAIL = 2_000
"""Bytes of an entry's detail JSON: ids and counts, never documents."""
MAX_ACTOR = 64
_PAGE = 1_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def canonical(detail: Mapping[str, Any]) -> str:
    """The detail as stored and hashed: compact JSON with sorted keys."""
    return orjson.dumps(dict(detail), option=orjson.OPT_SORT_KEYS).decode()


def entry_hash(prev_hash: str, seq: int, at_us: int, actor: str, action: str, subject: str,
               detail: str) -> str:
    body = orjson.dumps([seq, at_us, actor, action, subject, detail])
    return hashlib.sha256(prev_hash.encode() + b"\n" + body).hexdigest()


def rehash(row: AuditRow) -> str:
    """The hash ``row`` should have, from its own fields."""
    return entry_hash(row.prev_hash, row.seq, row.at_us, row.actor, row.action, row.subject,
                      row.detail)


def member_subject(tx: Transaction, member_no: int) -> str:
    """What an entry about this member names: their random audit reference."""
    return f"member:{tx.audit_ref(member_no)}"


def record(tx: Transaction, clock: Clock, actor: str, action: str, subject: str,
           detail: Mapping[str, Any] | None = None) -> AuditRow:
    """Append one entry in ``tx``, which must be the action's own write transaction; call
    it last in the transaction (it takes the head's lock, see module docstring)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action `{action}`")
    who = actor.strip()[:MAX_ACTOR]
    if not who or _CONTROL.search(who):
        raise ValueError("an audit actor is a key id or `cli:<user>`: 1 to "
                         f"{MAX_ACTOR} characters, no control characters")
    text = canonical(detail or {})
    if len(text) > MAX_DETAIL:
        raise ValueError(f"audit detail over {MAX_DETAIL} bytes")
    seq, prev = tx.lock_audit_head()
    at = clock.now_us()
    row = AuditRow(seq + 1, at, who, action, subject[:64], text, prev, "")
    row = row._replace(hash=rehash(row))
    tx.add_audit(row)
    return row


# -- reading -----------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditPage:
    entries: tuple[AuditEntry, ...]
    next: int | None
    """Pass as ``before`` for the next (older) page; None on the last."""


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


@dataclass(frozen=True)
class BadEntry:
    seq: int
    problem: str


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    """Entries read."""
    first_bad: BadEntry | None
    head: Head | None
    """The stored head: note its hash somewhere else to prove later that nothing up to it
    was rewritten (see :func:`verify`)."""


def view(row: AuditRow) -> AuditEntry:
    return AuditEntry(row.seq, from_us(row.at_us).isoformat(), row.actor, row.action,
                      row.subject, orjson.loads(row.detail), row.prev_hash, row.hash)


def check_action(action: str | None) -> None:
    if action is not None and action not in ACTIONS:
        hint = closest(action, list(ACTIONS))
        raise InvalidRequest([Problem("query", "action", f"`{action}` is not an audit action "
                                      f"(one of {', '.join(ACTIONS)})"
                                      + (f"; did you mean `{hint}`?" if hint else ""))])


def page(store: Store, limit: int = 100, before: int | None = None,
         action: str | None = None) -> AuditPage:
    """Entries newest first, ``limit`` at a time, optionally of one action."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest([Problem("query", "limit", f"must be 1 to {MAX_PAGE}")])
    check_action(action)
    with store.read() as tx:
        rows = tx.audit_page(before, limit + 1, action)
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(tuple(view(r) for r in rows), rows[-1].seq if more else None)


def walk(rows: Iterable[AuditRow], head: tuple[int, str] | None) -> Verdict:
    """Check a chain, oldest entry first, against its stored head.

    Each entry must come right after the previous one (a missing seq is named as missing),
    link to the previous entry's hash, and hash to what it holds; after the last, the head
    must name it. The first entry that fails is the verdict's ``first_bad``.
    """
    expected, prev, count = 1, GENESIS, 0
    for row in rows:
        count += 1
        if row.seq != expected:
            if row.seq > expected:
                missing = (f"{expected}" if row.seq == expected + 1
                           else f"{expected} to {row.seq - 1}")
                return _bad(count, expected, f"missing: entry {missing} is not in the log "
                            f"(entry {row.seq} comes after {expected - 1})", head)
            return _bad(count, row.seq, f"out of sequence: found after entry {expected - 1}",
                        head)
        if row.prev_hash != prev:
            return _bad(count, row.seq, "broken link: its prev_hash is not the hash of "
                        + (f"entry {row.seq - 1}" if row.seq > 1 else "the chain's start"),
                        head)
        if rehash(row) != row.hash:
            return _bad(count, row.seq, "hash mismatch: the entry was changed after it was "
                        "written", head)
        expected, prev = row.seq + 1, row.hash
    last = expected - 1
    if head is None:
        return _bad(count, last + 1, "the head row is missing: cannot tell whether entries "
                    "were removed from the end", head)
    head_seq, head_hash = head
    if head_seq > last:
        missing = f"{last + 1}" if head_seq == last + 1 else f"{last + 1} to {head_seq}"
        return _bad(count, last + 1, f"missing: the head records {head_seq} entries, the log "
                    f"ends at {last} (entry {missing} removed)", head)
    if head_seq < last:
        return _bad(count, head_seq + 1, f"not in the head: the head ends at {head_seq}, "
                    "so this entry was added without moving it", head)
    if head_hash != prev:
        return _bad(count, last, "hash mismatch: the entry's hash is not the one the head "
                    "recorded for it", head)
    return Verdict(True, count, None, Head(*head))


def _bad(count: int, seq: int, problem: str, head: tuple[int, str] | None) -> Verdict:
    return Verdict(False, count, BadEntry(seq, problem),
                   Head(*head) if head is not None else None)


def verify(store: Store, anchor: Head | None = None) -> Verdict:
    """Walk the whole chain in one snapshot (concurrent appends are simply not seen).

    ``anchor``: a head noted earlier (elsewhere). The chain proves only that no entry was
    changed without rewriting every later one and the head, which anyone who can write
    the database could also do; an anchor kept out of reach proves that entries up to it
    were not rewritten since.
    """
    with store.snapshot() as tx:
        head = tx.audit_head()
        verdict = walk(_rows(tx), head)
        if not verdict.ok or anchor is None:
            return verdict
        found = tx.audit_after(anchor.seq - 1, 1) if anchor.seq >= 1 else []
    if not found or found[0].seq != anchor.seq:
        return _bad(verdict.entries, anchor.seq, "not in the log: the anchored entry is gone",
                    head)
    if found[0].hash != anchor.hash:
        return _bad(verdict.entries, anchor.seq, "anchor mismatch: the log was rewritten "
                    "since the anchor was noted", head)
    return verdict


def _rows(tx: Transaction) -> Iterator[AuditRow]:
    after = 0
    while True:
        rows = tx.audit_after(after, _PAGE)
        yield from rows
        if len(rows) < _PAGE:
            return
        after = rows[-1].seq


__all__ = ["ACTIONS", "GENESIS", "MAX_PAGE", "AuditEntry", "AuditPage", "BadEntry", "Head",
           "Verdict", "canonical", "entry_hash", "member_subject", "page", "record", "rehash",
           "verify", "walk"]
