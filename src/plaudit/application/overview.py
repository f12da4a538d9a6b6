"""The program at a glance, for the operator console's first page.

Everything here is read from the stored, derived rows (``member_states``) and aggregate
queries, never by folding members. The aggregates still scan (events of the window, every
state), so the page grows with the program (docs/benchmarks.md); it is the page to cache
first when that matters. Stored states reflect each
member's last event, so a score that drifted since (a sliding window) shows its stored
value until the member's next event or a re-fold; the numbers are "as last computed", as
the console says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from plaudit.domain.calendar import from_us
from plaudit.domain.errors import NotFound

if TYPE_CHECKING:
    from plaudit.application.service import Plaudit

DAY_US = 86_400_000_000
MAX_DAYS = 366
BUCKETS = 12
"""Bars in the score histogram: the score's range cut into this many equal steps."""


@dataclass(frozen=True)
class DayCount:
    date: str
    """The program's local date (ISO)."""
    events: int


@dataclass(frozen=True)
class Bucket:
    low: int
    high: int
    """Inclusive: the last bucket ends at the range's top."""
    members: int

    @property
    def label(self) -> str:
        return f"{self.low}–{self.high}"


@dataclass(frozen=True)
class Overview:
    members: int
    events: int
    rulebook_version: int | None
    average_score: float | None
    points_outstanding: int
    bands: tuple[tuple[str, int], ...]
    """Members per band, lowest band first (the rulebook's order); bands no one is in
    listed with 0."""
    tiers: tuple[tuple[str, int], ...]
    """Members per tier level, lowest first."""
    events_per_day: tuple[DayCount, ...]
    """Every day of the window, oldest first, days without events as 0."""
    histogram: tuple[Bucket, ...]
    """Empty when the rulebook has no score."""
    open_disputes: int


def overview(svc: Plaudit, days: int = 90) -> Overview:
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1 to {MAX_DAYS}")
    try:
        rb = svc.rulebook()
    except NotFound:
        rb = None
    now = svc.clock.now_us()
    tz = rb.calendar.tz if rb is not None else None
    offset = from_us(now, tz).utcoffset() if tz is not None else None
    offset_us = int(offset / timedelta(microseconds=1)) if offset is not None else 0
    today = (now + offset_us) // DAY_US
    first = today - days + 1
    with svc.store.read() as tx:
        summary = tx.state_summary()
        events = tx.count_events()
        per_day = tx.events_per_day(first * DAY_US - offset_us, offset_us)
        score = rb.score if rb is not None else None
        width = max(1, -(-(score.high - score.low) // BUCKETS)) if score else 1
        counts = tx.score_histogram(score.low, width) if score else {}
        open_disputes = tx.count_open_disputes(None)
    series = tuple(DayCount(from_us(d * DAY_US).date().isoformat(), per_day.get(d, 0))
                   for d in range(first, today + 1))
    histogram: list[Bucket] = []
    if score is not None:
        n = max(1, -(-(score.high - score.low) // width))  # ≤ BUCKETS once rounded up
        for i in range(n):
            low = score.low + i * width
            last = i == n - 1  # a score at the very top goes in the last bar
            histogram.append(Bucket(low, score.high if last else low + width - 1,
                                    sum(c for b, c in counts.items() if b >= i) if last
                                    else counts.get(i, 0)))
    band_counts: dict[str, int] = dict(summary["bands"])  # type: ignore[call-overload]
    tier_counts: dict[str, int] = dict(summary["tiers"])  # type: ignore[call-overload]
    band_names = [b.name for b in score.bands] if score else []
    tier_names = [t.name for t in rb.tiers.levels] if rb is not None and rb.tiers else []
    average = summary["average_score"]
    return Overview(
        members=int(summary["members"]),  # type: ignore[call-overload]
        events=events,
        rulebook_version=rb.version if rb is not None else None,
        average_score=float(average) if isinstance(average, int | float) else None,
        points_outstanding=int(summary["points_outstanding"]),  # type: ignore[call-overload]
        bands=_ordered(band_counts, band_names), tiers=_ordered(tier_counts, tier_names),
        events_per_day=series, histogram=tuple(histogram),
        open_disputes=open_disputes)


def _ordered(counts: dict[str, int], names: list[str]) -> tuple[tuple[str, int], ...]:
    """The rulebook's names in its order, then any stored name it no longer has (states
    from an older version not re-folded yet)."""
    known = [(n, counts.get(n, 0)) for n in names]
    return tuple(known + sorted((n, c) for n, c in counts.items() if n not in names))


__all__ = ["BUCKETS", "MAX_DAYS", "Bucket", "DayCount", "Overview", "overview"]
