"""NATS JetStream as a :class:`~plaudit.application.consume.Source`: a durable pull
consumer with explicit acks.

nats-py is asyncio; the consume loop and the store are synchronous. So the client lives on
an event loop of its own, on one daemon thread, and every method here hands it one
coroutine and waits for the result: one thread hop per fetch, per batch of acks, per batch
of refusals, never one per message. While a batch is being stored the loop keeps the
connection alive (pings, reconnects) on its own.

Acks are plain ``+ACK`` publishes followed by one flush (a PING/PONG round trip), so when
:meth:`NatsSource.ack` returns the server has them; the server applies them to the
consumer asynchronously, and an ack lost to a crash only means a redelivery, which the
store counts as a duplicate. A refused message is republished to the dead-letter subject
first when there is one (through JetStream, so a publish no stream stores is an error,
not a silent loss; ``Nats-Msg-Id`` lets the stream drop the copy a crash would repeat),
then terminated: never redelivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from plaudit.application.consume import BrokerError, Refusal

T = TypeVar("T")
PROBLEMS_HEADER_CHARS = 4_000
"""Longest ``Plaudit-Problems`` header on a dead letter (the problems as JSON, cut)."""


class NatsDelivery:
    """A JetStream message and the metadata its reply subject carries."""

    __slots__ = ("deliveries", "msg", "pending", "seq")

    def __init__(self, msg: Msg) -> None:
        meta = msg.metadata
        self.msg = msg
        self.seq = meta.sequence.stream
        self.deliveries = meta.num_delivered
        self.pending = meta.num_pending

    @property
    def data(self) -> bytes:
        return self.msg.data

    @property
    def subject(self) -> str:
        return self.msg.subject


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether a NATS subject filter (``*`` one token, ``>`` the rest) takes ``subject``."""
    want, got = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(got) > i
        if i >= len(got) or (token != "*" and token != got[i]):
            return False
    return len(want) == len(got)


class NatsSource:
    """A durable pull consumer on ``stream``, filtered to ``subject``.

    Use it as a context manager: entering connects, checks (or with ``create_stream``
    creates) the stream, checks that a stream keeps the dead-letter subject, and creates
    the durable consumer if it does not exist yet (explicit acks, ``ack_wait`` seconds,
    from the start of the stream). An existing durable is used as it is, but one that
    filters another subject is refused rather than silently consumed.
    """

    def __init__(self, url: str, *, stream: str, subject: str, durable: str,
                 create_stream: bool = False, ack_wait: float = 30.0,
                 max_ack_pending: int = 10_000, dead_letter: str | None = None,
                 connect_timeout: float = 5.0,
                 notice: Callable[[str], Any] | None = None) -> None:
        self.url = url
        self.stream = stream
        self.subject = subject
        self.durable = durable
        self.create_stream = create_stream
        self.ack_wait = ack_wait
        self.max_ack_pending = max_ack_pending
        self.dead_letter = dead_letter
        self.connect_timeout = connect_timeout
        self.notice = notice
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats",
                                        daemon=True)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        self._last_error: Exception | None = None
        self._closing = False

    # -- the event loop's thread ----------------------------------------------------------

    def _call(self, coro: Awaitable[T], doing: str) -> T:
        """Run ``coro`` on the client's loop; nats errors become :class:`BrokerError`."""
        async def wrapped() -> T:
            return await coro

        future = asyncio.run_coroutine_threadsafe(wrapped(), self._loop)
        try:
            return future.result()
        except nats.js.errors.APIError as e:
            raise BrokerError(f"{doing}: the server says {e.description or e}") from None
        except (nats.errors.Error, OSError) as e:  # TimeoutError is an OSError
            raise BrokerError(f"{doing} at {self.url}: {_describe(e)}") from None

    def __enter__(self) -> NatsSource:
        self._thread.start()
        try:
            self._call(self._open(), "connecting to the broker")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (whatever was fetched and not settled is delivered again
        after the ack wait) and stop the loop's thread."""
        if self._thread.is_alive():
            if self._nc is not None and not self._nc.is_closed:
                nc = self._nc
                self._closing = True
                # closing a connection already gone: nothing to keep
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(nc.close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running():
            self._loop.close()

    async def _open(self) -> None:
        async def error(e: Exception) -> None:
            self._last_error = e

        async def disconnected() -> None:
            if self.notice is not None and not self._closing:
                self.notice(f"disconnected from {self.url}; reconnecting")

        async def reconnected() -> None:
            if self.notice is not None:
                self.notice(f"reconnected to {self.url}")

        try:
            # nats-py retries a refused first connection for ever: bound it here
            self._nc = await asyncio.wait_for(
                nats.connect(self.url, name="plaudit consume", error_cb=error,
                             disconnected_cb=disconnected, reconnected_cb=reconnected,
                             connect_timeout=max(1, round(self.connect_timeout))),
                self.connect_timeout)
        except (TimeoutError, nats.errors.Error, OSError):
            reason = _describe(self._last_error) if self._last_error else "no answer"
            raise BrokerError(f"cannot reach the broker at {self.url} within "
                              f"{self.connect_timeout:g} s: {reason}") from None
        js = self._nc.jetstream()
        self._js = js
        try:
            await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            if not self.create_stream:
                raise BrokerError(f"no stream `{self.stream}` at {self.url}: create it, or "
                                  "pass --create-stream") from None
            await js.add_stream(name=self.stream, subjects=[self.subject])
        if self.dead_letter is not None:
            await self._check_dead_letter(js)
        try:
            info = await js.consumer_info(self.stream, self.durable)
        except nats.js.errors.NotFoundError:
            await js.add_consumer(self.stream, ConsumerConfig(
                durable_name=self.durable, name=self.durable, filter_subject=self.subject,
                ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                ack_wait=self.ack_wait, max_ack_pending=self.max_ack_pending))
        else:
            kept = info.config.filter_subject
            if kept and kept != self.subject:
                raise BrokerError(f"the durable consumer `{self.durable}` of stream "
                                  f"`{self.stream}` takes `{kept}`, not `{self.subject}`: "
                                  "name another --durable")
        self._sub = await js.pull_subscribe_bind(durable=self.durable, stream=self.stream)

    async def _check_dead_letter(self, js: JetStreamContext) -> None:
        dead = self.dead_letter
        assert dead is not None
        if any(c in dead for c in "*> ") or not dead:
            raise BrokerError(f"the dead-letter subject `{dead}` must be a plain subject")
        if subject_matches(self.subject, dead):
            raise BrokerError(f"the dead-letter subject `{dead}` is one this consumer "
                              f"takes (`{self.subject}`): refusals would come back")
        try:
            await js.find_stream_name_by_subject(dead)
        except nats.js.errors.NotFoundError:
            raise BrokerError(f"no stream keeps the dead-letter subject `{dead}`: add one "
                              "(dead letters sent nowhere would be lost)") from None

    # -- Source ---------------------------------------------------------------------------

    def fetch(self, batch: int, wait: float) -> list[NatsDelivery]:
        sub = self._sub
        assert sub is not None, "use NatsSource as a context manager"

        async def fetch() -> list[Msg]:
            try:
                return await sub.fetch(batch, timeout=wait)
            except TimeoutError:  # nats-py raises its own and asyncio's: both mean none
                return []

        return [NatsDelivery(m) for m in self._call(fetch(), "fetching messages")]

    def ack(self, deliveries: Sequence[NatsDelivery]) -> None:
        if deliveries:
            self._settle([d.msg.ack() for d in deliveries], "acknowledging messages")

    def nak(self, deliveries: Sequence[NatsDelivery], delay: float) -> None:
        if deliveries:
            self._settle([d.msg.nak(delay) for d in deliveries], "returning messages")

    def refuse(self, refusals: Sequence[Refusal]) -> None:
        if not refusals:
            return
        js = self._js
        dead = self.dead_letter
        assert js is not None
        if dead is not None:
            async def publish() -> None:
                await asyncio.gather(*(js.publish(dead, r.delivery.data,
                                                  headers=self._dead_headers(r))
                                       for r in refusals))
            self._call(publish(), f"publishing dead letters to `{dead}`")
        self._settle([_msg(r).term() for r in refusals], "terminating refused messages")

    def _dead_headers(self, r: Refusal) -> dict[str, str]:
        d = r.delivery
        problems = json.dumps([p.as_dict() for p in r.problems])  # ASCII: a header value
        if len(problems) > PROBLEMS_HEADER_CHARS:
            problems = problems[:PROBLEMS_HEADER_CHARS]
        return {"Nats-Msg-Id": f"plaudit-dead:{self.stream}:{d.seq}",
                "Plaudit-Stream": self.stream, "Plaudit-Sequence": str(d.seq),
                "Plaudit-Subject": d.subject, "Plaudit-Problems": problems}

    def _settle(self, sends: list[Awaitable[None]], doing: str) -> None:
        nc = self._nc
        assert nc is not None

        async def settle() -> None:
            for send in sends:
                await send  # a buffered publish: no round trip each
            await nc.flush()

        self._call(settle(), doing)

    # -- what tests and progress read ---------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        """(messages not yet delivered, messages delivered and not yet acked), as the
        server counts them for the durable consumer."""
        js = self._js
        assert js is not None

        async def info() -> tuple[int, int]:
            ci = await js.consumer_info(self.stream, self.durable)
            return ci.num_pending or 0, ci.num_ack_pending or 0

        return self._call(info(), "reading the consumer")


def _msg(r: Refusal) -> Msg:
    d = r.delivery
    assert isinstance(d, NatsDelivery)
    return d.msg


def _describe(e: BaseException) -> str:
    text = str(e).removeprefix("nats: ")
    return text or type(e).__name__


__all__ = ["NatsDelivery", "NatsSource", "subject_matches"]
