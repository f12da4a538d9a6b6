"""Replay benchmark: the whole program re-folded on 1 and on N worker processes, same run.

    python bench/replay.py --events 1000000 --members 10000 [--workers 2]
        [--database-url postgresql+psycopg://…] [--keep /tmp/replay.db]

1. ingests N synthetic sesame-style events (bench/ingest.py's file; with ``--keep`` the
   SQLite database is kept and reused by the next run with the same arguments);
2. (a) baseline: every stored event read back in pages of members (the replay's reads,
   no fold, no write);
3. (b) ``Plaudit.replay(workers=1)``: fold in this process, write in this process;
4. (c) ``Plaudit.replay(workers=N)``: N fold processes, this process the one writer;
5. prints events/s, the (c)/(b) speed-up, the share of the baseline's read rate, and the
   peak resident size of this process and of the largest worker.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from ingest import write_events

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.application.workers import pages

ROOT = Path(__file__).resolve().parents[1]


def read_all(store: SqlStore, page: int) -> tuple[int, float]:
    started = time.perf_counter()
    n = 0
    for members in pages(store, None, page):
        with store.snapshot() as tx:
            tx.states([no for no, _ in members])
            n += len(tx.events_of_members([no for no, _ in members]))
    return n, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--members", type=int, default=3_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--database-url")
    ap.add_argument("--keep", type=Path, help="SQLite file to keep and reuse")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.database_url:
            url = args.database_url
        else:
            db = args.keep or Path(tmp) / "replay.db"
            url = f"sqlite:///{db}"
        store = SqlStore(url)
        svc = Plaudit(store, SystemClock(), cache_size=0)
        with store.read() as tx:
            stored = tx.count_events()
        if stored < args.events:
            svc.publish_rulebook((ROOT / "examples" / "sesame-style.yaml").read_text(),
                                 actor="bench")
            path = Path(tmp) / "events.jsonl"
            n = write_events(path, args.events, args.members)
            started = time.perf_counter()
            report = svc.ingest_file(path)
            print(f"ingested {report.stored:,} of {n:,} events in "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        with store.read() as tx:
            events, members = tx.count_events(), tx.count_members()
        print(f"{events:,} events, {members:,} members, {url.split(':')[0]}")

        from plaudit.application import replay

        read, read_s = read_all(store, replay.PAGE)
        print(f"(a) read every event in pages      {read / read_s:>10,.0f} events/s "
              f"({read_s:.1f} s)")
        one = svc.replay(workers=1)
        print(f"(b) replay, 1 process              {one.events / one.seconds:>10,.0f} events/s "
              f"({one.seconds:.1f} s)")
        many = svc.replay(workers=args.workers)
        rate = many.events / many.seconds
        print(f"(c) replay, {many.workers} fold workers + writer {rate:>8,.0f} events/s "
              f"({many.seconds:.1f} s)")
        print(f"    (c)/(b) speed-up {one.seconds / many.seconds:.2f}x; (c) is "
              f"{(many.events / many.seconds) / (read / read_s):.0%} of (a)'s read rate; "
              f"10M events would take ~{10_000_000 / (many.events / many.seconds):.0f} s")
        me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"    peak RSS: this process {me:.0f} MB, largest worker {kids:.0f} MB")
        store.close()


if __name__ == "__main__":
    main()
