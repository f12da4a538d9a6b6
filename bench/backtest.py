"""Backtest speed: members per second folded under two rulebooks, against a publish's
re-fold of the same members under one.

    python bench/backtest.py [--members 2000] [--days 365] [--database-url postgresql+psycopg://…]

1. generates the synthetic sesame-style program (``plaudit.synthetic``) and ingests it;
2. times ``Plaudit.backtest`` of a candidate that raises a perk threshold and a band edge
   (every member folded under the published rulebook and the candidate, at now);
3. times ``Plaudit.refold_all`` of the published rulebook (one fold per member, plus the
   state and leaderboard writes a publish makes), the cost a backtest is compared with;
4. runs the backtest again under ``tracemalloc`` (slower; not timed) for the peak of
   memory it allocated, with the fold cache emptied first so ingest's accumulators do not
   count;
5. prints members/s and events/s for both, and the backtest's memory peak.

SQLite by default (a temporary file). Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import orjson

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.domain.calendar import to_us
from plaudit.rulebook import load_rulebook
from plaudit.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]
NOW = to_us(__import__("datetime").datetime.fromisoformat("2026-11-22T12:00:00+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = SqlStore(url)
        svc = Plaudit(store, FixedClock(NOW))
        text = (ROOT / "examples" / "sesame-style.yaml").read_text()
        svc.publish_rulebook(text, actor="bench")
        path = Path(tmp) / "events.jsonl"
        start = date(2026, 11, 21) - timedelta(days=args.days)
        with path.open("wb") as f:
            for e in generate(args.members, args.days, start=start, seed=7):
                f.write(orjson.dumps(e) + b"\n")
        assert svc.ingest_file(path).ok
        with store.read() as tx:
            events = tx.count_events()
        candidate = load_rulebook(text.replace("when: score >= 650", "when: score >= 700")
                                  .replace("{name: Good, from: 600}", "{name: Good, from: 620}"))
        t0 = time.perf_counter()
        report = svc.backtest(candidate, "candidate")
        backtest_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        svc.refold_all(svc.rulebook())
        refold_s = time.perf_counter() - t0
        svc.cache.clear()
        tracemalloc.start()
        svc.backtest(candidate, "candidate")
        heap_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        store.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{report['members']} members, {events} events ({events / report['members']:.0f} "
          f"per member); {report['changed']} changed under the candidate")
    print(f"backtest (2 folds/member): {backtest_s:6.1f} s  "
          f"{report['members'] / backtest_s:7.0f} members/s  {2 * events / backtest_s:8.0f} "
          "member-events folded/s")
    print(f"publish re-fold (1 fold):  {refold_s:6.1f} s  "
          f"{report['members'] / refold_s:7.0f} members/s  {events / refold_s:8.0f} events/s")
    print(f"backtest memory peak (tracemalloc): {heap_mb:.1f} MB; peak RSS of the whole "
          f"process (ingest included): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
