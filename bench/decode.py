"""Decode micro-benchmark: the pydantic path against the msgspec fast path, same run.

    python bench/decode.py --events 100000

Writes N synthetic sesame-style events as JSONL (bench/ingest.py's ``write_events``),
reads them back in ingest's batches (``read_batches``, ``DEFAULT_BATCH`` lines), and times
``EventDecoder.decode_lines`` over every batch: once with ``fast=False`` (pydantic only,
as before the fast path) and once as ingest runs it, best of ``--repeat`` runs each,
alternating, under ingest's collector setting (youngest generation every 50,000
allocations; each batch's events dropped after it, as ingest's frozen survivors are out
of the collector's sight). The fast path is timed with a new decoder each run, its
caches empty, as ingest starts; and once more with the caches full. Both paths must give
the same events. Prints µs per event for each and the ratio.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

from ingest import ROOT, write_events

from plaudit.application.ingest import DEFAULT_BATCH, read_batches
from plaudit.application.wire import EventDecoder
from plaudit.rulebook import load_rulebook


def timed(decoder: EventDecoder, batches: list[tuple[list[bytes], list[int]]]) -> float:
    """Seconds to decode every batch (each must be accepted whole)."""
    started = time.perf_counter()
    for lines, numbers in batches:
        _, problems = decoder.decode_lines(lines, numbers)
        assert not problems, problems[:3]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rulebook = load_rulebook((ROOT / "examples" / "sesame-style.yaml").read_text(),
                             "sesame-style.yaml").with_version(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        n = write_events(path, args.events, args.members)
        with path.open("rb") as stream:
            batches = [(lines, numbers) for lines, numbers, _ in
                       read_batches(stream, args.batch)]
    pydantic_path = EventDecoder(rulebook, fast=False)
    fast_path = EventDecoder(rulebook)
    for (lines, numbers) in batches:  # same events, and the fast path took every batch
        assert fast_path._fast is not None and fast_path._fast.decode_lines(lines) \
            == pydantic_path.decode_lines(lines, numbers)[0]

    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])
    try:
        old, new, warm = float("inf"), float("inf"), float("inf")
        for _ in range(args.repeat):
            old = min(old, timed(pydantic_path, batches))
            # a new decoder: its caches (times, decimal texts) start empty, as in ingest
            new = min(new, timed(EventDecoder(rulebook), batches))
            warm = min(warm, timed(fast_path, batches))
    finally:
        gc.set_threshold(*thresholds)
    print(f"{n:,} events in batches of {args.batch:,}, best of {args.repeat}")
    print(f"pydantic path: {old / n * 1e6:6.2f} µs/event")
    print(f"fast path:     {new / n * 1e6:6.2f} µs/event "
          f"({warm / n * 1e6:.2f} with its caches already full of these events)")
    print(f"ratio:         {old / new:6.2f}x")


if __name__ == "__main__":
    main()
