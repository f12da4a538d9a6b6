"""Memory per accumulator, and bulk ingest with a small cache with and without snapshots.

    python bench/memory.py accumulators            # KB per mechanic, 1 and 3 years
    python bench/memory.py ingest --events 1000000 --members 100000 --cache 2000

``accumulators`` folds synthetic sesame-style members (~100 events a year) for one and
three years and reports, per mechanic, the bytes its state holds (a ``sys.getsizeof`` walk
over the objects reachable from the mechanic, each object counted once, the rulebook and
other shared objects excluded) plus the accumulator's total from ``tracemalloc``.

``ingest`` writes a synthetic file once, then ingests it into two fresh SQLite databases
in two child processes (so each peak RSS is its own): snapshots off
(``PLAUDIT_SNAPSHOT_EVERY=0``) and on (``--only off|on``: just one of them), with
``--batch`` events a batch and ``PLAUDIT_MEMORY_MB=--memory-mb``; it prints events/s, peak
RSS, the store's snapshot count and the cache's final capacity for each, then the resident
memory after about every tenth of the batches (where a peak or a creep comes from).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from datetime import date
from pathlib import Path
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any

import orjson
from foldcost import decode_by_member
from ingest import write_events

from plaudit.application.ingest import DEFAULT_BATCH
from plaudit.application.memory import resident_mb
from plaudit.domain.events import Event
from plaudit.domain.fold import MemberFold
from plaudit.domain.rulebook import Rulebook
from plaudit.rulebook import load_rulebook
from plaudit.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]
SESAME = ROOT / "examples" / "sesame-style.yaml"
_SKIP = (type, FunctionType, BuiltinFunctionType, MethodType, ModuleType, Rulebook)


def deep_size(obj: Any, seen: set[int]) -> int:
    """Bytes of ``obj`` and everything it reaches that ``seen`` does not hold yet."""
    total = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, _SKIP) or o is None or o is True or o is False:
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset | deque):
            stack.extend(o)
        elif isinstance(o, str | int | bytes | float):
            continue
        else:
            for name in getattr(type(o), "__slots__", ()):
                if hasattr(o, name):
                    stack.append(getattr(o, name))
            for klass in type(o).__mro__[1:]:
                for name in getattr(klass, "__slots__", ()):
                    if hasattr(o, name):
                        stack.append(getattr(o, name))
            if hasattr(o, "__dict__"):
                stack.append(o.__dict__)
    return total


def members_events(rb: Rulebook, days: int, members: int) -> dict[str, list[Event]]:
    lines = [orjson.dumps(e) for e in generate(members, days, start=date(2024, 1, 1), seed=11)]
    return decode_by_member(lines, rb)


def measure(rb: Rulebook, years: int, members: int = 300) -> dict[str, float]:
    """Mean bytes per mechanic over members with 80-120 events a year."""
    by = members_events(rb, 365 * years, members)
    picked = {m: evs for m, evs in by.items() if 80 * years <= len(evs) <= 120 * years}
    sizes: dict[str, list[int]] = {}
    traced: list[int] = []
    for member, evs in picked.items():
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        acc = MemberFold(rb, member)
        for e in evs:
            acc.apply(e)
        traced.append(tracemalloc.get_traced_memory()[0] - base)
        tracemalloc.stop()
        seen: set[int] = {id(acc.rulebook), id(acc.plan), id(acc.member)}
        for part in acc.parts:
            sizes.setdefault(part.name, []).append(deep_size(part, seen))
        sizes.setdefault("fold itself", []).append(deep_size(acc, seen))
        sizes.setdefault("events", []).append(len(evs))
    out = {k: statistics.mean(v) for k, v in sizes.items()}
    out["tracemalloc total"] = statistics.mean(traced)
    out["members"] = len(picked)
    return out


def accumulators() -> None:
    rb = load_rulebook(SESAME.read_text()).with_version(1)
    results = {years: measure(rb, years) for years in (1, 3)}
    keys = [k for k in results[1] if k not in ("events", "members")]
    print(f"{'KB per accumulator':<22}" + "".join(f"{y} year(s)".rjust(12) for y in results))
    for k in keys:
        print(f"{k:<22}" + "".join(f"{r[k] / 1024:12.1f}" for r in results.values()))
    for k in ("events", "members"):
        print(f"{k:<22}" + "".join(f"{r[k]:12.0f}" for r in results.values()))


def own_peak_mb() -> float:
    """This process's own peak resident memory (``VmHWM``).

    Not ``ru_maxrss``: on Linux a child's starts at its parent's resident size at the fork,
    kept through the exec, so a child of this script (which holds the file it wrote, ~740
    MB for 10M events) reported the parent's peak as its own."""
    import resource

    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest_child(path: Path, db: Path, batch: int) -> None:
    """Ingest ``path`` into a fresh SQLite database at ``db``; print one JSON line."""

    from plaudit.bootstrap import bootstrap
    from plaudit.config import Settings

    settings = Settings()
    svc = bootstrap(settings.model_copy(update={"database_url": f"sqlite:///{db}"}))
    svc.publish_rulebook(SESAME.read_text(), actor="bench")
    trace: list[tuple[int, float]] = []  # (events stored, resident MB) after each batch

    def sample(_done: int, so_far: Any) -> None:
        trace.append((so_far.stored, resident_mb() or 0.0))

    started = time.perf_counter()
    report = svc.ingest_file(path, batch_size=batch, progress=sample)
    seconds = time.perf_counter() - started
    with svc.store.read() as tx:
        snapshots = tx.count_snapshots()
    peak = own_peak_mb()
    print(orjson.dumps({"stored": report.stored, "seconds": seconds,
                        "events_per_s": report.stored / seconds, "peak_rss_mb": peak,
                        "snapshots": snapshots, "cache": svc.cache.capacity,
                        "trace": trace}).decode())


def ingest(events: int, members: int, cache: int, every: int, workers: int,
           days: int | None, only: str | None = None, memory_mb: int | None = None,
           batch: int = DEFAULT_BATCH) -> None:
    # ~100 events per member a year, unless told how many days the file spans
    days = days or max(1, round(events / members / 100 * 365))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        written = write_events(path, events, members, days=days, start=date(2024, 1, 1),
                               seed=3)
        print(f"{written:,} events, {members:,} members, {days} days, cache {cache:,}, "
              f"fold workers {workers}, memory budget {memory_mb or 'none'}, batch {batch:,}")
        runs = [("snapshots off", 0), (f"snapshots every {every}", every)]
        for label, snap in runs if only is None else runs[only == "on":][:1]:
            env = dict(os.environ, PLAUDIT_CACHE_MEMBERS=str(cache),
                       PLAUDIT_SNAPSHOT_EVERY=str(snap), PLAUDIT_FOLD_WORKERS=str(workers))
            if memory_mb:
                env["PLAUDIT_MEMORY_MB"] = str(memory_mb)
            db = Path(tmp) / f"{snap}.db"
            out = subprocess.run([sys.executable, __file__, "_child", str(path), str(db),
                                  str(batch)],
                                 env=env, capture_output=True, text=True)
            if out.returncode:
                sys.exit(out.stderr)
            r = orjson.loads(out.stdout.strip().splitlines()[-1])
            print(f"{label:<22} {r['events_per_s']:>9,.0f} events/s  {r['seconds']:7.1f} s  "
                  f"peak RSS {r['peak_rss_mb']:6.0f} MB  snapshots {r['snapshots']:,}  "
                  f"cache at the end {r['cache']:,}")
            print("  resident MB after the batch that reached "
                  + ", ".join(f"{n:,} events: {mb:.0f}" for n, mb in tenths(r["trace"])))


def tenths(trace: list[list[float]]) -> list[list[float]]:
    """About ten evenly spaced samples of the per-batch trace, its last one included."""
    step = max(1, len(trace) // 10)
    samples = trace[step - 1::step][:10]
    return samples if samples[-1:] == trace[-1:] else samples[:9] + trace[-1:]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        ingest_child(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("accumulators")
    ing = sub.add_parser("ingest")
    ing.add_argument("--events", type=int, default=1_000_000)
    ing.add_argument("--members", type=int, default=100_000)
    ing.add_argument("--cache", type=int, default=2_000)
    ing.add_argument("--every", type=int, default=64)
    ing.add_argument("--workers", type=int, default=1)
    ing.add_argument("--days", type=int, default=None,
                     help="days the file spans (default: ~100 events per member a year)")
    ing.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="events per batch")
    ing.add_argument("--memory-mb", type=int, default=None,
                     help="PLAUDIT_MEMORY_MB for the ingest (default: no budget)")
    ing.add_argument("--only", choices=["off", "on"], default=None,
                     help="run only the snapshots-off or snapshots-on ingest")
    args = parser.parse_args()
    if args.what == "accumulators":
        accumulators()
    else:
        ingest(args.events, args.members, args.cache, args.every, args.workers, args.days,
               args.only, args.memory_mb, args.batch)


if __name__ == "__main__":
    main()
