"""Streamed ingest benchmark: ``plaudit consume`` against ``plaudit ingest`` of the same
events, measured in the same run.

    python bench/consume.py --events 20000 --batch 500

1. writes N synthetic sesame-style events (time-ordered, ~100 events per member) to a
   JSONL file and publishes the same events, one per message, to a fresh JetStream stream
   on the NATS server at ``--url`` (publishing is not timed);
2. (a) times ``Plaudit.ingest_file`` on a fresh SQLite database, as ``plaudit ingest``
   runs it (its default batch), and again with ``--batch`` events per batch;
3. (b) times the consume loop (``Consumer`` over ``NatsSource``, as ``plaudit consume``
   runs it) draining the stream into another fresh database, ``--batch`` messages per
   fetch and transaction: fetch, screen, validate, store, fold, commit, ack;
4. prints events/s for each and the ratio of (b) to (a); checks that the two databases
   hold the same number of events and that the consumer is fully acked.

``--database-url`` runs both on PostgreSQL instead (each in a fresh schema). The stream is
deleted at the end. Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import nats
import orjson

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.nats import NatsSource
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.consume import Consumer
from plaudit.application.ingest import DEFAULT_BATCH
from plaudit.application.service import Plaudit
from plaudit.entrypoints.http.limits import check_items
from plaudit.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]


def events(n: int) -> list[dict[str, Any]]:
    members = max(10, n // 100)
    days = max(30, int(n / members / 100 * 365) + 30)
    out = []
    for event in generate(members, days, start=date(2025, 1, 1), seed=42):
        out.append(event)
        if len(out) >= n:
            break
    return out


async def publish(url: str, stream: str, subject: str, payloads: list[bytes]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[subject])
    for i in range(0, len(payloads), 1000):
        await asyncio.gather(*(js.publish(subject, p) for p in payloads[i:i + 1000]))
    await nc.close()


async def delete(url: str, stream: str) -> None:
    nc = await nats.connect(url)
    await nc.jetstream().delete_stream(stream)
    await nc.close()


def fresh_service(base: str | None, tmp: Path, name: str) -> tuple[Plaudit, Any]:
    """A service on a fresh database, and what to call to drop it."""
    rulebook = (ROOT / "examples" / "sesame-style.yaml").read_text(encoding="utf-8")
    if base is None:
        store = SqlStore(f"sqlite:///{tmp / f'{name}.db'}")
        drop: Any = store.close
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        plain = make_url(base).set(drivername="postgresql").render_as_string(
            hide_password=False)
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in base else "?"
        store = SqlStore(f"{base}{sep}options=-csearch_path%3D{schema}")

        def drop() -> None:
            store.close()
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    service = Plaudit(store, SystemClock())
    service.publish_rulebook(rulebook, "sesame-style.yaml", actor="bench")
    return service, drop


def count(service: Plaudit) -> int:
    with service.store.read() as tx:
        conn: Any = getattr(tx, "conn")  # noqa: B009 - the SQL transaction's connection
        return int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--url", default="nats://127.0.0.1:4222")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL base URL (default: SQLite files)")
    args = parser.parse_args()

    evs = events(args.events)
    lines = [orjson.dumps(e) for e in evs]
    tag = uuid.uuid4().hex[:8]
    stream, subject = f"BENCH_{tag}", f"bench.{tag}.events"
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        path = tmp / "events.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        asyncio.run(publish(args.url, stream, subject, lines))
        try:
            results: dict[str, float] = {}
            for label, batch in ((f"ingest, batch {DEFAULT_BATCH}", DEFAULT_BATCH),
                                 (f"ingest, batch {args.batch}", args.batch)):
                service, drop = fresh_service(args.database_url, tmp, f"ingest{batch}")
                gc.collect()
                start = time.perf_counter()
                report = service.ingest_file(path, batch_size=batch)
                results[label] = time.perf_counter() - start
                assert report.ok and report.stored == len(evs), report
                drop()

            service, drop = fresh_service(args.database_url, tmp, "consume")
            with NatsSource(args.url, stream=stream, subject=subject,
                            durable="bench") as source:
                consumer = Consumer(service, source, batch=args.batch, wait=1.0,
                                    screen=check_items)
                gc.collect()
                start = time.perf_counter()
                consumed = consumer.run(max_messages=len(evs))
                label = f"consume, batch {args.batch}"
                results[label] = time.perf_counter() - start
                assert consumed.stored == len(evs) and consumed.ok, consumed
                assert count(service) == len(evs)
                deadline = time.monotonic() + 10
                while source.counts() != (0, 0) and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert source.counts() == (0, 0), source.counts()
            drop()
        finally:
            asyncio.run(delete(args.url, stream))

    db = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{len(evs)} events, {db}")
    for label, seconds in results.items():
        print(f"  {label:<24} {seconds:7.2f} s  {len(evs) / seconds:9,.0f} events/s")
    consume = results[f"consume, batch {args.batch}"]
    for label, seconds in results.items():
        if label.startswith("ingest"):
            print(f"  consume / {label}: {seconds / consume:.2f}")


if __name__ == "__main__":
    main()
