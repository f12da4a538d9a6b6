"""Replay benchmark: the Spark engine against the local one, on the same program, one run.

    python bench/spark_replay.py --events 200000 --members 4000

1. ingests N synthetic sesame-style events for M members into a fresh SQLite database;
2. times ``Plaudit.replay`` with 1 and with 2 fold worker processes (the report says how many
   it used: below 4 pages of 500 members per worker it folds with fewer);
3. times ``run_spark_replay`` at ``--master`` (default ``local[2]``) twice: cold (the
   SparkSession started inside the timing, as ``plaudit replay --engine spark`` does) and
   warm (a session already up), and prints where the warm run spends its time (export,
   Spark fold, write-back);
4. checks that every replay left the same stored states, and prints seconds, events/s and
   ratios to the local replay with one worker.

Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ingest import write_events

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.spark import job, run_spark_replay
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.replay import ReplayReport
from plaudit.application.service import Plaudit
from plaudit.application.workers import RulebookText

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("member_no, rulebook_version, position, last_at_us, last_event_id, balance, score, "
           "band, tier, consents")


def states(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT {COLUMNS} FROM member_states ORDER BY member_no").fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--members", type=int, default=4_000)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, db = Path(tmp) / "events.jsonl", Path(tmp) / "bench.db"
        n = write_events(path, args.events, args.members)
        svc = Plaudit(SqlStore(f"sqlite:///{db}"), SystemClock())
        svc.publish_rulebook((ROOT / "examples" / "sesame-style.yaml").read_text(),
                             actor="bench")
        started = time.perf_counter()
        report = svc.ingest_file(path)
        assert report.ok, report.rejected[:1]
        print(f"ingested {n} events in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        rb = svc.rulebook()
        with svc.store.read() as tx:
            row = tx.rulebook(rb.version)
            members = tx.count_members()
        assert row is not None
        source = RulebookText(row.source, "bench", rb.version)

        runs: list[tuple[str, ReplayReport]] = []
        expected = None
        for workers in (1, 2):
            r = svc.replay(workers=workers)
            runs.append((f"local, workers={workers} (used {r.workers})", r))
            expected = expected or states(db)
            assert states(db) == expected

        started = time.perf_counter()
        spark = job.session(args.master)
        startup = time.perf_counter() - started
        phases: dict[str, float] = {}
        for label in ("cold", "warm"):
            marks: dict[str, float] = {}

            def mark(step: str, done: int, total: int, marks: dict[str, float] = marks
                     ) -> None:
                marks[f"{step} {'start' if done == 0 and step == 'fold' else 'end'}"] = \
                    time.perf_counter()

            t0 = time.perf_counter()
            r = run_spark_replay(svc.store, rb, source, now_us=svc.clock.now_us,
                                 master=args.master, spark=spark, progress=mark)
            t1 = time.perf_counter()
            if label == "cold":  # the session start belongs to a cold run
                r = ReplayReport(r.members, r.events, r.refolded, r.workers,
                                 r.seconds + startup)
            else:
                phases = {"export": marks["fold start"] - t0,
                          "Spark fold": marks["fold end"] - marks["fold start"],
                          "write-back": t1 - marks["fold end"]}
            runs.append((f"spark {args.master}, {label} ({r.workers} partitions)", r))
            assert states(db) == expected
        spark.stop()

    base = runs[0][1].seconds
    print(f"\n{n} events, {members} members; same stored states after every run\n")
    print("| engine | seconds | events/s | vs local workers=1 |")
    print("|---|---:|---:|---:|")
    for label, r in runs:
        print(f"| {label} | {r.seconds:.2f} | {r.events / r.seconds:,.0f} | "
              f"{base / r.seconds:.2f}x |")
    print(f"\nSparkSession start: {startup:.1f} s; warm run: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()))


if __name__ == "__main__":
    main()
