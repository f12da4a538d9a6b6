"""What the use cases need from the outside world, as protocols.

The SQL adapter (SQLite and PostgreSQL) implements :class:`Store`; tests run one contract
suite against every implementation. Rows cross this boundary as plain tuples, never as
database objects, so nothing above this line knows which driver is underneath.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol


class EventRow(NamedTuple):
    event_id: str
    member_no: int
    type: str
    at_us: int
    at: str
    attributes: str
    """Canonical JSON (see :func:`plaudit.application.wire.canonical_attributes`)."""


class StoredEvent(NamedTuple):
    event_id: str
    member_id: str
    type: str
    at_us: int
    at: str
    attributes: str


class StateRow(NamedTuple):
    member_no: int
    rulebook_version: int
    position: int
    """How many of the member's events the state reflects (its ledger position)."""
    last_at_us: int
    last_event_id: str
    balance: int
    score: int | None
    band: str | None
    tier: str | None
    consents: str | None = ""
    """Partners the member's latest word (by event time) grants, space-separated; None
    when not known (a row from before the column existed)."""
    revision: int = 0
    """How many times the member's counted events changed other than by a new event (a
    dispute excluded or restored one): read with the row, never written by
    :meth:`Transaction.put_states` (only :meth:`Transaction.bump_revisions` changes it)."""


class SnapshotRow(NamedTuple):
    """A persisted fold snapshot (see :mod:`plaudit.domain.snapshot`): the member's
    accumulator after ``position`` events, the last ``(last_at_us, last_event_id)``, under
    ``rulebook_version``, at the state row's ``revision``. Derived, like the state row."""

    member_no: int
    rulebook_version: int
    position: int
    last_at_us: int
    last_event_id: str
    revision: int
    body: bytes


class RulebookRow(NamedTuple):
    version: int
    program_id: str
    digest: str
    source: str
    published_us: int
    published_by: str | None = None
    """Who published it (a key id or ``cli:<user>``); None for versions from before it was
    recorded."""


class KeyRow(NamedTuple):
    key_id: str
    name: str
    kind: str
    """``operator``, ``partner`` or ``member``."""
    scopes: str
    """Space-separated scopes (operator keys)."""
    partner: str | None
    member_id: str | None
    secret_hash: str
    created_us: int
    expires_us: int | None
    revoked_us: int | None
    issued_by: str | None = None
    """A member token's issuing operator key id (or ``console``); None for other keys."""


class DraftRow(NamedTuple):
    draft_id: int
    program_id: str
    digest: str
    source: str
    created_us: int
    published_version: int | None


class JobRow(NamedTuple):
    job_id: str
    kind: str
    status: str
    """``running``, ``succeeded`` or ``failed``."""
    done: int
    total: int
    result: str | None
    """JSON."""
    error: str | None
    created_us: int
    updated_us: int


class EntryRow(NamedTuple):
    """One opted-in member's standing on one board in one period (``leaderboard_entries``)."""

    member_no: int
    board: str
    period: str
    sort_key: int
    """Minus the metric in millionths (floored, within 64 bits): ascending is the ranking."""
    value: str
    """The exact metric, as text."""
    reached_at_us: int
    pseudonym: str
    tag: int


class CheckRow(NamedTuple):
    """One partner check about a member (the member reads these; partners never do)."""

    partner: str
    perk: str
    at_us: int
    answer: str
    """``yes``, ``no`` or ``refused`` (no live consent)."""
    valid_until_us: int | None
class DisputeRow(NamedTuple):
    """One dispute, with what the views need of its member and event."""

    dispute_no: int
    dispute_id: str
    member_no: int
    member_id: str
    event_id: str
    event_type: str
    event_at: str
    """The event's time as sent."""
    reason: str
    status: str
    """``open``, ``accepted`` or ``rejected``."""
    opened_us: int
    decided_us: int | None
    decision_reason: str | None
    decided_by: str | None
    excluded: bool
    """Whether the event is left out of the member's fold now."""
class AuditRow(NamedTuple):
    """One audit entry (application/audit.py): who did what to which subject, chained."""

    seq: int
    at_us: int
    actor: str
    action: str
    subject: str
    detail: str
    """Canonical JSON (sorted keys, compact)."""
    prev_hash: str
    hash: str


class TombstoneRow(NamedTuple):
    """What is left of an erased member: nothing that identifies them."""

    tombstone_id: str
    erased_us: int
    events: int
    """The member's own events deleted."""
    rewritten: int
    """Other members' events whose references to the member now name the tombstone."""


class Transaction(Protocol):
    """One database transaction. Writes are serialised per member by the store."""

    def ensure_members(self, member_ids: Sequence[str], now_us: int
                       ) -> tuple[dict[str, int], set[str]]:
        """Member numbers for ids (creating missing ones, locking all of them for this
        transaction), and the ids that were created."""
        ...

    def lock_members(self, member_nos: Sequence[int]) -> None:
        """Lock these members for this write transaction, in member order, before reading
        what will be rewritten: ingest and re-fold both do, so neither overwrites the
        other's newer state and they cannot deadlock."""
        ...

    def member_no(self, member_id: str) -> int | None: ...

    def member_nos(self, member_ids: Sequence[str]) -> dict[str, int]:
        """Member numbers of the ids that exist (unknown ids are absent)."""
        ...

    def insert_events(self, rows: Sequence[EventRow]) -> int:
        """Insert rows whose ids are not stored yet; return how many were inserted."""
        ...

    def stored_events(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]: ...

    def member_events(self, member_no: int, until_us: int | None = None, *,
                      excluded: bool = False) -> list[StoredEvent]:
        """The member's events the fold reads; with ``excluded``, also those a dispute
        leaves out (every stored event: the export)."""
        ...

    def states(self, member_nos: Sequence[int]) -> dict[int, StateRow]: ...

    def member_tail(self, member_no: int, from_us: int, until_us: int | None = None
                    ) -> tuple[int, list[StoredEvent]]:
        """What resuming a fold from a snapshot needs, the fold's filter applied (no
        excluded event): how many of the member's events are before ``from_us``, and
        the events at or after it (up to ``until_us``). Ties at ``from_us`` are the
        caller's to sort by event id (never by the database's collation)."""
        ...

    def member_tails(self, from_us: Mapping[int, int]
                     ) -> dict[int, tuple[int, list[StoredEvent]]]:
        """:meth:`member_tail` for many members in a few queries (member number -> its
        ``from_us``), without an upper bound; every member asked is in the answer, and
        each member's events come in no particular order."""
        ...

    def snapshots(self, member_nos: Sequence[int]) -> dict[int, SnapshotRow]: ...

    def put_snapshots(self, rows: Sequence[SnapshotRow]) -> None:
        """Insert or replace each member's one snapshot."""

    def drop_snapshots(self, member_nos: Sequence[int]) -> None: ...

    def count_snapshots(self) -> int: ...

    def put_states(self, rows: Sequence[StateRow], now_us: int) -> None: ...

    def current_version(self) -> int | None: ...

    def current_rulebook(self) -> RulebookRow | None: ...

    def lock_rulebooks(self) -> None:
        """Serialise publishing: held until this (write) transaction ends, so two publishes
        cannot both see the same newest version and both add the next one."""
        ...

    def rulebook(self, version: int) -> RulebookRow | None: ...

    def rulebooks(self) -> list[RulebookRow]: ...

    def add_rulebook(self, program_id: str, digest: str, source: str, now_us: int,
                     published_by: str | None = None) -> int: ...

    def granted_partners(self, member_id: str) -> frozenset[str] | None:
        """The partners the member's stored state grants; empty for an unknown member, None
        when the state does not say (see :attr:`StateRow.consents`). One query either way,
        so the partner check costs the same whether the member exists."""
        ...

    def count_members(self, behind: int | None = None) -> int:
        """All members, or with ``behind`` only those whose stored state is not (yet) at
        that rulebook version or lacks a column added since."""
        ...

    def count_events(self) -> int: ...

    def member_ids(self, after_no: int, limit: int, behind: int | None = None
                   ) -> list[tuple[int, str]]:
        """A page of (member_no, member_id) in member_no order; ``behind`` as in
        :meth:`count_members`."""
        ...

    def events_of_members(self, member_nos: Sequence[int]) -> list[tuple[int, StoredEvent]]:
        ...

    def state_summary(self) -> dict[str, object]: ...

    def events_per_day(self, since_us: int, offset_us: int = 0) -> dict[int, int]:
        """Events stored with ``at_us >= since_us``, counted per day: the key is
        ``(at_us + offset_us) // 86_400_000_000`` (days since 1970-01-01 at that UTC
        offset). Days without events are absent."""
        ...

    def score_histogram(self, low: int, width: int) -> dict[int, int]:
        """Stored states with a score of at least ``low``, counted per bucket
        ``(score - low) // width`` (``width`` > 0). Buckets without members are absent."""
        ...

    # reward stock

    def change_stock(self, reward_id: str, delta: int, stock: int | None) -> bool:
        """Add ``delta`` to the reward's redeemed count, in this transaction, only if it
        stays within ``stock`` (None: no limit) and at or above zero; False when refused.
        The database decides (a conditional update), so concurrent redemptions by any
        number of processes can never oversell."""
        ...

    def redeemed(self, reward_ids: Sequence[str]) -> dict[str, int]:
        """Redeemed (and not cancelled) count per reward; absent means none."""
    # leaderboards: derived like member_states, in the same transaction

    def put_entries(self, rows: Sequence[EntryRow]) -> None:
        """Insert or replace each (member, board, period) entry."""
        ...

    def drop_entries(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Delete every period's entry of each (member_no, board): the member left it."""
        ...

    def rename_entries(self, rows: Sequence[tuple[int, str, int]]) -> None:
        """Give every entry of each member_no a new (pseudonym, tag)."""
        ...

    def drop_boards(self, keep: Sequence[str]) -> None:
        """Delete the entries of every board not in ``keep`` (gone from the rulebook)."""
        ...

    def put_friends(self, rows: Sequence[tuple[int, Sequence[str]]]) -> None:
        """Replace each member_no's granted friends (member ids) with the given ones."""
        ...

    def friends_of(self, member_no: int) -> tuple[str, ...]:
        """The member ids the member's latest words grant as friends, sorted."""
        ...

    def top_entries(self, board: str, period: str, limit: int) -> list[EntryRow]:
        """The first ``limit`` entries in ranking order: highest value, then the earliest
        to reach it, then the pseudonym's tag, then member_no."""
        ...

    def entry(self, board: str, period: str, member_no: int) -> EntryRow | None: ...

    def rank(self, entry: EntryRow) -> int:
        """1 + how many entries of its board and period rank above ``entry``."""
        ...

    def count_entries(self, board: str, period: str) -> int: ...

    def friend_entries(self, board: str, period: str, member_no: int, member_id: str
                       ) -> list[EntryRow]:
        """Entries of the members who grant ``member_id`` and whom ``member_no`` grants
        (mutual friends), in ranking order."""
        ...

    # disputes (application/disputes.py)

    def hold_rulebooks(self) -> None:
        """Make a publish wait until this (write) transaction ends, without holding off
        reads or other holders: what it read of the rulebook in force stays in force."""
        ...

    def add_dispute(self, dispute_id: str, member_no: int, event_id: str, reason: str,
                    opened_us: int) -> None:
        """Record an open dispute (the event's unique dispute: a second one for the same
        event fails on the unique index)."""
        ...

    def dispute(self, dispute_id: str) -> DisputeRow | None: ...

    def dispute_of_event(self, event_id: str) -> DisputeRow | None: ...

    def disputes(self, status: str | None, after_no: int, limit: int) -> list[DisputeRow]:
        """A page of disputes (of one status, or all) in opening order after ``after_no``."""
        ...

    def member_disputes(self, member_no: int) -> list[DisputeRow]:
        """The member's disputes in opening order."""
        ...

    def count_open_disputes(self, member_no: int | None) -> int:
        """Open disputes of one member, or of all (None)."""
        ...

    def decide_dispute(self, dispute_no: int, status: str, decided_us: int,
                       reason: str | None, by: str) -> bool:
        """Mark an open dispute decided; False when it is no longer open."""
        ...

    def set_excluded(self, event_id: str, excluded: bool) -> None:
        """Leave the event out of (or back in) every read of its member's events; a
        duplicate check (:meth:`stored_events`) still sees it."""
        ...

    def set_open_excluded(self, excluded: bool) -> None:
        """Set the flag of every event under an open dispute (the program's policy
        changed: ``exclude`` or ``keep``)."""
        ...

    def bump_revisions(self, member_nos: Sequence[int]) -> None:
        """Count a change of these members' counted events (see :attr:`StateRow.revision`)."""
    # member data rights (application/erasure.py, application/export.py)

    def lock_all_members(self) -> None:
        """Hold every member's lock until this write transaction ends (an erasure): no
        other write, which always locks its members first, can run meanwhile, and any
        that holds a lock is waited for. On SQLite the write lock already does this."""
        ...

    def events_naming(self, member_id: str, member_no: int) -> list[tuple[int, str, str]]:
        """(member_no, event_id, attributes) of other members' events whose attributes
        may name ``member_id`` (a superset: the caller checks each value)."""
        ...

    def set_attributes(self, rows: Sequence[tuple[str, str]]) -> None:
        """Replace the stored attributes (canonical JSON) of each (event_id, attributes)."""
        ...

    def erase_rows(self, member_no: int, member_id: str) -> dict[str, int]:
        """Delete every row of the member, table by table; rows deleted per table."""
        ...

    def add_tombstone(self, row: TombstoneRow) -> None: ...

    def member_tokens(self, member_id: str) -> list[KeyRow]:
        """The member's tokens, live or not, oldest first."""
        ...

    def member_entries(self, member_no: int) -> list[EntryRow]:
        """Every leaderboard entry of the member, every board and period, by board and
        period."""
        ...

    # access keys, drafts and jobs

    def add_key(self, row: KeyRow) -> None: ...

    def key(self, key_id: str) -> KeyRow | None: ...

    def keys(self, kinds: Sequence[str]) -> list[KeyRow]: ...

    def revoke_key(self, key_id: str, now_us: int) -> bool:
        """Mark a live key revoked, and every live member token it issued; False when there
        is no such live key."""
        ...

    def add_draft(self, program_id: str, digest: str, source: str, now_us: int) -> int: ...

    def draft(self, draft_id: int) -> DraftRow | None: ...

    def drafts(self) -> list[DraftRow]: ...

    def mark_draft_published(self, draft_id: int, version: int) -> None: ...

    def add_job(self, row: JobRow) -> None: ...

    def update_job(self, job_id: str, *, status: str, done: int, total: int,
                   result: str | None, error: str | None, now_us: int) -> None: ...

    def job(self, job_id: str) -> JobRow | None: ...


    # -- the audit log (application/audit.py) ---------------------------------------

    def audit_ref(self, member_no: int) -> str:
        """The member's audit reference, created (random) the first time it is asked for:
        what audit entries name instead of the member."""
        ...

    def lock_audit_head(self) -> tuple[int, str]:
        """The newest entry's (seq, hash), locked until this write transaction ends, so
        appends queue one behind another and the chain never forks. Take it last in a
        transaction: holders then never wait for anything else, so it cannot deadlock."""
        ...

    def add_audit(self, row: AuditRow) -> None:
        """Insert the entry (right after the locked head) and move the head to it."""
        ...

    def audit_head(self) -> tuple[int, str] | None:
        """The head as stored (None when its row is gone)."""
        ...

    def audit_after(self, after_seq: int, limit: int) -> list[AuditRow]:
        """Up to ``limit`` entries with seq above ``after_seq``, oldest first."""
        ...

    def audit_page(self, before_seq: int | None, limit: int, action: str | None
                   ) -> list[AuditRow]:
        """Up to ``limit`` entries below ``before_seq`` (all when None), newest first."""
        ...

    # -- partner checks (the member's view of who asked about them) -------------------

    def member_audit(self, actions: Sequence[str], member_no: int | None
                     ) -> list[tuple[str, AuditRow]]:
        """Audit entries of these actions about members who still exist (one member, or
        all), with the member id, oldest first (erasure requests)."""
        ...

    def add_partner_check(self, member_no: int, row: CheckRow) -> None: ...

    def partner_checks(self, member_no: int, limit: int, before_us: int | None = None
                       ) -> list[CheckRow]:
        """Newest first; ``before_us`` pages back."""
        ...


class Store(Protocol):
    def write(self) -> AbstractContextManager[Transaction]:
        """A transaction that may write; on SQLite it takes the write lock up front."""
        ...

    def read(self) -> AbstractContextManager[Transaction]: ...

    def snapshot(self) -> AbstractContextManager[Transaction]:
        """A read transaction that sees one instant throughout, however many statements it
        runs (verifying the whole audit chain against its head)."""
        ...

    def close(self) -> None: ...

    def opener(self) -> Callable[[], Store] | None:
        """A picklable way to open this same database in another process (a fold worker),
        or None when no other process can reach it (an in-memory database)."""
        ...


class Clock(Protocol):
    def now_us(self) -> int: ...


__all__ = ["AuditRow", "CheckRow", "Clock", "DisputeRow", "DraftRow", "EntryRow", "EventRow",
           "JobRow", "KeyRow", "RulebookRow", "SnapshotRow", "StateRow", "Store", "StoredEvent",
           "TombstoneRow", "Transaction"]
