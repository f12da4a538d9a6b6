"""When CPython's cycle collector may look at a long-running writer's heap.

A writer (bulk ingest, a fold worker, the HTTP server's group commit) keeps hundreds of
thousands of small long-lived objects: the fold cache's lots and per-day window entries.
Each full collection rescans them all; measured, that cost ~35 % of bulk ingest time and
put single-event p99 at 76 ms instead of 13 ms (docs/benchmarks.md). So after each write
the survivors are frozen (``gc.freeze``), out of the collector's sight.

Freezing has two traps; the first leaked memory for as long as a bulk run lasted until
this policy (live objects grew 1.65 MB per 50,000-event batch before, 0.85 MB after, the
rest being the cached members' lengthening histories: docs/benchmarks.md):

- cyclic garbage still uncollected at the moment of freezing (SQLAlchemy builds a few
  reference cycles per statement, holding the statement's parameters) is frozen with the
  survivors and never freed. So the generations younger than the frozen heap are collected
  first: that scans only what was allocated since the last freeze.
- frozen objects that later become cyclic garbage (an evicted accumulator's inner cycles)
  are out of the collector's sight. So every ``period`` seconds everything is unfrozen and
  collected once.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class FreezeAfterWrites:
    """Collect what one write left as garbage, freeze the rest; unfreeze and collect all
    of it every ``period`` seconds.

    ``generation`` is how much of the unfrozen heap each write collects: 1 for a server
    (the request's own young garbage, cheaply, between requests), 2 for bulk ingest (a
    batch allocates millions of objects, so its garbage may already sit in the oldest
    generation; a full collection of what is not frozen is still one batch's survivors).
    """

    def __init__(self, period: float = 600.0, generation: int = 1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.period = period
        self.generation = generation
        self.clock = clock
        self.last_full = clock()

    def after_write(self) -> None:
        if self.clock() - self.last_full >= self.period:
            gc.unfreeze()
            gc.collect()
            self.last_full = self.clock()
        else:
            gc.collect(self.generation)
        gc.freeze()


@contextmanager
def quiet_collector(young_threshold: int = 50_000) -> Iterator[None]:
    """During bulk work, collect the youngest generation every ``young_threshold``
    allocations instead of 700, so a batch being decoded is not rescanned over and over;
    reference counting still frees everything dropped. Undone (and the heap unfrozen) at
    the end."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], young_threshold), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


__all__ = ["FreezeAfterWrites", "quiet_collector"]
