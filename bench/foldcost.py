"""In-memory fold cost per event, for bench/ingest.py: no JSON, no database.

Events are decoded once; then every member's events are folded with a fresh accumulator,
each variant several times, interleaved, and the best time per variant is kept (the
machine's noise only ever adds time).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from plaudit.application.wire import EventDecoder
from plaudit.domain.events import Event
from plaudit.domain.rulebook import Rulebook


def load_events(path: Path, rulebook: Rulebook) -> dict[str, list[Event]]:
    return decode_by_member(path.read_bytes().splitlines(), rulebook)


def decode_by_member(lines: list[bytes], rulebook: Rulebook) -> dict[str, list[Event]]:
    """JSON lines decoded, by member, each member's in fold order."""
    events, problems = EventDecoder(rulebook).decode_lines(lines, list(range(1, len(lines) + 1)))
    assert not problems, problems[:1]
    by_member: dict[str, list[Event]] = {}
    for e in events:
        by_member.setdefault(e.member, []).append(e)
    for evs in by_member.values():
        evs.sort(key=lambda e: (e.at_us, e.id))
    return by_member


def fold_all(make: Callable[[str], Any], by_member: dict[str, list[Event]]) -> float:
    """Seconds to apply every event, each member from scratch, plus its stored summary
    (what ingest computes after each batch)."""
    gc.collect()
    started = time.perf_counter()
    for member, evs in by_member.items():
        acc = make(member)
        for e in evs:
            acc.apply(e)
        acc.summary(evs[-1].at_us)
    return time.perf_counter() - started


def compare(variants: Sequence[tuple[str, Callable[[str], Any], dict[str, list[Event]]]],
            repeats: int = 3) -> dict[str, float]:
    """Best microseconds per event of each variant, run interleaved."""
    best: dict[str, float] = {}
    for _ in range(repeats):
        for name, make, by_member in variants:
            n = sum(len(v) for v in by_member.values())
            us = fold_all(make, by_member) / n * 1e6
            best[name] = min(best.get(name, us), us)
    return best


__all__ = ["compare", "fold_all", "load_events"]
