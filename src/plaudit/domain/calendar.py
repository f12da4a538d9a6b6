"""Program time: days, weeks, months and years cut in the program's timezone.

Event times travel as integer microseconds since the Unix epoch (UTC), which sort and
subtract exactly. Everything calendar-shaped (a cap "per day", a window of "56d", a tier's
calendar year) is a *local day ordinal* — :meth:`datetime.date.toordinal` of the date in the
program's zone — so a purchase at 23:30 in Shanghai counts for that Shanghai day whatever
offset the operator sent.

Converting a UTC instant to a local date through :mod:`zoneinfo` costs ~1 µs; the fold does
it for every event, so offsets are cached per UTC quarter hour, ~5× cheaper. Nearly every
offset change falls on a quarter hour of UTC; the few quarters inside which one happens
(St. John's changed at 00:01 local time for decades) are detected and never cached, so the
result stays exact.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
_QUARTER_US = 900 * US_PER_SECOND
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

PERIODS = ("day", "week", "month", "year")

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""Event times and as-of times must fall in [EARLIEST, LATEST): far enough from year 1 and
year 9999 that windows, expiry, grace and local dates in any zone stay representable."""
RANGE_TEXT = "must be from 1900-01-01T00:00:00Z up to (not including) 9000-01-01T00:00:00Z"


def in_range(at: datetime) -> datetime:
    """``at`` if it is in the supported range; ValueError naming the range otherwise."""
    if not EARLIEST <= at < LATEST:
        raise ValueError(RANGE_TEXT)
    return at


def to_us(at: datetime) -> int:
    """Exact microseconds since the epoch for an aware datetime."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def from_us(us: int, tz: ZoneInfo | None = None) -> datetime:
    at = _EPOCH + timedelta(microseconds=us)
    return at.astimezone(tz) if tz is not None else at


class Calendar:
    """Local-day arithmetic for one timezone."""

    __slots__ = ("_iso_cache", "_mixed", "_month_cache", "_offsets", "tz", "tz_name")

    def __init__(self, tz_name: str) -> None:
        self.tz_name = tz_name
        self.tz = ZoneInfo(tz_name)
        self._offsets: dict[int, int] = {}
        self._month_cache: dict[int, tuple[int, int]] = {}
        self._iso_cache: dict[int, tuple[str, int, str] | None] = {}
        self._mixed: set[int] = set()
        """Quarter hours inside which the offset changes (a handful per zone)."""

    def iso(self, at_us: int) -> str:
        """``from_us(at_us, tz).isoformat()``, ~4× cheaper.

        A member read lists every live lot with its local award and expiry times, and the
        zoneinfo conversion was most of a read's cost. Within a UTC quarter hour with one
        offset that is a whole number of quarter hours, the local date, hour and offset are
        fixed, so only minutes, seconds and microseconds are formatted per call. Any other
        quarter (historic local mean time, an offset change inside it) takes the exact path.
        """
        quarter = at_us // _QUARTER_US
        try:
            parts = self._iso_cache[quarter]
        except KeyError:
            parts = self._iso_parts(quarter)
        if parts is None:
            return from_us(at_us, self.tz).isoformat()
        prefix, minute, suffix = parts
        seconds, micro = divmod(at_us - quarter * _QUARTER_US, US_PER_SECOND)
        minutes, seconds = divmod(seconds, 60)
        if micro:
            return f"{prefix}{minute + minutes:02d}:{seconds:02d}.{micro:06d}{suffix}"
        return f"{prefix}{minute + minutes:02d}:{seconds:02d}{suffix}"

    def _iso_parts(self, quarter: int) -> tuple[str, int, str] | None:
        local = from_us(quarter * _QUARTER_US, self.tz)
        off = local.utcoffset()
        text = local.isoformat()
        whole = off is not None and off.microseconds == 0 \
            and (off.days * 86_400 + off.seconds) % 900 == 0 \
            and self._quarter_offset(quarter) is not None  # one offset all quarter long
        parts = (text[:14], local.minute, text[19:]) if whole else None
        if len(self._iso_cache) > 100_000:
            self._iso_cache.clear()
        self._iso_cache[quarter] = parts
        return parts

    def day(self, at_us: int) -> int:
        """The local date ordinal of an instant."""
        quarter = at_us // _QUARTER_US
        offset = self._offsets.get(quarter)
        if offset is None:
            offset = self._quarter_offset(quarter)
            if offset is None:  # the offset changes inside this quarter hour
                offset = self._offset_us(at_us)
        return (at_us + offset) // US_PER_DAY + _EPOCH_ORDINAL

    def _offset_us(self, at_us: int) -> int:
        off = from_us(at_us, self.tz).utcoffset()
        return 0 if off is None else (off.days * 86_400 + off.seconds) * US_PER_SECOND

    def _quarter_offset(self, quarter: int) -> int | None:
        """The UTC offset throughout a UTC quarter hour, cached; None if it changes inside.

        Most zones change offset on a quarter hour of UTC, but not all: St. John's changed
        at 00:01 local time (-03:30) for decades, and Gaza, Moncton and Casey have had such
        changes too. A quarter whose first and last microsecond differ is never cached, so
        every instant in it takes the exact path."""
        if quarter in self._mixed:
            return None
        start = self._offset_us(quarter * _QUARTER_US)
        if self._offset_us(quarter * _QUARTER_US + _QUARTER_US - 1) != start:
            self._mixed.add(quarter)
            return None
        if len(self._offsets) > 100_000:
            self._offsets.clear()
        self._offsets[quarter] = start
        return start

    def date(self, day: int) -> date:
        return date.fromordinal(day)

    def day_start_us(self, day: int) -> int:
        """The first instant of a local day (local midnight, or the first instant after it
        when a DST change skips midnight)."""
        start = datetime.combine(date.fromordinal(day), time(), tzinfo=self.tz)
        us = to_us(start)
        while self.day(us) < day:  # midnight did not exist: step to the next valid hour
            us += 3_600 * US_PER_SECOND
        return us

    def year_month(self, day: int) -> tuple[int, int]:
        ym = self._month_cache.get(day)
        if ym is None:
            d = date.fromordinal(day)
            ym = (d.year, d.month)
            if len(self._month_cache) > 100_000:
                self._month_cache.clear()
            self._month_cache[day] = ym
        return ym

    def period(self, day: int, per: str) -> int:
        """A number identifying the day/week/month/year that contains ``day``."""
        if per == "day":
            return day
        if per == "week":  # ISO weeks start on Monday; ordinal 1 (0001-01-01) is a Monday
            return day - (day - 1) % 7
        year, month = self.year_month(day)
        if per == "month":
            return year * 12 + month - 1
        return year

    def period_index(self, day: int, per: str) -> int:
        """The consecutive number of the day/week/month/year containing ``day``: the next
        period is ``index + 1`` (:meth:`period` steps weeks by 7). Streaks count runs and
        gaps with it."""
        if per == "day":
            return day
        if per == "week":
            return (day - 1) // 7  # ordinal 1 (0001-01-01) is a Monday
        year, month = self.year_month(day)
        if per == "month":
            return year * 12 + month - 1
        return year

    def period_first_day(self, index: int, per: str) -> int:
        """The first local day of the period numbered ``index`` (:meth:`period_index`); its
        last day is ``period_first_day(index + 1, per) - 1``."""
        if per == "day":
            return index
        if per == "week":
            return index * 7 + 1
        if per == "month":
            return date(index // 12, index % 12 + 1, 1).toordinal()
        return date(index, 1, 1).toordinal()

    def year_start(self, day: int) -> int:
        return date(self.year_month(day)[0], 1, 1).toordinal()

    def anniversary_start(self, first_day: int, day: int) -> int:
        """The most recent anniversary of ``first_day`` on or before ``day``.

        A first day of 29 February has its anniversary on 28 February in common years.
        """
        first = date.fromordinal(first_day)
        current = date.fromordinal(day)
        year = current.year
        while True:
            try:
                anniversary = first.replace(year=year)
            except ValueError:
                anniversary = date(year, 2, 28)
            if anniversary <= current:
                return anniversary.toordinal()
            year -= 1


__all__ = ["EARLIEST", "LATEST", "PERIODS", "RANGE_TEXT", "US_PER_DAY", "US_PER_SECOND",
           "Calendar", "from_us", "in_range", "to_us"]
