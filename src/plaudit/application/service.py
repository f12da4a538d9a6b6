"""The use cases, behind one object the entrypoints call.

Each method is one thing a user does — check or publish a rulebook, ingest a batch or a
file, read a member at an as-of time — and each CLI command or HTTP route is a thin
wrapper over one of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from plaudit.application import audit, erasure, erasure_requests, export, snapshots
from plaudit.application import backtest as bt
from plaudit.application import leaderboards as lb
from plaudit.application import overview as ov
from plaudit.application import replay as rp
from plaudit.application.access import Access
from plaudit.application.cohorts import Cohorts
from plaudit.application.collector import FreezeAfterWrites, quiet_collector
from plaudit.application.disputes import Disputes
from plaudit.application.erasure_requests import ErasureRequest
from plaudit.application.fold_pool import FoldPool
from plaudit.application.ingest import (
    DEFAULT_BATCH,
    BatchResult,
    FoldCache,
    Folder,
    IngestReport,
    RejectedBatch,
    open_events_file,
    read_batches,
    store_batch,
    to_event,
)
from plaudit.application.jobs import Jobs
from plaudit.application.ports import (
    CheckRow,
    Clock,
    DraftRow,
    JobRow,
    RulebookRow,
    StateRow,
    Store,
    Transaction,
)
from plaudit.application.prefetch import prefetched
from plaudit.application.replay import ReplayReport
from plaudit.application.wire import EventDecoder, canonical_attributes, to_json
from plaudit.application.workers import RulebookText, WorkerFailed, default_workers
from plaudit.domain.calendar import from_us
from plaudit.domain.errors import (
    Conflict,
    EventConflict,
    EventRejected,
    Forbidden,
    NotFound,
    Problem,
    StoreError,
)
from plaudit.domain.events import (
    CONSENT,
    FRIEND,
    LEADERBOARD,
    OPT_OUT,
    PSEUDONYM,
    REDEEM,
    REDEEM_CANCEL,
    Event,
)
from plaudit.domain.explain import Explanation, explain
from plaudit.domain.expressions import closest
from plaudit.domain.fold import MemberFold, fold_events
from plaudit.domain.mechanics.leaderboards import period_key, pseudonym
from plaudit.domain.mechanics.rewards import catalogue_entry
from plaudit.domain.rulebook import MAX_SEED, Leaderboard, Perk, Rulebook
from plaudit.domain.state import (
    BadgeView,
    CatalogueEntry,
    ConsentView,
    LedgerEntry,
    MemberState,
    QuestView,
    RedemptionView,
    StreakView,
)
from plaudit.rulebook import load_rulebook
from plaudit.rulebook.compiler import digest
from plaudit.rulebook.diff import RulebookDiff, diff_texts

POOL_BYTES_PER_EVENT = 150
"""About what one event takes in a JSON Lines file: a file of fewer than two batches of
them is folded in-process."""


@dataclass(frozen=True)
class PerkCheck:
    """A partner's whole answer: nothing about the member but this yes/no."""

    member: str
    perk: str
    eligible: bool
    checked_at: str
    valid_until: str
    """``checked_at`` plus the perk's ``valid_for`` (default an hour): how long the partner
    may rely on the answer before asking again."""


@dataclass(frozen=True)
class CheckView:
    """One partner check, as the member it was about sees it."""

    partner: str
    perk: str
    at: str
    answer: str
    """``yes``, ``no``, or ``refused`` (the member had not consented: the partner learnt
    nothing)."""
    valid_until: str | None


@dataclass(frozen=True)
class ScorePoint:
    date: str
    score: int
    band: str | None


NOT_ALLOWED = "not allowed: the member has not consented, or this perk is not yours to check"
"""One message for every refused partner check, so a refusal leaks nothing about the member."""

MAX_HISTORY_DAYS = 3_660


@dataclass(frozen=True)
class Participation:
    """The answer to opting out or in: the member's status after it, as their state says
    it (so asking twice answers the same)."""

    member: str
    status: str
    """``opted_out`` or ``active``."""
    opted_out_at: str | None
    """Local time the member opted out, while they are out."""


@dataclass(frozen=True)
class PublishResult:
    version: int
    created: bool
    """False when the same text was already the current version: no new version, and only
    members left behind by an interrupted re-fold were re-folded."""
    members: int
    """Members re-folded."""


class Plaudit:
    def __init__(self, store: Store, clock: Clock, *, cache_size: int = 20_000,
                 fold_workers: int | None = 1,
                 snapshot_every: int = snapshots.DEFAULT_EVERY,
                 memory_mb: int | None = None) -> None:
        self.store = store
        self.clock = clock
        self.fold_workers = fold_workers
        self.folder: FoldPool | None = None
        """Fold processes this service's writes and present-state reads go to, while
        serving with them (:meth:`start_folding`); None folds in this process."""
        """Processes that fold members when the whole program is folded (publish, replay,
        backtest); None means one per core. See :mod:`plaudit.application.workers`."""
        self.cache = FoldCache(cache_size, snapshot_every, memory_mb=memory_mb)
        self._compiled: dict[int, Rulebook] = {}
        self._decoders: dict[int, EventDecoder] = {}
        self._latest: Rulebook | None = None
        """The newest rulebook this process has seen: decoding uses it outside the write
        transaction, which re-checks it."""
        self.access = Access(store, clock)
        self.jobs = Jobs(store, clock)
        self.disputes = Disputes(self)
        self._backtesting = threading.Lock()
        """One backtest at a time per process, whoever asks (API, console, CLI): each folds
        every member twice, and two at once only halve each other's speed."""

    # -- rulebooks ----------------------------------------------------------------------

    def check_rulebook(self, text: str, name: str = "rulebook.yaml") -> Rulebook:
        return load_rulebook(text, name)

    def _compiled_row(self, row: RulebookRow) -> Rulebook:
        rb = self._compiled.get(row.version)
        if rb is None:
            rb = load_rulebook(row.source, f"rulebook v{row.version}").with_version(row.version)
            self._compiled[row.version] = rb
        return rb

    def _current(self, tx: Transaction) -> Rulebook:
        """The current rulebook: one small query, the compiled version cached by number."""
        version = tx.current_version()
        if version is None:
            raise NotFound("no rulebook is published yet: run `plaudit init` or "
                           "`plaudit rulebook publish FILE`")
        rb = self._compiled.get(version)
        if rb is None:
            row = tx.rulebook(version)
            assert row is not None
            rb = self._compiled_row(row)
        self._latest = rb
        return rb

    def rulebook(self, version: int | None = None) -> Rulebook:
        with self.store.read() as tx:
            if version is None:
                return self._current(tx)
            row = tx.rulebook(version)
            if row is None:
                raise NotFound(f"no rulebook version {version}")
            return self._compiled_row(row)

    def rulebook_versions(self) -> list[RulebookRow]:
        with self.store.read() as tx:
            return tx.rulebooks()

    def diff_versions(self, before: int, after: int) -> RulebookDiff:
        """What changed from published version ``before`` to ``after`` (rulebook/diff.py)."""
        with self.store.read() as tx:
            rows = {v: tx.rulebook(v) for v in (before, after)}
            newest = tx.current_version()
        for v, row in rows.items():
            if row is None:
                known = f"published: 1 to {newest}" if newest else "none is published yet"
                raise NotFound(f"no rulebook version {v} ({known})")
        old, new = rows[before], rows[after]
        assert old is not None and new is not None
        return diff_texts(old.source, new.source, f"v{before}", f"v{after}")

    def publish_rulebook(self, text: str, name: str = "rulebook.yaml",
                         progress: Callable[[int, int], Any] | None = None, *,
                         actor: str, draft_id: int | None = None) -> PublishResult:
        """Publish a new version (if the text changed) and re-fold every member under it.

        Publishing the current text again creates nothing, but finishes a re-fold that was
        cut off (a crash, a restart): members whose stored state is not yet at the current
        version are re-folded, the others are left alone. ``actor`` (a key id or
        ``cli:<user>``) is recorded as the version's ``published_by`` and in the audit
        log, in the transaction that adds the version; ``draft_id`` names the draft it
        came from, for the audit entry.
        """
        compiled = load_rulebook(text, name)
        with self.store.write() as tx:
            tx.lock_rulebooks()
            current = tx.current_rulebook()
            unchanged = current is not None and current.digest == digest(text)
            if not unchanged:
                version = tx.add_rulebook(compiled.program.id, compiled.digest, text,
                                          self.clock.now_us(), actor[:audit.MAX_ACTOR])
                # disputes: open ones' events follow the new version's policy, in its
                # transaction (dispute changes wait for it: Transaction.hold_rulebooks)
                tx.set_open_excluded(compiled.program.disputes == "exclude")
                detail: dict[str, Any] = {"program": compiled.program.id,
                                          "digest": compiled.digest}
                if draft_id is not None:
                    detail["draft"] = draft_id
                audit.record(tx, self.clock, actor, "rulebook.publish",
                             f"rulebook:{version}", detail)
        if unchanged:
            assert current is not None
            rb = self._compiled_row(current)
            return PublishResult(current.version, False,
                                 self.refold_all(rb, progress, behind_only=True))
        rb = compiled.with_version(version)
        self._compiled[version] = rb
        self.cache.clear()
        members = self.refold_all(rb, progress)
        return PublishResult(version, True, members)

    def upload_draft(self, text: str, name: str = "draft.yaml", *, actor: str) -> DraftRow:
        """Validate and lint a rulebook and keep it as a draft (RulebookError if refused)."""
        compiled = load_rulebook(text, name)
        with self.store.write() as tx:
            draft_id = tx.add_draft(compiled.program.id, compiled.digest, text,
                                    self.clock.now_us())
            row = tx.draft(draft_id)
            audit.record(tx, self.clock, actor, "draft.upload", f"draft:{draft_id}",
                         {"program": compiled.program.id, "digest": compiled.digest})
        assert row is not None
        return row

    def drafts(self) -> list[DraftRow]:
        with self.store.read() as tx:
            return tx.drafts()

    def draft(self, draft_id: int) -> DraftRow:
        with self.store.read() as tx:
            row = tx.draft(draft_id)
        if row is None:
            raise NotFound(f"no rulebook draft {draft_id}")
        return row

    def publish_draft(self, draft_id: int,
                      progress: Callable[[int, int], Any] | None = None, *,
                      actor: str) -> PublishResult:
        draft = self.draft(draft_id)
        result = self.publish_rulebook(draft.source, f"draft {draft_id}", progress,
                                       actor=actor, draft_id=draft_id)
        with self.store.write() as tx:
            tx.mark_draft_published(draft_id, result.version)
        return result

    def start_publish(self, draft_id: int, *, actor: str) -> JobRow:
        """Publish a draft as a background job (the re-fold takes a while): the job's row,
        to follow in :attr:`jobs`. A missing draft is NotFound now, not a failed job."""
        self.draft(draft_id)

        def work(progress: Callable[[int, int], Any]) -> dict[str, Any]:
            result = self.publish_draft(draft_id, progress, actor=actor)
            return {"version": result.version, "created": result.created,
                    "members": result.members}

        return self.jobs.start("publish", work)

    def refold_all(self, rulebook: Rulebook,
                   progress: Callable[[int, int], Any] | None = None, *,
                   behind_only: bool = False) -> int:
        """Recompute every member's stored state under ``rulebook`` (with ``behind_only``,
        only members whose state is at another version); see :meth:`replay`."""
        return self.replay(rulebook, progress, behind_only=behind_only).members

    def replay(self, rulebook: Rulebook | None = None,
               progress: Callable[[int, int], Any] | None = None, *,
               behind_only: bool = False, workers: int | None = None) -> ReplayReport:
        """Re-fold every member under ``rulebook`` (default: the current one) on
        ``workers`` processes (default: this service's ``fold_workers``), in one
        transaction per page of members; see :mod:`plaudit.application.replay`."""
        rb = rulebook or self.rulebook()
        return rp.replay(self.store, rb, self._source(rb), now_us=self.clock.now_us,
                         workers=self.fold_workers if workers is None else workers,
                         behind_only=behind_only, progress=progress,
                         snapshot_every=self.cache.snapshot_every)

    def _source(self, rb: Rulebook) -> RulebookText:
        with self.store.read() as tx:
            row = tx.rulebook(rb.version)
        if row is None:
            raise NotFound(f"no rulebook version {rb.version}")
        return RulebookText(row.source, f"rulebook v{row.version}", row.version)

    # -- backtest (a candidate against the published rulebook; application/backtest.py) -

    def backtest(self, candidate: Rulebook, label: str, *, as_of_us: int | None = None,
                 cohorts: Cohorts | None = None, min_group: int = bt.DEFAULT_MIN_GROUP,
                 top: int = bt.DEFAULT_TOP,
                 progress: Callable[[int, int], Any] | None = None,
                 candidate_text: str | None = None) -> dict[str, Any]:
        """Fold every member under the published rulebook and ``candidate`` at ``as_of_us``
        (default now) and compare; writes nothing. See :func:`bt.backtest`. Given the
        candidate's text, the folds run on :attr:`fold_workers` processes."""
        with self._backtesting:
            published = self.rulebook()
            as_of = as_of_us if as_of_us is not None else self.clock.now_us()
            sources = None if candidate_text is None else (
                self._source(published),
                RulebookText(candidate_text, label, candidate.version))
            return bt.backtest(self.store, published, candidate, as_of,
                               before_label=f"published v{published.version}",
                               after_label=label, cohorts=cohorts, min_group=min_group,
                               top=top, progress=progress, sources=sources,
                               workers=self.fold_workers)

    def backtest_draft(self, draft_id: int, **options: Any) -> dict[str, Any]:
        draft = self.draft(draft_id)
        return self.backtest(load_rulebook(draft.source, f"draft {draft_id}"),
                             f"draft {draft_id}", candidate_text=draft.source, **options)

    # -- ingest -------------------------------------------------------------------------

    def start_folding(self, workers: int) -> bool:
        """Fold this process's writes on ``workers`` processes that own the members (the
        API server's ``PLAUDIT_SERVE_FOLD_WORKERS``): this one keeps HTTP, decoding and
        the transactions, theirs the accumulators. False when the store cannot be opened
        by another process (an in-memory database)."""
        opener = self.store.opener()
        if opener is None or workers < 1 or self.folder is not None:
            return False
        self.folder = FoldPool(opener, self._source, workers,
                               cache_members=self.cache.limit,
                               snapshot_every=self.cache.snapshot_every,
                               memory_mb=self.cache.memory_mb)
        return True

    def stop_folding(self) -> None:
        if self.folder is not None:
            self.folder.close()
            self.folder = None

    def decoder(self, rulebook: Rulebook) -> EventDecoder:
        dec = self._decoders.get(rulebook.version)
        if dec is None:
            dec = EventDecoder(rulebook)
            self._decoders[rulebook.version] = dec
        return dec

    def ingest_items(self, items: list[Any], *,
                     then: Callable[[Transaction], Any] | None = None) -> BatchResult:
        """Validate and store parsed JSON events as one atomic batch (``item N`` labels).

        ``then`` runs last in the batch's transaction (an audit entry for a command that
        is recorded as an event): it commits exactly when the batch does."""
        rb = self._latest or self.rulebook()
        events, problems = self.decoder(rb).decode_items(items)
        if problems:
            current = self.rulebook()  # refuse only against the rulebook in force
            if current.version != rb.version:
                return self.ingest_items(items, then=then)
            raise EventRejected(problems)
        labels = [f"item {i}" for i in range(len(events))]
        folder = self.folder
        try:
            with self.store.write() as tx:
                current = self._current(tx)
                if current.version != rb.version:  # published meanwhile: validate again
                    events, problems = self.decoder(current).decode_items(items)
                    if problems:
                        raise EventRejected(problems)
                result = store_batch(tx, current, self.cache, events, labels,
                                     self.clock.now_us(), folder)
                if then is not None:
                    then(tx)
                return result
        except WorkerFailed as e:  # rolled back: store it again, folding here
            self._lost_folder(folder, e)
            return self.ingest_items(items, then=then)

    def ingest_requests(self, requests: list[list[Any]]
                        ) -> list[BatchResult | Exception]:
        """Several requests' items, each atomic on its own, in one transaction when they
        all succeed (group commit): the common case pays one BEGIN, one commit and one
        statement of each kind for the lot.

        When the merged batch is refused or fails for a reason of its own, each request is
        stored alone, in order, so a bad request cannot take its neighbours down and its
        errors name its own items; each request's own failure is returned in its place.
        When the database itself fails (:class:`StoreError`) the whole group hears it at
        once instead of waiting out one more failure per request. The outcome is
        that of the requests applied one after another in some order, as for any concurrent
        requests: a spend may be covered by a purchase sent at the same moment.
        """
        if len(requests) > 1:
            try:
                merged = self.ingest_items([item for r in requests for item in r])
            except StoreError:
                raise
            except Exception:  # each request is retried alone below
                pass
            else:
                out: list[BatchResult | Exception] = []
                offset = 0
                for r in requests:
                    dup = {i - offset for i in merged.duplicate_at
                           if offset <= i < offset + len(r)}
                    out.append(BatchResult(received=len(r), stored=len(r) - len(dup),
                                           duplicates=len(dup), duplicate_at=dup))
                    offset += len(r)
                return out
        results: list[BatchResult | Exception] = []
        for r in requests:
            try:
                results.append(self.ingest_items(r))
            except Exception as e:  # answered to its own request
                results.append(e)
        return results

    def ingest_events(self, events: list[Event], labels: Sequence[str], *,
                      folder: Folder | None = None, canon: list[str] | None = None
                      ) -> BatchResult:
        try:
            with self.store.write() as tx:
                rb = self._current(tx)
                return store_batch(tx, rb, self.cache, events, list(labels),
                                   self.clock.now_us(), folder, canon)
        finally:
            self.cache.fit()

    def ingest_file(self, path: Path, *, batch_size: int = DEFAULT_BATCH,
                    progress: Callable[[int, IngestReport], Any] | None = None,
                    workers: int | None = None) -> IngestReport:
        """Stream a JSONL file (optionally .gz) in atomic batches; see :meth:`ingest_stream`.

        A file of more than two batches is folded on ``workers`` processes (default:
        :attr:`fold_workers`); a smaller one in this process, where starting them would
        cost more than they save."""
        if workers is None:
            workers = self.fold_workers
        if path.suffix != ".gz" and path.stat().st_size < 2 * batch_size * POOL_BYTES_PER_EVENT:
            workers = 1
        with open_events_file(path) as stream:
            return self.ingest_stream(stream, batch_size=batch_size, progress=progress,
                                      workers=workers)

    def ingest_stream(self, stream: BinaryIO, *, batch_size: int = DEFAULT_BATCH,
                      progress: Callable[[int, IngestReport], Any] | None = None,
                      workers: int | None = 1) -> IngestReport:
        """Ingest JSON Lines from a byte stream in atomic batches.

        A bad batch is reported and skipped; the others are stored. Re-running the same
        input after fixing it stores only what is missing. ``progress`` gets the bytes read
        so far and the report after each batch. With ``workers`` > 1 (None: one per core)
        the members are folded on that many processes (:mod:`plaudit.application.
        fold_pool`), this one decoding and writing.
        """
        n = default_workers() if workers is None else workers
        opener = self.store.opener() if n > 1 else None
        with contextlib.ExitStack() as stack:
            folder = None if opener is None else stack.enter_context(FoldPool(
                opener, self._source, n, cache_members=self.cache.limit,
                snapshot_every=self.cache.snapshot_every, memory_mb=self.cache.memory_mb))
            return self._ingest_batches(stream, batch_size, progress, folder)

    def _ingest_batches(self, stream: BinaryIO, batch_size: int,
                        progress: Callable[[int, IngestReport], Any] | None,
                        folder: Folder | None) -> IngestReport:
        report = IngestReport()
        latest = [self.rulebook()]

        def decoded() -> Iterator[tuple[list[bytes], list[int], int, Rulebook,
                                        list[Event], list[Problem], list[str] | None]]:
            for lines, numbers, done in read_batches(stream, batch_size):
                rb = latest[0]
                events, problems = self.decoder(rb).decode_lines(lines, numbers)
                canon = None if problems else [canonical_attributes(e.attributes)
                                               for e in events]
                yield lines, numbers, done, rb, events, problems, canon

        collector = FreezeAfterWrites(generation=2)
        with quiet_collector():
            for lines, numbers, done, used, events, problems, canon in prefetched(decoded()):
                report.lines += len(lines)
                report.batches += 1
                if used is not latest[0]:  # decoded ahead, before a publish was seen
                    events, problems = self.decoder(latest[0]).decode_lines(lines, numbers)
                    canon = None
                try:
                    if problems:
                        raise EventRejected(problems)
                    result = self.ingest_events(events, [f"line {n}" for n in numbers],
                                                folder=folder, canon=canon)
                except EventRejected as e:
                    report.rejected.append(RejectedBatch(numbers[0], numbers[-1],
                                                         list(e.problems)))
                else:
                    report.stored += result.stored
                    report.duplicates += result.duplicates
                if progress is not None:
                    progress(done, report)
                latest[0] = self._rulebook_if_changed(latest[0])
                collector.after_write()
        return report

    def _rulebook_if_changed(self, rb: Rulebook) -> Rulebook:
        current = self.rulebook()
        return current if current.version != rb.version else rb

    # -- reading ------------------------------------------------------------------------

    def member_state(self, member_id: str, as_of_us: int | None = None, *,
                     version: int | None = None, history: bool = True) -> MemberState:
        """The member's state at ``as_of_us`` (default: now), folded from their events.

        When this process holds an accumulator of the member that still matches the stored
        state row, it answers (a view, no re-fold): a read costs a few queries instead of
        the member's whole history. Ingest keeps the accumulators it folds; a read that had
        to fold all of the member's stored events keeps its own too, so after a restart, or
        when another process wrote the member, only the first read pays the fold."""
        view = self._member_state(member_id, as_of_us, version, history, rendered=False)
        assert isinstance(view, MemberState)
        return view

    def member_json(self, member_id: str) -> bytes:
        """The member's present state (``member_state(history=False)``) as its JSON
        document (:func:`~plaudit.application.wire.to_json`). With serving fold workers the
        owner renders it, and bytes cross its pipe: a pickled view costs more to send and
        load than the view costs to compute."""
        doc = self._member_state(member_id, None, None, False, rendered=True)
        assert isinstance(doc, bytes)
        return doc

    def _member_state(self, member_id: str, as_of_us: int | None, version: int | None,
                      history: bool, *, rendered: bool) -> MemberState | bytes:
        as_of = as_of_us if as_of_us is not None else self.clock.now_us()
        state: StateRow | None = None
        resumed = None
        with self.store.read() as tx:
            no = tx.member_no(member_id)
            if no is None:
                raise NotFound(f"member `{member_id}` not found")
            if version is None:
                rb = self._current(tx)
                if not history:
                    state = tx.states([no]).get(no)
                    cached = self._cached_view(state, rb, as_of, rendered)
                    if cached is not None:
                        return cached
                    resumed = self._resume(tx, rb, no, member_id, state, as_of)
            else:
                row = tx.rulebook(version)
                if row is None:
                    raise NotFound(f"no rulebook version {version}")
                rb = self._compiled_row(row)
            stored = tx.member_events(no, until_us=as_of) if resumed is None else []
        if resumed is not None:
            acc = fold_events(rb, member_id, resumed[1], as_of, start=resumed[0])
        else:
            acc = fold_events(rb, member_id, (to_event(rb, s) for s in stored), as_of,
                              history=history)
        view = acc.view(as_of)  # before offering: once kept, ingest may change acc
        if state is not None:
            self.cache.offer(state, rb, acc)
        return to_json(view) if rendered else view

    def _cached_view(self, state: StateRow | None, rb: Rulebook, as_of_us: int,
                     rendered: bool = False) -> MemberState | bytes | None:
        if state is None:
            return None
        cached = self.cache.view(state, rb, as_of_us)
        if cached is not None:
            return to_json(cached) if rendered else cached
        folder = self.folder
        if folder is not None:
            try:
                return folder.view(rb, state, as_of_us, rendered=rendered)
            except WorkerFailed as e:
                self._lost_folder(folder, e)
        return None

    def _lost_folder(self, folder: FoldPool | None, error: WorkerFailed) -> None:
        """A serving fold process died: stop the pool and fold in this process from now
        on (slower, never wrong: accumulators are re-folded from the database)."""
        logging.getLogger("plaudit").warning("fold workers stopped (%s): folding in the "
                                             "API process from now on", error)
        if folder is not None and self.folder is folder:
            self.folder = None
            folder.close()

    def score_history(self, member_id: str, as_of_us: int | None = None,
                      days: int = 365) -> list[ScorePoint]:
        """The score at the end of each local day it changed, over the last ``days`` days.

        Windows slide with time, so a score can change on a day without events; every day
        is evaluated, and only changes are returned (the first day in range always is).
        """
        if not 1 <= days <= MAX_HISTORY_DAYS:
            raise ValueError(f"days must be 1 to {MAX_HISTORY_DAYS}")
        as_of = as_of_us if as_of_us is not None else self.clock.now_us()
        with self.store.read() as tx:
            no = tx.member_no(member_id)
            if no is None:
                raise NotFound(f"member `{member_id}` not found")
            rb = self._current(tx)
            stored = tx.member_events(no, until_us=as_of)
        if rb.score is None:
            return []
        events = sorted((to_event(rb, s) for s in stored), key=lambda e: (e.at_us, e.id))
        cal = rb.calendar
        acc = MemberFold(rb, member_id)
        last_day = cal.day(as_of)
        first_day = max(last_day - days + 1, cal.day(events[0].at_us)) if events else last_day
        points: list[ScorePoint] = []
        i = 0
        previous: tuple[int, str | None] | None = None
        for day in range(first_day, last_day + 1):
            end = min(cal.day_start_us(day + 1) - 1, as_of)
            while i < len(events) and events[i].at_us <= end:
                acc.apply(events[i])
                i += 1
            value = acc.score_on(day)
            if value != previous:
                points.append(ScorePoint(cal.date(day).isoformat(), value[0], value[1]))
                previous = value
        return points

    def record_consent(self, member_id: str, partner: str, granted: bool) -> ConsentView:
        """Record a grant or revocation as a ``plaudit.consent`` event of the member.

        A member not seen yet is created, as any event of theirs would create them: a
        consent is an event, and the callers who may record one (an ``ingest`` key, or
        the member's own token) may send events anyway. So the answer is the same whether
        the member existed, and says nothing about who does. A grant must name a partner
        some perk lists (:class:`EventRejected` naming ``attributes.partner`` otherwise).
        """
        local = self._record(member_id, CONSENT, "consent",
                             {"partner": partner, "granted": granted}, create=True)
        return ConsentView(partner, granted, local)

    def check_perk(self, partner: str, member_id: str, perk_id: str) -> PerkCheck:
        """A partner's question "does this member qualify for my perk?".

        Refused with one and the same :class:`Forbidden` for an unknown member, an unknown
        perk, a perk not listed for this partner and a member without live consent, so the
        refusal tells the partner nothing. A member with no grant to this partner is refused
        by one query on the stored state's granted partners before anything is folded, so
        that refusal takes the same time whether the member exists or has a long history.
        The fold at now then decides again: a grant dated in the future is not live yet (the
        one refusal that costs a fold), and a revocation dated in the future refuses at
        once, erring on the member's side.

        Every check about an existing member, answered or refused, is logged for that member
        to see (:meth:`partner_checks`); an answer holds for the perk's ``valid_for``.
        """
        now = self.clock.now_us()
        rb = self.rulebook()
        perk = next((p for p in rb.perks if p.id == perk_id), None)
        answer = self._perk_answer(perk, partner, member_id, now)
        until = now + perk.valid_for_s * 1_000_000 if answer is not None and perk else None
        row = CheckRow(partner, perk_id, now, "refused" if answer is None
                       else "yes" if answer else "no", until)
        with self.store.write() as tx:
            no = tx.member_no(member_id)
            if no is not None:
                tx.add_partner_check(no, row)
        if answer is None or until is None:
            raise Forbidden(NOT_ALLOWED)
        tz = rb.calendar.tz
        return PerkCheck(member_id, perk_id, answer, from_us(now, tz).isoformat(),
                         from_us(until, tz).isoformat())

    def _perk_answer(self, perk: Perk | None, partner: str, member_id: str, now: int
                     ) -> bool | None:
        """Yes or no; None for every refusal (all alike to the partner)."""
        if perk is None or partner not in perk.partners:
            return None
        with self.store.read() as tx:
            granted = tx.granted_partners(member_id)
        if granted is not None and partner not in granted:  # None: not known, fold below
            return None
        try:
            view = self.member_state(member_id, now, history=False)
        except NotFound:
            return None
        if view.status != "active" or not any(c.partner == partner and c.granted
                                              for c in view.consents):
            return None
        return next(p.eligible for p in view.perks if p.id == perk.id)

    def partner_checks(self, member_id: str, limit: int = 100,
                       before_us: int | None = None) -> list[CheckView]:
        """Every partner check made about the member, newest first: who asked, for which
        perk, when, and the answer (``refused`` when the member had not consented)."""
        tz = self.rulebook().calendar.tz
        with self.store.read() as tx:
            no = tx.member_no(member_id)
            if no is None:
                raise NotFound(f"member `{member_id}` not found")
            rows = tx.partner_checks(no, limit, before_us)
        return [CheckView(r.partner, r.perk, from_us(r.at_us, tz).isoformat(), r.answer,
                          from_us(r.valid_until_us, tz).isoformat()
                          if r.valid_until_us is not None else None) for r in rows]

    # -- rewards and redemption ---------------------------------------------------------

    def catalogue(self, member_id: str | None = None, as_of_us: int | None = None
                  ) -> list[CatalogueEntry]:
        """The rewards, with the stock left; for a member, whether they can redeem each at
        ``as_of_us`` (default now) and, when not, the first reason why."""
        rb = self.rulebook()
        with self.store.read() as tx:
            used = tx.redeemed([r.id for r in rb.rewards])
        if member_id is None:
            entries = [catalogue_entry(r) for r in rb.rewards]
        else:
            as_of = as_of_us if as_of_us is not None else self.clock.now_us()
            acc = self._member_fold(member_id, as_of, rb)
            assert acc.rewards is not None
            entries = acc.rewards.catalogue(acc, as_of)
        out = []
        for entry in entries:
            stock = rb.reward_index[entry.id].stock
            left = None if stock is None else max(stock - used.get(entry.id, 0), 0)
            if left == 0 and entry.redeemable:
                entry = dataclasses.replace(entry, redeemable=False, reason="out of stock")
            out.append(dataclasses.replace(entry, stock_left=left))
        return out

    def ledger(self, member_id: str, as_of_us: int | None = None) -> list[LedgerEntry]:
        """The member's points statement up to ``as_of_us`` (default now): what was
        earned, clawed back (by which refund), spent, redeemed, returned and expired, and
        when, with the balance after each entry."""
        as_of = as_of_us if as_of_us is not None else self.clock.now_us()
        rb = self.rulebook()
        acc = self._member_fold(member_id, as_of, rb, history=True)
        return acc.points.entries(rb, as_of)

    def explain(self, member_id: str, as_of_us: int | None = None) -> Explanation | None:
        """Why the member has their score at ``as_of_us`` (default now): each factor's
        input, curve position and points, the reasons, the ledger behind the balance and
        the improve plan to the next band (None when the rulebook has no score)."""
        as_of = as_of_us if as_of_us is not None else self.clock.now_us()
        rb = self.rulebook()
        return explain(self._member_fold(member_id, as_of, rb, history=True), as_of)

    def _member_fold(self, member_id: str, as_of_us: int, rb: Rulebook, *,
                     history: bool = False) -> MemberFold:
        with self.store.read() as tx:
            no = tx.member_no(member_id)
            if no is None:
                raise NotFound(f"member `{member_id}` not found")
            if not history and (resumed := self._resume(
                    tx, rb, no, member_id, tx.states([no]).get(no), as_of_us)) is not None:
                return fold_events(rb, member_id, resumed[1], as_of_us, start=resumed[0])
            stored = tx.member_events(no, until_us=as_of_us)
        return fold_events(rb, member_id, (to_event(rb, s) for s in stored), as_of_us,
                           history=history)

    def _resume(self, tx: Transaction, rb: Rulebook, no: int, member_id: str,
                state: StateRow | None, as_of_us: int) -> tuple[MemberFold, list[Event]] | None:
        """The member's trusted fold snapshot and the events after it up to ``as_of_us``
        (None: fold every event); see :mod:`plaudit.application.snapshots`."""
        if not self.cache.snapshot_every or state is None:
            return None
        snap = tx.snapshots([no]).get(no)
        return snapshots.resume_in(tx, rb, no, member_id, state, snap, until_us=as_of_us,
                                   to_event=lambda s: to_event(rb, s))

    def redeem(self, member_id: str, reward_id: str, key: str) -> RedemptionView:
        """See :meth:`redeem_once`; only the redemption."""
        return self.redeem_once(member_id, reward_id, key)[0]

    def redeem_once(self, member_id: str, reward_id: str, key: str
                    ) -> tuple[RedemptionView, bool]:
        """Redeem a reward for the member, once per idempotency ``key``.

        Recorded as a ``plaudit.redeem`` event whose id is derived from the member and the
        key, so asking again with the same key (a retry, a double click, two requests at
        once) returns the first redemption and spends nothing more; the same key for
        another reward is a :class:`Conflict`. Returns the redemption and whether this
        call made it. The reward's requirement, limit, dates and
        the balance are checked against the member's state at the redemption's time, in
        the write transaction that records it; the shared stock by the database.
        """
        rb = self.rulebook()
        event_id = _command_id("redeem", member_id, key)
        found = self._redemption(member_id, event_id, reward_id, key)
        if found is not None:
            return found, False
        reward = rb.reward_index.get(reward_id)
        if reward is None:
            hint = closest(reward_id, list(rb.reward_index))
            raise NotFound(f"no reward `{reward_id}` in the catalogue"
                           + (f" (did you mean `{hint}`?)" if hint else ""))
        item = {"id": event_id, "member": member_id, "type": REDEEM,
                "at": from_us(self._command_time(member_id)).isoformat(),
                "attributes": {"reward": reward_id, "points": reward.cost, "key": key}}
        try:
            self.ingest_items([item])
        except EventConflict:  # the same key at the same moment: the other one won
            found = self._redemption(member_id, event_id, reward_id, key)
            if found is None:
                raise
            return found, False
        found = self._redemption(member_id, event_id, reward_id, key)
        assert found is not None
        return found, True

    def cancel_redemption(self, member_id: str, redemption_id: str) -> RedemptionView:
        """Cancel a redemption: its points return to the lots they came from (those that
        expired meanwhile stay expired) and its stock to the catalogue. Cancelling again
        answers the same, changing nothing."""
        state = self.member_state(member_id, history=False)
        r = next((r for r in state.redemptions if r.id == redemption_id), None)
        if r is None:
            raise NotFound(f"no redemption `{redemption_id}` of member `{member_id}`")
        if r.status == "cancelled":
            return r
        at = self._command_time(member_id)
        item = {"id": _command_id("cancel", member_id, redemption_id), "member": member_id,
                "type": REDEEM_CANCEL, "at": from_us(at).isoformat(),
                "attributes": {"redemption": redemption_id}}
        with contextlib.suppress(EventConflict):  # cancelled at once by another request
            self.ingest_items([item])
        state = self.member_state(member_id, max(at, self.clock.now_us()), history=False)
        return next(r for r in state.redemptions if r.id == redemption_id)

    def _command_time(self, member_id: str) -> int:
        """Now, or just after the member's last event when that is now or a moment
        later: events at one instant are ordered by id, and a command's id is a hash, so
        without this a command could sort before the one the member made just before it."""
        now = self.clock.now_us()
        with self.store.read() as tx:
            no = tx.member_no(member_id)
            state = tx.states([no]).get(no) if no is not None else None
        if state is not None and now <= state.last_at_us < now + 1_000_000:
            return state.last_at_us + 1
        return now

    def _redemption(self, member_id: str, event_id: str, reward_id: str,
                    key: str) -> RedemptionView | None:
        """The redemption recorded under this id, if any (a Conflict if its key was used
        for another reward)."""
        with self.store.read() as tx:
            stored = tx.stored_events([event_id]).get(event_id)
        if stored is None:
            return None
        if stored.member_id != member_id:  # a hash collision: never in practice
            raise Conflict("redemption id collision; use another idempotency key")
        state = self.member_state(member_id, max(stored.at_us, self.clock.now_us()),
                                  history=False)
        found = next(r for r in state.redemptions if r.id == event_id)
        if found.reward != reward_id:
            raise Conflict(f"idempotency key `{key}` was already used to redeem "
                           f"`{found.reward}`, not `{reward_id}`")
        return found

    # -- badges and quests --------------------------------------------------------------

    def member_badges(self, member_id: str, as_of_us: int | None = None
                      ) -> tuple[BadgeView, ...]:
        """The badges the member holds at ``as_of_us`` (default: now), each level with the
        event that earned it; levelled ones with the way to their next level."""
        return self.member_state(member_id, as_of_us, history=False).badges

    def member_quests(self, member_id: str, as_of_us: int | None = None
                      ) -> tuple[QuestView, ...]:
        """Every quest of the rulebook with the member's progress and status at
        ``as_of_us`` (default: now)."""
        return self.member_state(member_id, as_of_us, history=False).quests

    # -- streaks ------------------------------------------------------------------------

    def member_streaks(self, member_id: str,
                       as_of_us: int | None = None) -> tuple[StreakView, ...]:
        """The member's streaks at ``as_of_us`` (default: now). A read of the state like
        any other, so a streak is at risk or broken by the as-of time alone, and reading
        never uses a freeze: freezes are used as periods pass, whoever looks."""
        return self.member_state(member_id, as_of_us, history=False).streaks

    # -- leaderboards -------------------------------------------------------------------

    def leaderboards(self, as_of_us: int | None = None) -> list[lb.BoardInfo]:
        """The rulebook's boards, each with its current period at ``as_of_us`` (now)."""
        rb = self.rulebook()
        day = rb.calendar.day(as_of_us if as_of_us is not None else self.clock.now_us())
        return [lb.BoardInfo(b.id, b.label, b.period, period_key(day, b.period),
                             lb.metric_text(b)) for b in rb.leaderboards]

    def _board_period(self, board_id: str, period: str | None, as_of_us: int | None
                      ) -> tuple[Rulebook, Leaderboard, str]:
        rb = self.rulebook()
        board = lb.find_board(rb.leaderboards, board_id)
        if period is None:
            day = rb.calendar.day(as_of_us if as_of_us is not None else self.clock.now_us())
            return rb, board, period_key(day, board.period)
        return rb, board, lb.check_period(board, period)

    def leaderboard(self, board_id: str, period: str | None = None, limit: int = 10, *,
                    viewer: str | None = None, as_of_us: int | None = None) -> lb.BoardPage:
        """The top ``limit`` opted-in members of a board in a period (default: the one at
        ``as_of_us``, now), by pseudonym; ``viewer``'s own row, if listed, says so."""
        if not 1 <= limit <= lb.MAX_LIMIT:
            raise ValueError(f"limit must be 1 to {lb.MAX_LIMIT}")
        _, board, key = self._board_period(board_id, period, as_of_us)
        with self.store.read() as tx:  # one index range of `limit` rows, whatever the size
            rows = tx.top_entries(board.id, key, limit)
            me = tx.member_no(viewer) if viewer is not None else None
        return lb.BoardPage(board.id, board.label, key, lb.standings(board, rows, 1, me))

    def member_leaderboards(self, member_id: str, as_of_us: int | None = None
                            ) -> lb.MemberBoards:
        """The member's side of every board: value, joined or not, rank if listed; their
        pseudonym and the friends they named."""
        as_of = as_of_us if as_of_us is not None else self.clock.now_us()
        view = self.member_state(member_id, as_of, history=False)
        friends: tuple[str, ...] = ()
        boards: list[lb.MemberBoard] = []
        with self.store.read() as tx:
            no = tx.member_no(member_id)
            assert no is not None  # member_state found it
            for v in view.leaderboards:
                entry = tx.entry(v.id, v.period, no) if v.joined else None
                rank = tx.rank(entry) if entry is not None else None
                boards.append(lb.MemberBoard(v.id, v.label, v.period, v.value, v.joined,
                                             rank))
            friends = tx.friends_of(no)
        name = view.leaderboards[0].pseudonym if view.leaderboards else None
        return lb.MemberBoards(member_id, name, tuple(boards), friends)

    def leaderboard_friends(self, member_id: str, board_id: str, period: str | None = None,
                            as_of_us: int | None = None) -> lb.BoardPage:
        """The member (if listed) and their mutual friends who are listed, ranked among
        themselves: a friend appears only while both latest words are grants."""
        _, board, key = self._board_period(board_id, period, as_of_us)
        with self.store.read() as tx:
            no = tx.member_no(member_id)
            if no is None:
                raise NotFound(f"member `{member_id}` not found")
            rows = tx.friend_entries(board.id, key, no, member_id)
            own = tx.entry(board.id, key, no)
        if own is not None:
            rows.append(own)
            rows.sort(key=lambda r: (r.sort_key, r.reached_at_us, r.tag, r.member_no))
        return lb.BoardPage(board.id, board.label, key, lb.standings(board, rows, 1, no))

    def _record(self, member_id: str, type_: str, prefix: str,
                attributes: dict[str, Any], *, create: bool = False,
                then: Callable[[Transaction], Any] | None = None) -> str:
        """Record a member's preference (a consent, a leaderboard choice) as an event of
        theirs at now; the local time it was recorded at. ``create``: a member not seen yet
        is created, as any event of theirs would create them; otherwise NotFound. ``then``
        runs last in the event's transaction (see :meth:`ingest_items`)."""
        now = self.clock.now_us()
        with self.store.read() as tx:
            no = tx.member_no(member_id)
            if no is None and not create:
                raise NotFound(f"member `{member_id}` not found")
            state = tx.states([no]).get(no) if no is not None else None
        # Events at the same instant are ordered by id: the time and the member's event
        # count lead the id (the kind follows), so a later word sorts after an earlier one
        # even within one microsecond, whatever their kinds (an opt-in, then a consent).
        seq = state.position if state is not None else 0
        word_id = f"word-{now:017d}-{seq:09d}-{prefix}-{secrets.token_hex(4)}"
        self.ingest_items([{"id": word_id,
                            "member": member_id, "type": type_,
                            "at": from_us(now).isoformat(), "attributes": attributes}],
                          then=then)
        return from_us(now, self.rulebook().calendar.tz).isoformat()

    def join_leaderboard(self, member_id: str, board_id: str, joined: bool = True
                         ) -> lb.MemberBoard:
        """Join (listed from now on, under the member's pseudonym) or leave (gone from
        every period of the board at once: the entries are deleted in the same write)."""
        lb.find_board(self.rulebook().leaderboards, board_id)
        self._record(member_id, LEADERBOARD, "leaderboard",
                     {"board": board_id, "joined": joined})
        return next(b for b in self.member_leaderboards(member_id).boards if b.id == board_id)

    def choose_pseudonym(self, member_id: str, seed: int | None = None
                         ) -> lb.PseudonymChange:
        """Re-roll the member's pseudonym: the name for ``seed``, or for a random seed when
        none is given (so nobody can work it out from the member id)."""
        if seed is None:
            seed = secrets.randbelow(MAX_SEED + 1)
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed must be 0 to {MAX_SEED}")
        at = self._record(member_id, PSEUDONYM, "pseudonym", {"seed": seed})
        name = pseudonym(self.rulebook().program.id, member_id, seed)
        return lb.PseudonymChange(member_id, name.name, seed, at)

    def record_friend(self, member_id: str, friend_id: str, granted: bool
                      ) -> lb.FriendChange:
        """Name (or stop naming) another member as a friend. The answer is the same whether
        that member exists, has named this one back, or not: it says nothing about them."""
        if friend_id == member_id:
            raise EventRejected([Problem("path", "friend_id",
                                         "a member cannot name themself as a friend")])
        at = self._record(member_id, FRIEND, "friend",
                          {"friend": friend_id, "granted": granted})
        return lb.FriendChange(member_id, friend_id, granted, at)

    # -- member data rights: export, opt-out, erasure (export.py, erasure.py) -----------

    def export_member(self, member_id: str, *, actor: str) -> dict[str, Any]:
        """Everything stored about the member as one JSON-ready document (export.py).

        The export is recorded in the audit log once the document is complete, and the
        document is returned only if that entry was written."""
        document = export.export_member(self, member_id)
        with self.store.write() as tx:
            no = tx.member_no(member_id)
            if no is None:  # erased while the document was being assembled
                raise NotFound(f"member `{member_id}` not found")
            audit.record(tx, self.clock, actor, "member.export",
                         audit.member_subject(tx, no))
        return document

    def opt_out(self, member_id: str, *, actor: str) -> Participation:
        """Leave the program: nothing of the member is scored or accepted from now on but
        opting in and withdrawals; every consent, board and friend grant is withdrawn
        (their entries deleted in the same write). See domain/mechanics/participation.py.
        A member not seen yet is created, as for a consent, so the answer is the same (and
        events sent for them later are refused). A member already out: nothing is
        recorded, the answer is the same as the first time."""
        return self._participate(member_id, actor, out=True)

    def opt_in(self, member_id: str, *, actor: str) -> Participation:
        """Take part again from now on; consents, boards and friends stay withdrawn until
        the member grants or joins again. A member taking part already (or not seen yet):
        nothing is recorded, the answer is the same."""
        return self._participate(member_id, actor, out=False)

    def _participate(self, member_id: str, actor: str, *, out: bool) -> Participation:
        """Record the member's word only when it changes their status, then answer the
        status their state shows (after a concurrent opt-out, the first one's time). The
        audit entry goes with the recorded word: a request that changes nothing records
        neither."""
        def status() -> Participation:
            try:
                state = self.member_state(member_id, history=False)
            except NotFound:
                return Participation(member_id, "active", None)
            return Participation(member_id, state.status, state.opted_out_at)

        before = status()
        if (before.status == "opted_out") == out:
            return before
        self._record(member_id, OPT_OUT, "opt-out" if out else "opt-in",
                     {"opted_out": out}, create=True,
                     then=self._audit_member(member_id, actor,
                                             "member.opt_out" if out else "member.opt_in"))
        return status()

    def erase_member(self, member_id: str, *, actor: str) -> erasure.Erasure:
        """Delete the member's events and derived state for good (erasure.py)."""
        return erasure.erase_member(self, member_id, actor=actor)

    def request_erasure(self, member_id: str, *, actor: str) -> ErasureRequest:
        """The member asks to be erased: opted out at once, erased by an operator
        (application/erasure_requests.py)."""
        return erasure_requests.request_erasure(self, member_id, actor=actor)

    def erasure_request(self, member_id: str) -> ErasureRequest | None:
        """The member's latest erasure request and its outcome."""
        return erasure_requests.request_of(self, member_id)

    def erasure_requests(self) -> list[ErasureRequest]:
        """Pending erasure requests, oldest first (the operator's queue)."""
        return erasure_requests.pending(self)

    def decline_erasure(self, member_id: str, reason: str, *, actor: str) -> ErasureRequest:
        return erasure_requests.decline(self, member_id, reason, actor=actor)

    def _audit_member(self, member_id: str, actor: str, action: str
                      ) -> Callable[[Transaction], None]:
        """An audit entry about the member, to write in their command's transaction."""
        def write(tx: Transaction) -> None:
            no = tx.member_no(member_id)
            assert no is not None  # the command's event created them if need be
            audit.record(tx, self.clock, actor, action, audit.member_subject(tx, no))
        return write

    # -- the audit log (application/audit.py) -------------------------------------------

    def audit_page(self, limit: int = 100, before: int | None = None,
                   action: str | None = None) -> audit.AuditPage:
        """Audit entries newest first; ``before`` (a seq) pages back."""
        return audit.page(self.store, limit, before, action)

    def verify_audit(self, anchor: audit.Head | None = None) -> audit.Verdict:
        """Walk the whole chain: intact, or the first entry that is not (audit.verify)."""
        return audit.verify(self.store, anchor)

    # -- program overview ---------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        with self.store.read() as tx:
            data = tx.state_summary()
            data["events"] = tx.count_events()
            current = tx.current_rulebook()
            data["rulebook_version"] = current.version if current else None
            return data

    def overview(self, days: int = 90) -> ov.Overview:
        """The console's first page: stored counts, events per day over the last ``days``
        days, the score histogram, members per band and tier, open disputes."""
        return ov.overview(self, days)


def _command_id(kind: str, member_id: str, key: str) -> str:
    """A deterministic event id for a member's command: the same member and key give the
    same id in every process, which makes the command idempotent through the events'
    unique ids (and fits the 128-character id limit whatever the inputs' lengths)."""
    digest_ = hashlib.sha256(f"{member_id}\x00{key}".encode()).hexdigest()[:40]
    return f"{kind}-{digest_}"


__all__ = ["NOT_ALLOWED", "Participation", "PerkCheck", "Plaudit", "PublishResult",
           "ScorePoint"]
