"""Streamed ingest against the real NATS JetStream server on this machine (127.0.0.1:4222),
on SQLite and PostgreSQL: in-process consumers, and ``plaudit consume`` as a real process
killed with SIGKILL between its commit and its acks, or in the middle of a backlog.

Each test gets its own stream and subject, deleted afterwards. Without a reachable server
the tests are skipped with the reason, unless ``PLAUDIT_REQUIRE_NATS=1`` (CI), which makes
that a failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
import orjson
import pytest

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.nats import NatsSource, subject_matches
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.consume import BrokerError, Consumer, ConsumeReport
from plaudit.application.service import Plaudit
from plaudit.domain.errors import StoreError
from plaudit.domain.state import to_dict
from plaudit.entrypoints.http.limits import MAX_STRING, check_items
from plaudit.synthetic import generate

from ..conftest import EXAMPLES, HANG, NOW, unavailable, within

HOST, PORT = "127.0.0.1", 4222
URL = f"nats://{HOST}:{PORT}"
ROOT = Path(__file__).resolve().parents[2]


def _reachable() -> str | None:
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            return None
    except OSError as e:
        return f"NATS is not reachable at {URL}: {e}"


@pytest.fixture(scope="session")
def nats_url() -> str:
    problem = _reachable()
    if problem:
        unavailable(problem, "PLAUDIT_REQUIRE_NATS")
    return URL


class Broker:
    """The test's side of the server: its own stream and subject, plain nats-py calls."""

    def __init__(self, url: str) -> None:
        tag = uuid.uuid4().hex[:10]
        self.url = url
        self.stream = f"T_{tag}"
        self.subject = f"test.{tag}.events"
        self.dead_stream = f"T_{tag}_DEAD"
        self.dead_subject = f"test.{tag}.dead"
        self.streams = [self.stream]

    def _run(self, work: Callable[[Any], Any]) -> Any:
        async def go() -> Any:
            nc = await nats.connect(self.url)
            try:
                return await work(nc.jetstream())
            finally:
                await nc.close()
        # on a thread of its own: an earlier test's library (Playwright's sync API) may
        # leave an event loop running in this one
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result()

    def create(self) -> None:
        async def work(js: Any) -> None:
            await js.add_stream(name=self.stream, subjects=[self.subject])
        self._run(work)

    def create_dead(self) -> None:
        async def work(js: Any) -> None:
            await js.add_stream(name=self.dead_stream, subjects=[self.dead_subject])
        self._run(work)
        self.streams.append(self.dead_stream)

    def publish(self, payloads: list[bytes]) -> list[int]:
        async def work(js: Any) -> list[int]:
            acks = [await js.publish(self.subject, p) for p in payloads]
            return [a.seq for a in acks]
        seqs: list[int] = self._run(work)
        return seqs

    def events(self, events: list[dict[str, Any]]) -> list[int]:
        return self.publish([orjson.dumps(e) for e in events])

    def counts(self, durable: str = "plaudit") -> tuple[int, int]:
        """(not yet delivered, delivered and not acked) for the durable consumer."""
        async def work(js: Any) -> tuple[int, int]:
            ci = await js.consumer_info(self.stream, durable)
            return ci.num_pending, ci.num_ack_pending
        result: tuple[int, int] = self._run(work)
        return result

    def settled(self, durable: str = "plaudit", timeout: float = 10.0) -> tuple[int, int]:
        """The counts once the server has applied the acks it was sent (it applies them
        asynchronously, a few milliseconds after the flush that carried them)."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.counts(durable)
            if counts == (0, 0) or time.monotonic() > deadline:
                return counts
            time.sleep(0.05)

    def dead_letters(self) -> list[tuple[bytes, dict[str, str]]]:
        async def work(js: Any) -> list[tuple[bytes, dict[str, str]]]:
            sub = await js.pull_subscribe(self.dead_subject, stream=self.dead_stream)
            try:
                msgs = await sub.fetch(100, timeout=2)
            except nats.errors.TimeoutError:
                return []
            return [(m.data, dict(m.headers or {})) for m in msgs]
        found: list[tuple[bytes, dict[str, str]]] = self._run(work)
        return found

    def delete(self) -> None:
        async def work(js: Any) -> None:
            for name in self.streams:
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await js.delete_stream(name)
        self._run(work)


@pytest.fixture
def broker(nats_url: str) -> Iterator[Broker]:
    b = Broker(nats_url)
    b.create()
    yield b
    b.delete()


def purchase(i: int, member: str = "m-1", *, amount: str = "10", **more: Any
             ) -> dict[str, Any]:
    return {"id": f"e{i}", "member": member, "type": "purchase",
            "at": f"2026-06-01T10:{i // 60 % 60:02d}:{i % 60:02d}+08:00",
            "attributes": {"amount": amount, "category": "books", "order_id": f"o{i}"},
            **more}


def source(b: Broker, **options: Any) -> NatsSource:
    return NatsSource(b.url, stream=b.stream, subject=b.subject, durable="plaudit",
                      **options)


def drain(service: Plaudit, b: Broker, *, batch: int = 100, **options: Any
          ) -> tuple[ConsumeReport, list[str]]:
    """Consume until the stream is drained; the report and every refusal as logged."""
    logged: list[str] = []
    idle = options.pop("idle", 0.5)
    src_options = {k: options.pop(k) for k in ("dead_letter", "ack_wait") if k in options}
    with source(b, **src_options) as src:
        consumer = Consumer(service, src, batch=batch, wait=0.5, screen=check_items,
                            on_refused=lambda r: logged.extend(map(str, r.problems)),
                            **options)
        report = within(HANG, lambda: consumer.run(idle_exit=idle))
    return report, logged


def stored_ids(service: Plaudit) -> list[str]:
    with service.store.read() as tx:
        rows = tx.conn.exec_driver_sql("SELECT event_id FROM events").all()
    return sorted(r[0] for r in rows)


# -- in process, both databases ------------------------------------------------------------


def test_every_published_event_is_stored_once_and_acked(
        service: Plaudit, broker: Broker, tmp_path: Path, sesame_text: str) -> None:
    events = [purchase(i, f"m-{i % 7}") for i in range(250)]
    broker.events(events)
    report, logged = drain(service, broker, batch=100)
    assert (report.messages, report.stored, report.duplicates, report.refused) == (
        250, 250, 0, 0)
    assert report.batches == 3 and not logged
    assert stored_ids(service) == sorted(e["id"] for e in events)
    assert broker.settled() == (0, 0)
    _same_states(service, _reference(events, tmp_path, sesame_text),
                 {e["member"] for e in events})


def test_an_event_sent_twice_is_stored_once(service: Plaudit, broker: Broker) -> None:
    broker.events([purchase(1), purchase(2), purchase(1)])       # twice in one batch
    report, _ = drain(service, broker)
    assert (report.stored, report.duplicates) == (2, 1)
    broker.events([purchase(2, amount="10.00")])                 # again, in a later run
    report, _ = drain(service, broker)
    assert (report.messages, report.stored, report.duplicates) == (1, 0, 1)
    assert stored_ids(service) == ["e1", "e2"]
    assert service.member_state("m-1", as_of_us=NOW).events == 2
    assert broker.settled() == (0, 0)


def test_bad_messages_are_refused_named_and_dead_lettered_while_neighbours_are_stored(
        service: Plaudit, broker: Broker) -> None:
    broker.create_dead()
    seqs = broker.publish([
        orjson.dumps(purchase(1)),
        b'{"id": "e2", "member": "m-1"',                             # cut short
        orjson.dumps(purchase(3, amount="ten")),                     # refused by the schema
        orjson.dumps(purchase(4)),
        orjson.dumps(purchase(1, amount="99")),                      # e1 with another body
        orjson.dumps([purchase(6)]),                                 # an array
        b'{"id": "e7", "id": "e8", "member": "m-1", "type": "purchase"}',  # repeated key
        orjson.dumps({**purchase(9), "type": "purchace"}),           # unknown type
        orjson.dumps(purchase(10)),
    ])
    report, logged = drain(service, broker, dead_letter=broker.dead_subject)
    assert (report.stored, report.refused) == (3, 6)
    assert stored_ids(service) == ["e1", "e10", "e4"]
    assert service.member_state("m-1", as_of_us=NOW).events == 3
    text = "\n".join(logged)
    assert f"message {seqs[1]}: not valid JSON" in text
    assert f"message {seqs[2]}: attributes.amount: Input should be a valid decimal" in text
    assert f"message {seqs[4]}: id: event id `e1`" in text and "different body" in text
    assert f"message {seqs[5]}: a message holds one event object, not an array" in text
    assert f"message {seqs[6]}: id: this key appears more than once" in text
    assert f"message {seqs[7]}: type: unknown event type `purchace`" in text
    assert "did you mean `purchase`?" in text
    assert broker.settled() == (0, 0)          # terminated messages are settled too
    dead = broker.dead_letters()
    assert sorted(int(h["Plaudit-Sequence"]) for _, h in dead) == [seqs[i] for i in
                                                                   (1, 2, 4, 5, 6, 7)]
    by_seq = {int(h["Plaudit-Sequence"]): (data, h) for data, h in dead}
    data, headers = by_seq[seqs[2]]
    assert data == orjson.dumps(purchase(3, amount="ten"))      # the original bytes
    assert headers["Plaudit-Stream"] == broker.stream
    assert json.loads(headers["Plaudit-Problems"])[0]["field"] == "attributes.amount"


def test_a_store_refusal_takes_only_its_own_message_down(service: Plaudit, broker: Broker
                                                         ) -> None:
    spend = {"id": "s1", "member": "m-1", "type": "plaudit.spend",
             "at": "2026-06-02T10:00:00+08:00", "attributes": {"points": 1000}}
    seqs = broker.events([purchase(1), spend, purchase(2), {**purchase(3), "id": "e1"}])
    report, logged = drain(service, broker)
    assert (report.stored, report.refused) == (2, 2)
    assert stored_ids(service) == ["e1", "e2"]
    text = "\n".join(logged)
    assert f"message {seqs[1]}: attributes.points: insufficient points" in text
    assert f"message {seqs[3]}: id: event id `e1` appears again" in text
    assert broker.settled() == (0, 0)


def test_hostile_messages_are_refused_with_a_reason_and_store_nothing(
        service: Plaudit, broker: Broker) -> None:
    seqs = broker.publish([
        orjson.dumps({**purchase(1), "attributes": {"x": "y" * 200_000}}),   # oversized
        b"[" * 100_000 + b"]" * 100_000,                                     # deep, big
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,                               # deep
        orjson.dumps({**purchase(2), "attributes": {"amount": [[[[[[["1"]]]]]]],
                                                     "category": "books",
                                                     "order_id": "o2"}}),
        b"\xff\xfe\x00{\x80",                                                # not UTF-8
        b"",                                                                 # empty
        orjson.dumps(purchase(3, order_id="x" * (MAX_STRING + 1))),
        orjson.dumps({**purchase(4), "k" * 100: 1}),
        orjson.dumps({**purchase(5), "attributes": {f"a{i}": 1 for i in range(65)}}),
    ])
    report, logged = drain(service, broker)
    assert report.refused == len(seqs) and report.stored == 0
    assert stored_ids(service) == []
    text = "\n".join(logged)
    assert f"message {seqs[0]}: larger than 65536 bytes" in text
    assert f"message {seqs[1]}: larger than 65536 bytes" in text
    assert f"message {seqs[2]}: not valid JSON: depth limit exceeded" in text
    assert f"message {seqs[3]}: attributes.amount:" in text
    assert f"message {seqs[4]}: not valid JSON" in text
    assert f"message {seqs[5]}: not valid JSON" in text
    assert f"message {seqs[6]}:" in text and f"longer than {MAX_STRING} characters" in text
    assert f"message {seqs[7]}: " + "k" * 64 + "…: field name longer than 64" in text
    assert f"message {seqs[8]}: attributes: more than 64 attributes (65)" in text
    assert broker.settled() == (0, 0)


def test_a_database_failure_hands_the_batch_back_to_be_stored_later(
        tmp_path: Path, broker: Broker, sesame_text: str) -> None:
    path = tmp_path / "plaudit.db"
    writer = Plaudit(SqlStore(f"sqlite:///{path}"), FixedClock(NOW))
    writer.publish_rulebook(sesame_text, "sesame-style.yaml", actor="test")
    broker.events([purchase(i) for i in range(5)])
    read_only = Plaudit(SqlStore(f"sqlite:///file:{path}?mode=ro&uri=true", migrate=False),
                        FixedClock(NOW))
    with source(broker) as src:
        consumer = Consumer(read_only, src, batch=10, wait=0.5, nak_delay=0.5)
        with pytest.raises(StoreError, match="readonly database"):
            consumer.run(idle_exit=0.5)
    assert stored_ids(writer) == []
    report, _ = drain(writer, broker, idle=3)
    assert (report.stored, report.redelivered) == (5, 5)
    assert broker.settled() == (0, 0)


def test_refuses_a_missing_stream_and_a_dead_letter_subject_nobody_keeps(broker: Broker
                                                                         ) -> None:
    with pytest.raises(BrokerError, match=r"no stream `NOPE_\w+` at nats://127\.0\.0\.1:4222: "
                                          r"create it, or pass --create-stream"), \
            NatsSource(broker.url, stream=f"NOPE_{uuid.uuid4().hex[:8]}",
                       subject="nope.x", durable="plaudit"):
        pass
    with pytest.raises(BrokerError, match="no stream keeps the dead-letter subject"), \
            source(broker, dead_letter="nobody.keeps.this"):
        pass
    with pytest.raises(BrokerError, match="is one this consumer takes"), \
            source(broker, dead_letter=broker.subject):
        pass
    with pytest.raises(BrokerError, match=r"cannot reach the broker at nats://127.0.0.1:1 "
                                          r"within 1 s"), \
            NatsSource("nats://127.0.0.1:1", stream="X", subject="x", durable="d",
                       connect_timeout=1):
        pass


def test_subject_filters_match_as_nats_does() -> None:
    assert subject_matches("a.*.c", "a.b.c") and not subject_matches("a.*.c", "a.b.d")
    assert subject_matches("a.>", "a.b.c") and not subject_matches("a.>", "a")
    assert subject_matches("a.b", "a.b") and not subject_matches("a.b", "a.b.c")


# -- `plaudit consume` as a real process, killed ------------------------------------------


def _env(store_url: str, tmp_path: Path, **more: str) -> dict[str, str]:
    env = {**os.environ, "PLAUDIT_DATABASE_URL": store_url, "PLAUDIT_HOME": str(tmp_path),
           "NO_COLOR": "1", **more}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


def _consume(b: Broker, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "plaudit", "consume", "--url", b.url, "--stream", b.stream,
         "--subject", b.subject, "--ack-wait", "2", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _init(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "plaudit", "init", "--rulebook",
                    str(EXAMPLES / "sesame-style.yaml")], env=env, check=True,
                   capture_output=True, timeout=120)


def _finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    report: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return report


def _reference(events: list[dict[str, Any]], tmp_path: Path, sesame_text: str
               ) -> Plaudit:
    ref = Plaudit(SqlStore(f"sqlite:///{tmp_path / 'reference.db'}"), FixedClock(NOW))
    ref.publish_rulebook(sesame_text, "sesame-style.yaml", actor="test")
    assert not ref.ingest_items(events).duplicates
    return ref


def _same_states(a: Plaudit, b: Plaudit, members: set[str]) -> None:
    for m in sorted(members):
        assert to_dict(a.member_state(m, as_of_us=NOW)) == to_dict(
            b.member_state(m, as_of_us=NOW)), m


def test_killed_between_commit_and_ack_then_restarted_stores_each_event_once(
        store_url: str, tmp_path: Path, broker: Broker, sesame_text: str) -> None:
    env = _env(store_url, tmp_path)
    _init(env)
    events = [purchase(i, f"m-{i % 4}") for i in range(30)]
    broker.events(events)
    proc = _consume(broker, {**env, "PLAUDIT_CONSUME_PAUSE_AFTER_COMMIT": "60"},
                    "--batch", "10")
    try:
        assert proc.stderr is not None
        line = within(HANG, proc.stderr.readline)
        assert line.strip() == "paused after commit (10 messages)", line
        service = Plaudit(SqlStore(store_url), FixedClock(NOW))
        assert len(stored_ids(service)) == 10           # committed …
        assert broker.counts() == (20, 10)              # … and not acked
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert broker.counts()[1] == 10
    report = _finish(_consume(broker, env, "--batch", "10", "--idle-exit", "3", "--json"))
    assert report["messages"] == 30 and report["stored"] == 20
    assert report["duplicates"] == 10 and report["redelivered"] == 10
    assert stored_ids(service) == sorted(e["id"] for e in events)
    assert broker.settled() == (0, 0)
    _same_states(service, _reference(events, tmp_path, sesame_text),
                 {e["member"] for e in events})


def test_killed_in_the_middle_of_a_backlog_then_restarted_loses_and_repeats_nothing(
        store_url: str, tmp_path: Path, broker: Broker, sesame_text: str) -> None:
    env = _env(store_url, tmp_path)
    _init(env)
    events = list(generate(40, 60, start=date(2026, 1, 1), seed=3))[:3000]
    broker.events(events)
    proc = _consume(broker, env, "--batch", "100")
    service = Plaudit(SqlStore(store_url), FixedClock(NOW))
    try:
        deadline = time.monotonic() + HANG
        while not stored_ids(service) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stored_ids(service), "the consumer stored nothing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    killed_at = len(stored_ids(service))
    assert killed_at < len(events)
    report = _finish(_consume(broker, env, "--batch", "100", "--idle-exit", "3", "--json"))
    assert report["stored"] == len(events) - killed_at
    assert stored_ids(service) == sorted(e["id"] for e in events)
    assert broker.settled() == (0, 0)
    _same_states(service, _reference(events, tmp_path, sesame_text),
                 {e["member"] for e in events})


def test_sigterm_finishes_the_batch_in_hand_and_acks_it(tmp_path: Path, broker: Broker
                                                        ) -> None:
    env = _env(f"sqlite:///{tmp_path / 'plaudit.db'}", tmp_path)
    _init(env)
    broker.events([purchase(i) for i in range(30)])
    proc = _consume(broker, {**env, "PLAUDIT_CONSUME_PAUSE_AFTER_COMMIT": "1"},
                    "--batch", "10", "--json")
    assert proc.stderr is not None
    assert within(HANG, proc.stderr.readline).startswith("paused after commit")
    proc.send_signal(signal.SIGTERM)
    report = _finish(proc)
    assert (report["messages"], report["stored"], report["pending"]) == (10, 10, 20)
    deadline = time.monotonic() + 10
    while broker.counts() != (20, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert broker.counts() == (20, 0)


def test_the_command_reports_refusals_and_exits_4(tmp_path: Path, broker: Broker) -> None:
    env = _env(f"sqlite:///{tmp_path / 'plaudit.db'}", tmp_path)
    _init(env)
    seqs = broker.publish([orjson.dumps(purchase(1)), b"{oops"])
    proc = _consume(broker, env, "--idle-exit", "0")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 4, stderr
    assert (f"refused message {seqs[1]}: not valid JSON: unexpected character, expected a "
            f"string key: line 1 column 2 (char 1) (subject {broker.subject}, delivery 1)"
            ) in stderr
    assert "2 messages in 1 batch(es): 1 events stored, 0 duplicates, 1 refused" in stdout


def test_the_command_creates_a_missing_stream_only_when_asked(tmp_path: Path,
                                                              nats_url: str) -> None:
    b = Broker(nats_url)
    env = _env(f"sqlite:///{tmp_path / 'plaudit.db'}", tmp_path)
    _init(env)
    try:
        proc = _consume(b, env, "--idle-exit", "0")
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 8
        assert f"error: no stream `{b.stream}` at {nats_url}: create it" in stderr
        report = _finish(_consume(b, env, "--idle-exit", "0", "--create-stream", "--json"))
        assert report["messages"] == 0
        b.events([purchase(1)])
        assert _finish(_consume(b, env, "--idle-exit", "0", "--json"))["stored"] == 1
    finally:
        b.delete()
