"""Streamed ingest: events from a message broker, stored in batches, acknowledged after
the commit.

The loop knows nothing of any broker: it works over a :class:`Source` of
:class:`Delivery` values (the NATS JetStream adapter is ``adapters/nats.py``). Each message
holds one event object, exactly the JSON a line of a JSONL file holds, so a message's fate
is its event's: **acked** once the batch holding it has committed (stored, or already
stored with the same body: a redelivery), **refused** (terminated, never redelivered, and
reported naming the message, the field and the reason) when the event can never be
stored, or **left for redelivery** (nak) when the database failed.

Why per message and not per fetched batch: a batch is only a unit of commit, for
throughput. A bad message must neither block the stream (redelivered for ever) nor take
its valid neighbours down, so every message is first screened alone (size, JSON, one
object, no repeated key, the API's field limits); the rest is stored with one
:meth:`Plaudit.ingest_items` call; if the store refuses items (invalid for the rulebook,
an id reused with another body, an uncovered spend …) those messages are refused and the
others stored again without them. Redelivery needs no bookkeeping here: event ids are the
store's idempotency keys, so a message delivered twice is stored once.

At-least-once, exactly-once in effect: nothing is acked before its transaction commits, so
a consumer killed at any instant loses nothing; what it had committed but not acked comes
back after the broker's ack wait and is counted as duplicates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import orjson

from plaudit.application.ingest import BatchResult
from plaudit.application.service import Plaudit
from plaudit.application.wire import REPEATED_KEY, json_path, repeated_keys, surely_unrepeated
from plaudit.domain.errors import EventRejected, PlauditError, Problem

MAX_MESSAGE_BYTES = 65_536
"""Default largest message body. One event at every API limit (64 attributes with
64-character names and 256-character values) is ~22 KB; anything much larger is not an
event, and is refused before it is parsed."""

NAK_DELAY = 5.0
"""Seconds the broker waits before redelivering a batch the database failed to store."""

ISOLATE_AFTER = 2
"""Store refusals of a batch retried without the refused messages before the rest is
stored one message at a time (each refusal costs one more attempt at the whole batch)."""


class BrokerError(PlauditError):
    """The broker cannot be reached, or refuses what the consumer asks (no such stream,
    a dead-letter subject no stream keeps, …)."""

    code = "broker-error"


class Delivery(Protocol):
    """One message as the loop sees it."""

    @property
    def data(self) -> bytes: ...

    @property
    def seq(self) -> int:
        """The message's sequence in its stream: what reports name it by."""
        ...

    @property
    def subject(self) -> str: ...

    @property
    def deliveries(self) -> int:
        """How many times the broker has delivered it (1 the first time)."""
        ...

    @property
    def pending(self) -> int:
        """Messages left in the stream for this consumer after this one."""
        ...


D = TypeVar("D", bound=Delivery)


@dataclass(frozen=True)
class Refusal:
    """A message that can never be stored, and every reason why."""

    delivery: Delivery
    problems: list[Problem]

    def __str__(self) -> str:
        return "; ".join(str(p) for p in self.problems)


class Source(Protocol[D]):
    """A durable queue of messages that must each be settled: acked, refused or naked.

    A message neither acked nor refused is delivered again after the broker's ack wait
    (the consumer died, or its database failed)."""

    def fetch(self, batch: int, wait: float) -> list[D]:
        """Up to ``batch`` messages, as soon as any are there; ``[]`` after ``wait``
        seconds without one."""
        ...

    def ack(self, deliveries: Sequence[D]) -> None:
        """Done with: never delivered again. Returns once the broker has the acks."""
        ...

    def refuse(self, refusals: Sequence[Refusal]) -> None:
        """Never deliverable: terminated (and kept aside if the source keeps dead
        letters)."""
        ...

    def nak(self, deliveries: Sequence[D], delay: float) -> None:
        """Deliver again, after ``delay`` seconds."""
        ...


@dataclass
class ConsumeReport:
    """What a run did; :attr:`refusals` keeps the last few for the final message."""

    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    redelivered: int = 0
    """Messages delivered more than once (after a crash, a nak or an ack wait)."""
    batches: int = 0
    pending: int = 0
    """Messages left in the stream after the last batch, as the broker last said."""
    seconds: float = 0.0
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused

    def as_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "stored": self.stored,
                "duplicates": self.duplicates, "refused": self.refused,
                "redelivered": self.redelivered, "batches": self.batches,
                "pending": self.pending, "seconds": round(self.seconds, 3)}


Screen = Callable[[list[Any]], None]
"""Checks parsed items before validation and raises :class:`EventRejected` naming
``item N`` (the HTTP API's ``limits.check_items``: field names, string lengths, attribute
counts)."""

KEPT_REFUSALS = 20


class Consumer:
    """Fetch, screen, store, settle, until stopped.

    ``after_commit`` runs between a batch's commit and its acks (a test pauses there to be
    killed, proving that a committed, unacked batch comes back and is stored once).
    ``on_refused`` hears every refusal as it happens, ``on_batch`` the report after each
    batch (progress).
    """

    def __init__(self, service: Plaudit, source: Source[Any], *, batch: int = 500,
                 wait: float = 5.0, max_bytes: int = MAX_MESSAGE_BYTES,
                 screen: Screen | None = None,
                 on_refused: Callable[[Refusal], Any] | None = None,
                 on_batch: Callable[[ConsumeReport], Any] | None = None,
                 after_commit: Callable[[Sequence[Delivery]], Any] | None = None,
                 nak_delay: float = NAK_DELAY) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.service = service
        self.source = source
        self.batch = batch
        self.wait = wait
        self.max_bytes = max_bytes
        self.screen = screen
        self.on_refused = on_refused
        self.on_batch = on_batch
        self.after_commit = after_commit
        self.nak_delay = nak_delay
        self.stop = threading.Event()
        """Set it (from a signal handler, say) to stop after the batch in hand."""
        self.report = ConsumeReport()

    def run(self, *, max_messages: int | None = None,
            idle_exit: float | None = None) -> ConsumeReport:
        """Consume until :attr:`stop` is set, ``max_messages`` were handled, or (with
        ``idle_exit``) no message came for that many seconds. A batch in hand is always
        finished and settled first."""
        start = time.monotonic()
        idle_since = start
        try:
            while not self.stop.is_set():
                want = self.batch
                if max_messages is not None:
                    want = min(want, max_messages - self.report.messages)
                    if want <= 0:
                        break
                wait = self.wait if idle_exit is None else min(
                    self.wait, max(0.0, idle_exit - (time.monotonic() - idle_since)))
                deliveries = self.source.fetch(want, max(wait, 0.05))
                if deliveries:
                    self.handle(deliveries)
                    idle_since = time.monotonic()
                elif idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                    break
        finally:
            self.report.seconds = time.monotonic() - start
        return self.report

    def handle(self, deliveries: Sequence[Delivery]) -> None:
        """One fetched batch: screen each message, store the good ones in one
        transaction, then ack them and refuse the bad."""
        report = self.report
        report.batches += 1
        report.messages += len(deliveries)
        report.redelivered += sum(1 for d in deliveries if d.deliveries > 1)
        report.pending = deliveries[-1].pending
        refusals: list[Refusal] = []
        good: list[tuple[Delivery, Any]] = []
        for d in deliveries:
            item, problems = self._parse(d)
            if problems:
                refusals.append(Refusal(d, problems))
            else:
                good.append((d, item))
        try:
            stored, transient = self._store(good, refusals)
        except Exception:
            # The database failed (StoreError), or something unforeseen: what this batch
            # committed is not known to be complete, so nothing is acked; the broker
            # delivers the good messages again later, and the bad ones are bad whatever
            # the database.
            self.source.nak([d for d, _ in good], self.nak_delay)
            self._refuse(refusals)
            raise
        if self.after_commit is not None and stored:
            self.after_commit(stored)
        self.source.ack(stored)
        if transient:
            self.source.nak(transient, self.nak_delay)
        self._refuse(refusals)
        if self.on_batch is not None:
            self.on_batch(report)

    def _parse(self, d: Delivery) -> tuple[Any, list[Problem]]:
        """The message's event as parsed JSON, or why it can never be one."""
        where = f"message {d.seq}"
        data = d.data
        if len(data) > self.max_bytes:
            return None, [Problem(where, "", f"larger than {self.max_bytes} bytes "
                                             f"({len(data)} bytes): one event is far smaller")]
        try:
            item = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            return None, [Problem(where, "", f"not valid JSON: {e}")]
        if not isinstance(item, dict):
            kind = "an array" if isinstance(item, list) else f"a JSON {type(item).__name__}"
            return None, [Problem(where, "", f"a message holds one event object, not {kind}")]
        if not surely_unrepeated(data, item) and (paths := repeated_keys(data, item)):
            return None, [Problem(where, json_path(p), REPEATED_KEY) for p in paths]
        if self.screen is not None:
            try:
                self.screen([item])
            except EventRejected as e:
                return None, [_relabel(p, where) for p in e.problems]
        return item, []

    def _store(self, good: list[tuple[Delivery, Any]], refusals: list[Refusal]
               ) -> tuple[list[Delivery], list[Delivery]]:
        """Store the screened messages; return those to ack (committed) and those to
        redeliver (a refusal that named no message: a concurrent write, worth another
        try). Refused ones are appended to ``refusals``."""
        pending = good
        for _ in range(ISOLATE_AFTER + 1):
            if not pending:
                return [], []
            try:
                self._count(self.service.ingest_items([item for _, item in pending]))
                return [d for d, _ in pending], []
            except EventRejected as e:
                named = _by_item(e.problems, len(pending))
                if not named:
                    break
                refusals.extend(Refusal(pending[i][0], [_relabel(p, f"message "
                                                                    f"{pending[i][0].seq}")
                                                        for p in ps])
                                for i, ps in sorted(named.items()))
                pending = [x for i, x in enumerate(pending) if i not in named]
        # Refused again and again, or for no item in particular: one message at a time
        # isolates each refusal (a message alone is its own batch).
        acked: list[Delivery] = []
        transient: list[Delivery] = []
        for d, item in pending:
            try:
                self._count(self.service.ingest_items([item]))
                acked.append(d)
            except EventRejected as e:
                if _by_item(e.problems, 1):
                    refusals.append(Refusal(d, [_relabel(p, f"message {d.seq}")
                                                for p in e.problems]))
                else:
                    transient.append(d)
        return acked, transient

    def _count(self, result: BatchResult) -> None:
        self.report.stored += result.stored
        self.report.duplicates += result.duplicates

    def _refuse(self, refusals: list[Refusal]) -> None:
        if not refusals:
            return
        self.source.refuse(refusals)
        self.report.refused += len(refusals)
        kept = self.report.refusals
        kept.extend(refusals)
        del kept[:-KEPT_REFUSALS]
        if self.on_refused is not None:
            for r in refusals:
                self.on_refused(r)


def _by_item(problems: Sequence[Problem], count: int) -> dict[int, list[Problem]]:
    """Problems by the batch position they name (``item N``); others are left out."""
    named: dict[int, list[Problem]] = {}
    for p in problems:
        label, _, number = p.where.partition(" ")
        if label == "item" and number.isdigit() and int(number) < count:
            named.setdefault(int(number), []).append(p)
    return named


def _relabel(p: Problem, where: str) -> Problem:
    return Problem(where, p.field, p.reason, p.suggestion)


__all__ = ["MAX_MESSAGE_BYTES", "BrokerError", "ConsumeReport", "Consumer", "Delivery",
           "Refusal", "Source"]
