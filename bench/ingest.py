"""Bulk ingest benchmark: plaudit against raw SQLite, measured in the same run.

    python bench/ingest.py --events 1000000

1. writes N synthetic sesame-style events (time-ordered JSONL, ~100 events per member);
2. (b) times ``Plaudit.ingest_file`` on a fresh SQLite database, once per ``--workers``
   count (1: everything in this process; N: N fold worker processes, this one decoding
   and writing): JSON parsing, validation
   against the rulebook, idempotency, rule evaluation, the fold and the derived state of
   every touched member, all written in atomic batches;
3. (a) times the baseline: the same rows (id, member, type, time, attributes) inserted with
   one ``executemany`` in one transaction into a bare WAL table with a unique id;
4. prints events/s for both, the ratio, and the process's peak memory after (b);
5. (c) times the fold alone in memory (bench/foldcost.py), per event: the current fold
   against the frozen copy from before the mechanics seam (bench/fold_before_seam.py),
   on the same events in the same run, both with the sesame rulebook without its play
   sections (what the frozen copy understands); then the current fold with every section
   of the sesame example on (rewards, badges, quests, streaks, leaderboards) against the
   same rulebook without them.

Figures go to docs/benchmarks.md. ``--profile`` prints where (b) spends its time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import foldcost
import orjson
from fold_before_seam import MemberFold as FoldBeforeSeam

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.ingest import DEFAULT_BATCH
from plaudit.application.service import Plaudit
from plaudit.domain.fold import MemberFold
from plaudit.rulebook import load_rulebook
from plaudit.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]


def write_events(path: Path, n: int, members: int, *, days: int | None = None,
                 start: date = date(2025, 1, 1), seed: int = 42) -> int:
    """At most ``n`` synthetic events of ``members`` as JSON lines (``days`` by default:
    enough for ~100 events a member a year); how many were written."""
    days = days or max(30, int(n / members / 100 * 365) + 30)
    written = 0
    with path.open("wb") as f:
        for event in generate(members, days, start=start, seed=seed):
            f.write(orjson.dumps(event) + b"\n")
            written += 1
            if written >= n:
                break
    return written


def plaudit_ingest(path: Path, db: Path, batch: int, profile: bool,
                   cache: int, workers: int = 1) -> tuple[float, int]:
    svc = Plaudit(SqlStore(f"sqlite:///{db}"), SystemClock(), cache_size=cache)
    svc.publish_rulebook((ROOT / "examples" / "sesame-style.yaml").read_text(), actor="bench")
    prof = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if prof:
        prof.enable()
    report = svc.ingest_file(path, batch_size=batch, workers=workers)
    if prof:
        prof.disable()
    elapsed = time.perf_counter() - started
    assert report.ok, report.rejected[:1]
    if prof:
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    svc.store.close()
    return elapsed, report.stored


def raw_sqlite(path: Path, db: Path) -> tuple[float, int]:
    rows = []
    with path.open("rb") as f:
        for line in f:
            e = orjson.loads(line)
            rows.append((e["id"], e["member"], e["type"], e["at"],
                         orjson.dumps(e["attributes"]).decode()))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
                 "member TEXT NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL, "
                 "attributes TEXT NOT NULL)")
    gc.collect()
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events (id, member, type, at, attributes) "
                     "VALUES (?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, len(rows)


def one(argv: list[str]) -> None:
    """``--one FILE DB BATCH CACHE WORKERS``: one plaudit run, its figures as JSON."""
    path, db, batch, cache, workers = Path(argv[0]), Path(argv[1]), *map(int, argv[2:5])
    p_time, stored = plaudit_ingest(path, db, batch, "--profile" in argv, cache, workers)
    print(json.dumps([workers, p_time, stored,
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--members", type=int, default=0,
                        help="default: one member per 100 events")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--cache-members", type=int, default=20_000,
                        help="accumulators kept between batches (PLAUDIT_CACHE_MEMBERS)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="fold worker processes for (b), one run each (1: in-process)")
    parser.add_argument("--fold-events", type=int, default=100_000,
                        help="events for the in-memory fold comparison (c); 0 skips it")
    args = parser.parse_args()
    members = args.members or max(10, args.events // 100)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        path = tmpdir / "events.jsonl"
        n = write_events(path, args.events, members)
        size = path.stat().st_size
        print(f"{n:,} events, {members:,} members, {size / 1e6:.0f} MB of JSONL, "
              f"batches of {args.batch_size:,}, cache {args.cache_members:,} members")
        runs = []
        for w in args.workers:  # each in a process of its own: its own peak memory
            db = tmpdir / f"plaudit-{w}.db"
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(path), str(db), str(args.batch_size),
                 str(args.cache_members), str(w)] + (["--profile"] if args.profile else []),
                check=True, capture_output=True, text=True)
            sys.stderr.write(out.stderr)
            runs.append(tuple(json.loads(out.stdout.splitlines()[-1])))
            db.unlink()
        r_time, raw = raw_sqlite(path, tmpdir / "raw.db")
        fold_costs = fold_comparison(tmpdir, args.fold_events, members) \
            if args.fold_events else {}
    r_rate = raw / r_time
    print(f"(a) raw SQLite executemany, unique id : {r_rate:>10,.0f} rows/s "
          f"({r_time:.2f} s)")
    for w, p_time, stored, peak_mb, child_mb in runs:
        p_rate = stored / p_time
        how = "in-process" if w == 1 else f"{w} fold workers"
        print(f"(b) plaudit ingest, {how:<18}: {p_rate:>10,.0f} events/s "
              f"({p_time:.2f} s), {p_rate / r_rate:.1%} of (a); peak RSS: "
              f"writer {peak_mb:,.0f} MB, largest fold worker {child_mb:,.0f} MB")
    if fold_costs:
        before, after = fold_costs["before seam"], fold_costs["after seam"]
        full = fold_costs["every section"]
        print(f"(c) fold only, before the seam        : {before:>10.2f} us/event")
        print(f"    fold only, after the seam         : {after:>10.2f} us/event")
        print(f"    ratio after/before                : {after / before:>10.1%}")
        print(f"    every play section on             : {full:>10.2f} us/event")
        print(f"    ratio every section/without them  : {full / after:>10.1%}")


def fold_comparison(tmpdir: Path, n: int, members: int) -> dict[str, float]:
    """(c): the in-memory fold per event, before and after the mechanics seam."""
    path = tmpdir / "fold-events.jsonl"
    write_events(path, n, max(10, min(members, n // 100)))
    text = (ROOT / "examples" / "sesame-style.yaml").read_text()
    full = load_rulebook(text)
    rb = load_rulebook(without_play(text))
    by_member = foldcost.load_events(path, rb)
    return foldcost.compare([
        ("before seam", lambda m: FoldBeforeSeam(rb, m), by_member),
        ("after seam", lambda m: MemberFold(rb, m), by_member),
        ("every section", lambda m: MemberFold(full, m), by_member),
    ])


PLAY_SECTIONS = ("rewards", "badges", "quests", "streaks", "leaderboards")


def without_play(text: str) -> str:
    """The rulebook text without its play sections (top-level blocks dropped whole)."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if line[:1].isalpha():
            skipping = line.split(":", 1)[0] in PLAY_SECTIONS
        if not skipping:
            kept.append(line)
    return "".join(kept)


if __name__ == "__main__":
    main()
