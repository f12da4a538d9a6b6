"""Leaderboard reads with 100,000 opted-in members on one board: top 10 and "my rank".

    python bench/leaderboards.py [--members 100000] [--database-url postgresql+psycopg://…]

1. inserts N members and their entries on one board and period straight through the store
   (``put_entries``): values with cents and many exact ties, times and pseudonym tags;
2. times, each in its own read transaction as the service does:
   - top 10: ``top_entries`` (what ``GET /v1/leaderboards/{board}`` reads), and the same
     through ``Plaudit.leaderboard``;
   - my rank: ``entry`` + ``rank`` (what a member's own view reads per board) for the
     members ranked first, in the middle and last;
3. times the baseline in the same run and database: ``SELECT id, v FROM t ORDER BY v
   LIMIT 10`` on a table of N rows with an index on ``v`` alone;
4. prints ms per read (median and p99 of ``--repeat`` reads).

SQLite always; PostgreSQL too when ``--database-url`` or PLAUDIT_TEST_DATABASE_URL is set
(a private schema, dropped at the end). Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.ingest import sort_key
from plaudit.application.ports import EntryRow
from plaudit.application.service import Plaudit
from plaudit.domain.calendar import to_us
from plaudit.domain.mechanics.leaderboards import pseudonym

ROOT = Path(__file__).resolve().parents[1]
BOARD = "good-spend-monthly"
PERIOD = "2026-11"
NOW = to_us(__import__("datetime").datetime.fromisoformat("2026-11-22T12:00:00+00:00"))


def fill(store: SqlStore, n: int) -> list[EntryRow]:
    rnd = random.Random(7)
    ids = [f"m-{i:07d}" for i in range(n)]
    rows: list[EntryRow] = []
    start = NOW - 21 * 86_400 * 1_000_000
    for chunk in range(0, n, 10_000):
        with store.write() as tx:
            nos, _ = tx.ensure_members(ids[chunk:chunk + 10_000], NOW)
            batch = []
            for member in ids[chunk:chunk + 10_000]:
                # a third whole amounts (many exact ties), the rest with cents
                cents = rnd.randrange(0, 500_000)
                value = Decimal(cents // 100) if rnd.random() < 0.33 else Decimal(cents) / 100
                name = pseudonym("sesame-style", member, 0)
                batch.append(EntryRow(nos[member], BOARD, PERIOD, sort_key(value), str(value),
                                      start + rnd.randrange(0, 21 * 86_400) * 1_000_000,
                                      name.name, name.tag))
            tx.put_entries(batch)
            rows.extend(batch)
            tx.conn.exec_driver_sql(  # type: ignore[attr-defined]
                "INSERT INTO bench_baseline (id, v) VALUES " + ", ".join(
                    f"({r.member_no}, {r.sort_key})" for r in batch))
    return rows


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    for _ in range(min(20, repeat)):
        fn()  # warm the caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


@contextmanager
def database(url: str | None, home: Path) -> Iterator[str]:
    if url is None:
        yield f"sqlite:///{(home / 'bench.db').as_posix()}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def run(url: str, n: int, repeat: int) -> None:
    store = SqlStore(url)
    with store.write() as tx:
        tx.conn.exec_driver_sql(  # type: ignore[attr-defined]
            "CREATE TABLE bench_baseline (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)")
        tx.conn.exec_driver_sql(  # type: ignore[attr-defined]
            "CREATE INDEX ix_bench_baseline ON bench_baseline (v)")
    t0 = time.perf_counter()
    rows = fill(store, n)
    # PostgreSQL: index-only scans (the counts) need the visibility map, which autovacuum
    # builds soon after a bulk change; here it is built at once
    with store.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM ANALYZE" if store.dialect == "postgresql" else "ANALYZE"))
    loaded = time.perf_counter() - t0
    svc = Plaudit(store, FixedClock(NOW))
    svc.publish_rulebook((ROOT / "examples" / "sesame-style.yaml").read_text(), actor="bench")
    ranked = sorted(rows, key=lambda r: (r.sort_key, r.reached_at_us, r.tag, r.member_no))

    def top10() -> None:
        with store.read() as tx:
            tx.top_entries(BOARD, PERIOD, 10)

    def my_rank(row: EntryRow) -> Callable[[], None]:
        def read() -> None:
            with store.read() as tx:
                found = tx.entry(BOARD, PERIOD, row.member_no)
                assert found is not None
                tx.rank(found)
        return read

    def baseline() -> None:
        with store.read() as tx:
            tx.conn.exec_driver_sql(  # type: ignore[attr-defined]
                "SELECT id, v FROM bench_baseline ORDER BY v LIMIT 10").fetchall()

    with store.read() as tx:  # the ranking the database gives is the one expected
        assert [r.member_no for r in tx.top_entries(BOARD, PERIOD, 10)] == \
            [r.member_no for r in ranked[:10]]
        middle = ranked[n // 2]
        assert tx.rank(middle) == n // 2 + 1
    cases: list[tuple[str, Callable[[], object]]] = [
        ("baseline: indexed LIMIT 10", baseline),
        ("top 10 (store)", top10),
        ("top 10 (Plaudit.leaderboard)", lambda: svc.leaderboard(BOARD)),
        ("my rank, 1st", my_rank(ranked[0])),
        (f"my rank, {n // 2 + 1:,}th", my_rank(ranked[n // 2])),
        (f"my rank, {n:,}th (last)", my_rank(ranked[-1])),
    ]
    print(f"\n{store.dialect}: {n:,} entries on one board loaded in {loaded:.1f} s")
    print(f"{'read':34} {'median ms':>10} {'p99 ms':>8}")
    for label, fn in cases:
        median, p99 = timed(fn, repeat)
        print(f"{label:34} {median:10.3f} {p99:8.3f}")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("PLAUDIT_TEST_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        with database(None, Path(home)) as url:
            run(url, args.members, args.repeat)
        if args.database_url:
            with database(args.database_url, Path(home)) as url:
                run(url, args.members, args.repeat)


if __name__ == "__main__":
    main()
