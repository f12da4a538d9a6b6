"""The fold cache's memory budget: it gives up members while the process is over budget
and growing, holds while over but level, grows back toward its limit well under it, and
never goes below its floor or above its limit."""

from __future__ import annotations

from pathlib import Path

from plaudit.application.ingest import MIN_CACHED, FoldCache
from plaudit.domain.fold import MemberFold
from plaudit.rulebook import load_rulebook

ROOT = Path(__file__).resolve().parents[2]
RULEBOOK = load_rulebook((ROOT / "examples" / "fitness-club.yaml").read_text())


def filled(readings: list[float | None], limit: int = 1_000, budget: int | None = 500
           ) -> FoldCache:
    cache = FoldCache(limit, memory_mb=budget, resident=lambda: readings.pop(0))
    for no in range(limit):
        cache.put(no, MemberFold(RULEBOOK, f"m-{no}"))
    return cache


def test_over_budget_and_growing_gives_up_the_least_recently_used_quarter() -> None:
    cache = filled([600.0, 650.0, 650.0, 640.0])
    cache.get(0)  # recently used: kept
    cache.fit()
    assert cache.capacity == len(cache) == 750 and cache.get(0) is not None
    assert cache.get(1) is None  # the oldest went first
    cache.fit()
    assert cache.capacity == len(cache) == 562
    cache.fit()  # over, but no longer growing: holds
    cache.fit()
    assert cache.capacity == len(cache) == 562


def test_it_never_goes_below_its_floor_and_grows_back_well_under_budget() -> None:
    cache = filled([900.0 + i for i in range(30)] + [100.0] * 40)
    for _ in range(30):
        cache.fit()
    assert cache.capacity == MIN_CACHED == len(cache)
    for _ in range(40):
        cache.fit()
    assert cache.capacity == cache.limit == 1_000  # by tenths, never past the limit
    assert len(cache) == MIN_CACHED  # growing back makes room; it evicts nothing


def test_without_a_budget_or_a_reading_only_the_count_bounds_it() -> None:
    unbudgeted = filled([], budget=None)  # never reads the process's memory
    unreadable = filled([None, None])     # no /proc: nothing to go by
    for cache in (unbudgeted, unreadable):
        cache.fit()
        cache.fit()
        assert cache.capacity == 1_000 == len(cache)
