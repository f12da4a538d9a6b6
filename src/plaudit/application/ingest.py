"""Ingest: validated events in, stored exactly once, members re-folded, in one transaction.

A batch is atomic: either every new event of it is stored together with the state it
derives, or nothing is (and every bad item is named). Re-sending an event id with the same
body is a no-op; with a different body it is a conflict that rejects the batch.

Hot members' accumulators stay in an LRU cache between batches so a time-ordered stream is
folded incrementally; a cached accumulator is trusted only while the stored state row still
says it reflects the same rulebook version and ledger position, so several processes can
write to one database. A late event, or a member not in the cache, is re-folded from its
stored events.
"""

from __future__ import annotations

import gzip
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Context, Decimal
from pathlib import Path
from typing import IO, BinaryIO, Protocol, cast

from plaudit.application import snapshots
from plaudit.application.memory import resident_mb
from plaudit.application.ports import (
    EntryRow,
    EventRow,
    SnapshotRow,
    StateRow,
    StoredEvent,
    Transaction,
)
from plaudit.application.wire import canonical_attributes, stored_attributes
from plaudit.domain.errors import (
    EventConflict,
    EventRejected,
    InsufficientPoints,
    MemberOptedOut,
    Problem,
    RedemptionRefused,
)
from plaudit.domain.events import REDEEM, REDEEM_CANCEL, SPEND, Event
from plaudit.domain.fold import MemberFold
from plaudit.domain.mechanics.leaderboards import BoardValue
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.state import MemberState

DEFAULT_BATCH = 50_000
MIN_CACHED = 100
"""Members a cache keeps whatever its memory budget says (a batch's hot members)."""
SPENDING = frozenset({SPEND, REDEEM, REDEEM_CANCEL})
"""Event types whose arrival re-checks that every stored spend of the member is covered."""
COMMANDS = frozenset({REDEEM, REDEEM_CANCEL})
"""Member commands whose conditions (requirement, limit, dates) are checked when recorded."""


class FoldCache:
    """Accumulators of recently written members, bounded in count.

    An accumulator is trusted only while it matches its member's stored state row (same
    rulebook version, event count and last event), so a cache can never serve what another
    process or a rolled-back batch changed. Ingest folds under :attr:`lock`; a read takes
    it only if free (it would rather re-fold than wait behind a large batch).
    """

    def __init__(self, capacity: int = 20_000, snapshot_every: int = 0, *,
                 memory_mb: int | None = None,
                 resident: Callable[[], float | None] = resident_mb) -> None:
        self.capacity = capacity
        """Members kept at most now: :attr:`limit`, or fewer while over the memory budget."""
        self.limit = capacity
        self.memory_mb = memory_mb
        """The process's memory budget (None: none), see :meth:`fit`."""
        self._resident = resident
        self._last_mb: float | None = None
        self.snapshot_every = snapshot_every
        """Write a member's fold snapshot every this many events (0: no snapshots); see
        :mod:`plaudit.application.snapshots`."""
        self.resumed = 0
        """Members re-folded from a snapshot rather than from all their events (a count
        for tests and benchmarks)."""
        self._items: OrderedDict[int, MemberFold] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, member_no: int) -> MemberFold | None:
        acc = self._items.get(member_no)
        if acc is not None:
            self._items.move_to_end(member_no)
        return acc

    def put(self, member_no: int, acc: MemberFold) -> None:
        self._items[member_no] = acc
        self._items.move_to_end(member_no)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def view(self, state: StateRow, rulebook: Rulebook, as_of_us: int) -> MemberState | None:
        """The member's state from its cached accumulator, or None if that is not trusted
        (absent, stale, or ``as_of_us`` before its last event) or an ingest is folding."""
        if not self.lock.acquire(blocking=False):
            return None
        try:
            acc = self._items.get(state.member_no)
            if acc is None or not trusted(acc, state, rulebook) or acc.last_key is None \
                    or as_of_us < acc.last_key[0]:
                return None
            return acc.view(as_of_us)
        finally:
            self.lock.release()

    def offer(self, state: StateRow, rulebook: Rulebook, acc: MemberFold) -> None:
        """Keep a fold a read made, so the member's next read is a view, not a re-fold.

        Only a fold of exactly the stored events behind ``state`` is kept, and never in
        place of an entry that is trusted or further along (ingest may have written the
        member since the read's snapshot). The caller must be done with ``acc``: once kept,
        ingest may apply events to it. Skipped rather than waiting when ingest is folding.
        """
        acc.revision = state.revision  # read before the events it folded: never newer
        if not trusted(acc, state, rulebook) or not self.lock.acquire(blocking=False):
            return
        try:
            kept = self._items.get(state.member_no)
            if kept is None or (not trusted(kept, state, rulebook)
                                and kept.position <= acc.position):
                self.put(state.member_no, acc)
        finally:
            self.lock.release()

    def drop(self, member_nos: Sequence[int]) -> None:
        for no in member_nos:
            self._items.pop(no, None)

    def fit(self) -> None:
        """After a write: while the process is over its memory budget and still growing,
        give up the least recently used quarter of the members (down to
        :data:`MIN_CACHED`) and keep the lower capacity; well under it (below 80 %), let
        the capacity grow back by a tenth toward :attr:`limit`. Freed memory is reused
        before the process asks for more, so resident memory levels off near the budget
        even though it rarely shrinks; growth, not level, is what shrinking answers."""
        if self.memory_mb is not None:
            with self.lock:
                self.fit_held()

    def fit_held(self) -> None:
        """:meth:`fit` for a caller that holds :attr:`lock` (``fold_batch``, after each
        chunk of members: a batch's first chunks must not fill the whole cache first)."""
        if self.memory_mb is None or (mb := self._resident()) is None:
            return
        grew = self._last_mb is None or mb > self._last_mb
        self._last_mb = mb
        if mb > self.memory_mb and grew:
            self.capacity = max(min(self.capacity, len(self._items)) * 3 // 4, MIN_CACHED)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        elif mb < 0.8 * self.memory_mb and self.capacity < self.limit:
            self.capacity = min(self.limit, self.capacity + max(1, self.capacity // 10))

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class BatchResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    members: int = 0
    duplicate_at: set[int] = field(default_factory=set)
    """Batch positions of items that were already stored (or repeated in the batch)."""


@dataclass
class RejectedBatch:
    first_line: int
    last_line: int
    problems: list[Problem]


@dataclass
class IngestReport:
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    batches: int = 0
    rejected: list[RejectedBatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


def to_event(rulebook: Rulebook, row: StoredEvent) -> Event:
    return Event(row.event_id, row.member_id, row.type, row.at_us, row.at,
                 stored_attributes(rulebook, row.type, row.attributes))


def state_row(member_no: int, acc: MemberFold) -> StateRow:
    """The stored state of a folded member, as of its last event."""
    assert acc.last_key is not None
    s = acc.summary(acc.last_key[0])
    return StateRow(member_no, acc.rulebook.version, acc.position, acc.last_key[0],
                    acc.last_key[1], s.balance, s.score, s.band, s.tier, " ".join(s.consents))


_MAX_KEY = 2**63 - 1
_EXACT = Context(prec=100)  # wider than any sum of 30-digit attributes: scaling is exact


def sort_key(value: int | Decimal) -> int:
    """Minus the value in millionths, floored and kept within a signed 64-bit integer:
    ascending order ranks the most first (values closer than a millionth, or beyond
    ±9.2 trillion, rank as equal and fall to the tie-breaks)."""
    units = math.floor(Decimal(value).scaleb(6, _EXACT))
    return -max(-_MAX_KEY, min(_MAX_KEY, units))


def entry_row(member_no: int, value: BoardValue, pseudonym: str, tag: int) -> EntryRow:
    return EntryRow(member_no, value.board, value.period, sort_key(value.value),
                    str(value.value), value.reached_at_us, pseudonym, tag)


@dataclass
class BoardRows:
    """The leaderboard rows a set of folded members needs written, as plain rows: what a
    fold worker process sends to the one writer (an accumulator never leaves its process)."""

    entries: list[EntryRow] = field(default_factory=list)
    left: list[tuple[int, str]] = field(default_factory=list)
    renamed: list[tuple[int, str, int]] = field(default_factory=list)
    friends: list[tuple[int, Sequence[str]]] = field(default_factory=list)

    def without(self, member_nos: set[int]) -> BoardRows:
        """These rows but those of ``member_nos`` (members the writer folds again)."""
        if not member_nos:
            return self
        return BoardRows([e for e in self.entries if e.member_no not in member_nos],
                         [x for x in self.left if x[0] not in member_nos],
                         [x for x in self.renamed if x[0] not in member_nos],
                         [x for x in self.friends if x[0] not in member_nos])

    def extend(self, other: BoardRows) -> None:
        self.entries.extend(other.entries)
        self.left.extend(other.left)
        self.renamed.extend(other.renamed)
        self.friends.extend(other.friends)

    def write(self, tx: Transaction) -> None:
        tx.drop_entries(self.left)
        tx.put_entries(self.entries)
        tx.rename_entries(self.renamed)
        tx.put_friends(self.friends)


def board_rows(folded: Sequence[tuple[int, MemberFold]]) -> BoardRows:
    """The leaderboard rows of members just folded (draining what each accumulator had to
    say): their entries on boards they joined (current period), none left on boards they
    left, their pseudonym everywhere, their friend grants. Members who never joined a
    board nor named a friend cost nothing."""
    rows = BoardRows()
    for no, acc in folded:
        part = acc.leaderboards
        if part is None or not part.needs_write():
            continue
        writes = part.drain(acc.rulebook)
        name = part.pseudonym(acc)
        rows.entries.extend(entry_row(no, v, name.name, name.tag) for v in writes.entries)
        rows.left.extend((no, board) for board in writes.left)
        if writes.renamed:
            rows.renamed.append((no, name.name, name.tag))
        if writes.friends is not None:
            rows.friends.append((no, writes.friends))
    return rows


def write_boards(tx: Transaction, folded: Sequence[tuple[int, MemberFold]]) -> None:
    """Write the leaderboard rows of members just folded, in the transaction that writes
    their state (see :func:`board_rows`; no query when there is nothing to say)."""
    board_rows(folded).write(tx)


class Folder(Protocol):
    """Folds a batch's members somewhere else (fold worker processes that own them):
    :func:`fold_batch`'s contract, given what the writer read in its transaction."""

    def fold(self, rulebook: Rulebook, batch: FoldBatch, *,
             meanwhile: Callable[[], None]) -> FoldOutcome:
        """The batch folded; ``meanwhile`` (the insert of its events) is run while it is
        (its failure fails the fold)."""
        ...


@dataclass
class FoldBatch:
    """One batch's new events by member, with what the writer read for them."""

    by_member: dict[str, list[Event]]
    nos: dict[str, int]
    created: set[str]
    label_of: dict[str, str]
    """Batch label (``line 12``, ``item 3``) of every new event, by id."""
    states: dict[int, StateRow]
    canon: dict[str, str]
    """Canonical attribute JSON of every new event, by id (what a worker rebuilds it from);
    empty when the batch is folded in the writer's process."""


@dataclass
class FoldOutcome:
    """What the writer stores for a folded batch, as plain rows."""

    states: list[StateRow]
    boards: BoardRows
    cancelled: dict[str, str | None]
    """For each redemption cancellation of the batch, the reward it gave back (None when it
    cancelled nothing): the stock guard's input."""
    snapshots: list[SnapshotRow] = field(default_factory=list)
    """Fold snapshots due (see :mod:`plaudit.application.snapshots`)."""


History = Callable[[Sequence[int]], dict[int, list[Event]]]
"""Members' stored events, this batch's included, each member's in any order (a re-fold's
input); every member asked is in the answer."""

REFOLD_CHUNK = 256
"""Members whose histories (or snapshot tails) are read in one go by :func:`fold_batch`:
one query a chunk instead of one a member, and at most this many histories in memory."""


def events_by_member(tx: Transaction, rulebook: Rulebook, member_nos: Sequence[int]
                     ) -> dict[int, list[Event]]:
    """Every stored event the fold reads of each member, in no order (a few queries)."""
    by_no: dict[int, list[Event]] = {no: [] for no in member_nos}
    for no, row in tx.events_of_members(member_nos):
        by_no[no].append(to_event(rulebook, row))
    return by_no


def store_batch(tx: Transaction, rulebook: Rulebook, cache: FoldCache, events: list[Event],
                labels: list[str], now_us: int, folder: Folder | None = None,
                canon: list[str] | None = None) -> BatchResult:
    """Store one validated batch and re-fold its members inside ``tx`` (here, or on
    ``folder``'s processes). ``canon``: the events' canonical attribute JSON, when the
    caller computed it already (bulk ingest does, on its decoding thread).

    Raises :class:`EventConflict` (the caller's transaction then rolls back) when an id is
    reused with another body, :class:`InsufficientPoints` when a spend exceeds the
    balance (both name the batch item).
    """
    result = BatchResult(received=len(events))
    if canon is None:
        canon = [canonical_attributes(e.attributes) for e in events]
    unique = _unique_in_batch(events, canon, labels, result)
    nos, created = tx.ensure_members([events[i].member for i in unique], now_us)
    if rulebook.member_attributes:  # after the member locks: an erasure is seen (erasure.py)
        _check_referred(tx, rulebook, events, unique, labels)
    fresh = _fresh(tx, events, canon, labels, unique, result)
    result.stored = len(fresh)
    if fresh:
        by_member: dict[str, list[Event]] = {}
        for i in fresh:
            by_member.setdefault(events[i].member, []).append(events[i])
        result.members = len(by_member)
        batch = FoldBatch(by_member, nos, created, {events[i].id: labels[i] for i in fresh},
                          tx.states([nos[m] for m in by_member]),
                          {} if folder is None else {events[i].id: canon[i] for i in fresh})
        def insert() -> None:
            _insert(tx, events, canon, labels, fresh, nos)

        if folder is None:
            insert()  # first: a re-fold reads the member's events back, these included
            resume = snapshots.resumer(
                lambda: nullcontext(tx), rulebook,
                lambda s: to_event(rulebook, s)) if cache.snapshot_every else None
            with cache.lock:
                outcome = fold_batch(rulebook, cache, batch,
                                     lambda nos: events_by_member(tx, rulebook, nos), resume)
        else:  # the owners fold while the events are inserted
            outcome = folder.fold(rulebook, batch, meanwhile=insert)
        tx.put_states(outcome.states, now_us)
        tx.put_snapshots(outcome.snapshots)
        outcome.boards.write(tx)
        stock_events = [events[i] for i in fresh if events[i].type in COMMANDS]
        if stock_events:
            try:
                _guard_stock(tx, rulebook, stock_events, outcome.cancelled, batch.label_of)
            except BaseException:
                cache.drop([nos[m] for m in by_member])
                raise
    return result


def _guard_stock(tx: Transaction, rulebook: Rulebook, stock_events: list[Event],
                 cancelled: dict[str, str | None], label_of: dict[str, str]) -> None:
    """Take (and give back) the shared stock of redeemed rewards in this transaction.

    The database decides, with a conditional update per reward (in reward order, so two
    writers cannot deadlock): a redemption that would go over the stock refuses the whole
    batch, whatever any process believed. A cancellation gives stock back only when it
    did cancel a redemption.
    """
    delta: dict[str, int] = {}
    first: dict[str, str] = {}
    for e in stock_events:
        if e.type == REDEEM:
            redeemed = str(e.attributes["reward"])
            delta[redeemed] = delta.get(redeemed, 0) + 1
            first.setdefault(redeemed, e.id)
        elif (gave_back := cancelled.get(e.id)) is not None:
            delta[gave_back] = delta.get(gave_back, 0) - 1
    for reward_id in sorted(delta):
        if not delta[reward_id]:
            continue
        reward = rulebook.reward_index.get(reward_id)
        stock = reward.stock if reward is not None else None
        if not tx.change_stock(reward_id, delta[reward_id], stock):
            event_id = first.get(reward_id, "")
            raise RedemptionRefused([Problem(
                label_of.get(event_id, "batch"), "attributes.reward",
                f"`{reward_id}` is out of stock: all {stock} are redeemed")], event_id=event_id)


def _check_referred(tx: Transaction, rulebook: Rulebook, events: list[Event],
                    unique: list[int], labels: list[str]) -> None:
    """A ``member`` attribute (a referral) must name another member who exists (has sent
    an event before, or in this batch): never the member itself, never a made-up id.
    Only existence is read: nothing about the other member reaches this member's state."""
    named: list[tuple[int, str, str]] = []
    for i in unique:
        for attr in rulebook.member_attributes.get(events[i].type, ()):
            named.append((i, attr, str(events[i].attributes[attr])))
    if not named:
        return
    known = set(tx.member_nos([m for _, _, m in named])) | {events[i].member for i in unique}
    problems = []
    for i, attr, other in named:
        if other == events[i].member:
            problems.append(Problem(labels[i], f"attributes.{attr}",
                                    "names the member itself: a member cannot refer "
                                    "themselves"))
        elif other not in known:
            problems.append(Problem(labels[i], f"attributes.{attr}",
                                    f"`{other}` is not a member yet: the referred person "
                                    "must have joined (sent an event) first"))
    if problems:
        raise EventRejected(problems)


def _unique_in_batch(events: list[Event], canon: list[str], labels: list[str],
                     result: BatchResult) -> list[int]:
    """Positions of first occurrences; a repeat with the same body is a duplicate."""
    first_seen: dict[str, int] = {}
    problems: list[Problem] = []
    unique: list[int] = []
    for i, e in enumerate(events):
        j = first_seen.get(e.id)
        if j is None:
            first_seen[e.id] = i
            unique.append(i)
        elif _same(events[j], canon[j], e.member, e.type, e.at_us, canon[i]):
            result.duplicates += 1
            result.duplicate_at.add(i)
        else:
            problems.append(Problem(labels[i], "id", f"event id `{e.id}` appears again with a "
                                                     f"different body (first at {labels[j]})"))
    if problems:
        raise EventConflict(problems)
    return unique


def _fresh(tx: Transaction, events: list[Event], canon: list[str], labels: list[str],
           unique: list[int], result: BatchResult) -> list[int]:
    """The positions of the events not stored yet (refusing an id stored with another body).

    One indexed look-up of the batch's ids (far cheaper than the savepoint an optimistic
    insert needs to undo itself). It cannot go stale on SQLite (the write lock is held) nor
    for this batch's members on PostgreSQL (their rows are locked); :func:`_insert`'s
    ``ON CONFLICT`` guard is for the one race left: another member's event stored under the
    same id meanwhile, which is a conflict.
    """
    stored = tx.stored_events([events[i].id for i in unique])
    fresh: list[int] = []
    problems: list[Problem] = []
    for i in unique:
        e = events[i]
        old = stored.get(e.id)
        if old is None:
            fresh.append(i)
        elif _same_stored(old, e, canon[i]):
            result.duplicates += 1
            result.duplicate_at.add(i)
        else:
            problems.append(Problem(labels[i], "id", f"event id `{e.id}` is already stored "
                                                     "with a different body"))
    if problems:
        raise EventConflict(problems)
    return fresh


def _insert(tx: Transaction, events: list[Event], canon: list[str], labels: list[str],
            fresh: list[int], nos: dict[str, int]) -> None:
    rows = [EventRow(events[i].id, nos[events[i].member], events[i].type, events[i].at_us,
                     events[i].at, canon[i]) for i in fresh]
    if tx.insert_events(rows) != len(fresh):
        now = tx.stored_events([events[i].id for i in fresh])
        raise EventConflict([
            Problem(labels[i], "id", f"event id `{events[i].id}` was just stored by another "
                                     "request with a different body")
            for i in fresh if not _same_stored(now[events[i].id], events[i], canon[i])]
            or [Problem("body", "id", "an event id was stored concurrently; send again")])


def fold_batch(rulebook: Rulebook, cache: FoldCache, batch: FoldBatch, history: History,
               resume: snapshots.Resume | None = None) -> FoldOutcome:
    """Apply each member's new events (incrementally, or by re-folding from ``history``, or
    from a trusted snapshot and the events after it when ``resume`` finds one), keeping
    the accumulators in ``cache`` (the caller holds its lock); nothing is written.

    Raises the batch's refusal, naming its item, and then forgets every accumulator of the
    batch (they may hold part of it)."""
    out: list[StateRow] = []
    boards = BoardRows()
    due: list[SnapshotRow] = []
    cancelled: dict[str, str | None] = {}
    by_member, nos, label_of, states = batch.by_member, batch.nos, batch.label_of, batch.states
    members = list(by_member.items())
    try:
        for lo in range(0, len(members), REFOLD_CHUNK):
            # Which of these members are folded on from a trusted accumulator, and which
            # again (a cache miss, or a late event): those are read together.
            plans: list[tuple[str, list[Event], int, MemberFold | None]] = []
            wanted: list[snapshots.Wanted] = []
            for member, evs in members[lo:lo + REFOLD_CHUNK]:
                no = nos[member]
                evs.sort(key=lambda e: (e.at_us, e.id))
                acc = _accumulator(rulebook, cache, no, member, states.get(no),
                                   member in batch.created)
                if acc is not None and (acc.last_key is None or (evs[0].at_us, evs[0].id)
                                        > acc.last_key):
                    plans.append((member, evs, no, acc))
                else:
                    plans.append((member, evs, no, None))
                    wanted.append((no, member, states.get(no), (evs[0].at_us, evs[0].id)))
            # A snapshot is used only if every new event sorts after it, so nothing
            # before it can change (and its spends stay covered).
            resumed = resume(wanted) if resume is not None and wanted else {}
            missing = [w[0] for w in wanted if w[0] not in resumed]
            histories = history(missing) if missing else {}
            for member, evs, no, known in plans:
                acc = known
                if acc is not None:
                    for e in evs:
                        acc.apply(e, strict=True)
                else:
                    acc = _refold(rulebook, member, evs, no, states.get(no), label_of,
                                  resumed.pop(no, None), histories, cache)
                _folded(no, acc, evs, out, boards, due, cancelled, cache)
            cache.fit_held()
    except InsufficientPoints as e:
        cache.drop([nos[m] for m in by_member])
        where = label_of.get(e.event_id or "")
        reason = f"insufficient points: {e.reason}"
        if where is None:  # a stored spend would be left uncovered by this batch's spend
            spend_id = next(i for m in by_member.values() for x in m
                            if x.type in SPENDING and (i := x.id) in label_of)
            where = label_of[spend_id]
            reason = (f"insufficient points: would leave the stored spend `{e.event_id}` "
                      f"uncovered: {e.reason}")
        raise InsufficientPoints(e.reason, event_id=e.event_id, problems=[
            Problem(where, "attributes.points", reason)]) from None
    except (RedemptionRefused, MemberOptedOut) as e:
        cache.drop([nos[m] for m in by_member])
        raise type(e)([Problem(label_of.get(e.event_id or "", p.where), p.field,
                               p.reason, p.suggestion) for p in e.problems],
                      event_id=e.event_id) from None
    except BaseException:
        cache.drop([nos[m] for m in by_member])
        raise
    return FoldOutcome(out, boards, cancelled, due)


def _refold(rulebook: Rulebook, member: str, evs: list[Event], no: int,
            state: StateRow | None, label_of: dict[str, str],
            resumed: tuple[MemberFold, list[Event]] | None,
            histories: dict[int, list[Event]], cache: FoldCache) -> MemberFold:
    """The member folded again, from a trusted snapshot and the events after it, or from
    every stored event (``evs`` are this batch's, sorted, and among them)."""
    # When the batch spends, every spend of the member must still be covered afterwards
    # (an earlier spend arriving late must not leave an acknowledged later one short);
    # only this batch's commands have their conditions checked (stored ones are facts),
    # and stored commands after the first new event: a late redemption must not leave a
    # later one over its limit or requirement.
    spends = any(e.type in SPENDING for e in evs)
    first = (evs[0].at_us, evs[0].id)
    rest: Iterable[Event]
    if resumed is not None:
        acc, rest = resumed
        cache.resumed += 1
    else:
        acc = MemberFold(rulebook, member)
        acc.revision = state.revision if state is not None else 0
        rest = histories.pop(no)
    for e in sorted(rest, key=lambda e: (e.at_us, e.id)):
        acc.apply(e, strict=spends, check=e.id in label_of or (
            e.type in COMMANDS and (e.at_us, e.id) > first))
    return acc


def _folded(no: int, acc: MemberFold, evs: list[Event], out: list[StateRow],
            boards: BoardRows, due: list[SnapshotRow], cancelled: dict[str, str | None],
            cache: FoldCache) -> None:
    """A member's rows now, and into the cache (which may evict it at once): holding every
    accumulator of a batch until its end made a batch's members, not the cache, the bound
    on memory; now it is the cache plus one chunk's (:data:`REFOLD_CHUNK`) restored or
    re-read members. On a refusal, the cache forgets every member of the batch anyway."""
    for e in evs:
        if e.type == REDEEM_CANCEL:
            part = acc.rewards
            cancelled[e.id] = None if part is None else part.cancelled_reward(
                e.attributes["redemption"], e.id)
    out.append(state_row(no, acc))
    boards.extend(board_rows([(no, acc)]))  # before its snapshot: nothing pending
    due.extend(snapshots.due_rows([(no, acc)], cache.snapshot_every))
    cache.put(no, acc)


def _accumulator(rulebook: Rulebook, cache: FoldCache, no: int, member: str,
                 state: StateRow | None, created: bool) -> MemberFold | None:
    """A trusted accumulator for the member, or None when it must be re-folded."""
    if created:
        return MemberFold(rulebook, member)
    acc = cache.get(no)
    if acc is None or state is None or not trusted(acc, state, rulebook):
        return None
    return acc


def trusted(acc: MemberFold, state: StateRow, rulebook: Rulebook) -> bool:
    """Whether ``acc`` folded exactly the stored events behind ``state``."""
    return (acc.rulebook is rulebook and state.rulebook_version == rulebook.version
            and state.position == acc.position and acc.last_key is not None
            and state.last_event_id == acc.last_key[1] and state.revision == acc.revision)


def _same(a: Event, a_canon: str, member: str, type_: str, at_us: int, canon: str) -> bool:
    return a.member == member and a.type == type_ and a.at_us == at_us and a_canon == canon


def _same_stored(old: StoredEvent, e: Event, canon: str) -> bool:
    return (old.member_id == e.member and old.type == e.type and old.at_us == e.at_us
            and old.attributes == canon)


# -- files ------------------------------------------------------------------------------

def open_events_file(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when it ends in .gz (the caller closes it)."""
    if path.suffix == ".gz":
        return cast(BinaryIO, gzip.open(path, "rb"))
    return path.open("rb")


def read_batches(stream: IO[bytes], batch_size: int
                 ) -> Iterator[tuple[list[bytes], list[int], int]]:
    """Non-blank lines in batches: (lines, their line numbers, bytes read so far)."""
    lines: list[bytes] = []
    numbers: list[int] = []
    done = 0
    for number, line in enumerate(stream, start=1):
        done += len(line)
        if not line.strip():
            continue
        lines.append(line)
        numbers.append(number)
        if len(lines) >= batch_size:
            yield lines, numbers, done
            lines, numbers = [], []
    if lines:
        yield lines, numbers, done


__all__ = [
    "DEFAULT_BATCH",
    "BatchResult",
    "BoardRows",
    "FoldBatch",
    "FoldCache",
    "FoldOutcome",
    "Folder",
    "History",
    "IngestReport",
    "RejectedBatch",
    "board_rows",
    "fold_batch",
    "open_events_file",
    "read_batches",
    "sort_key",
    "state_row",
    "store_batch",
    "to_event",
    "write_boards",
]
