"""Program time: the fast local-time formatting must equal zoneinfo's, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plaudit.domain.calendar import Calendar, from_us

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "Europe/Amsterdam", "Asia/Kathmandu",
         "Australia/Eucla", "America/St_Johns", "Africa/Monrovia", "Pacific/Chatham"]
CALENDARS = {name: Calendar(name) for name in ZONES}

# 1900 to 2999: historic local mean time (offsets with seconds) and DST both in range.
instants = st.integers(min_value=-2_208_988_800 * 10**6, max_value=32_503_680_000 * 10**6)


@settings(max_examples=3000)
@given(zone=st.sampled_from(ZONES), at_us=instants, whole_second=st.booleans())
def test_iso_equals_zoneinfo(zone: str, at_us: int, whole_second: bool) -> None:
    if whole_second:
        at_us -= at_us % 10**6
    cal = CALENDARS[zone]
    assert cal.iso(at_us) == from_us(at_us, cal.tz).isoformat()


def test_iso_across_a_dst_change() -> None:
    cal = Calendar("Europe/Amsterdam")
    # 2026-03-29 01:00 UTC: clocks go from 02:00 +01:00 to 03:00 +02:00
    change = 1_774_746_000 * 10**6
    assert cal.iso(change - 1) == "2026-03-29T01:59:59.999999+01:00"
    assert cal.iso(change) == "2026-03-29T03:00:00+02:00"


def _transitions(cal: Calendar, first_year: int, last_year: int) -> list[int]:
    """Every instant (µs) at which the zone's UTC offset changes, found by scanning in
    6-hour steps (offset changes are months apart) and bisecting to the microsecond."""
    def offset(us: int) -> object:
        return from_us(us, cal.tz).utcoffset()

    step = 6 * 3600 * 10**6
    start = (datetime(first_year, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
    end = (datetime(last_year + 1, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
    found = []
    lo_off = offset(start)
    for lo in range(start, end, step):
        hi_off = offset(lo + step)
        if hi_off != lo_off:
            a, b = lo, lo + step  # offset(a) == lo_off != offset(b)
            while b - a > 1:
                mid = (a + b) // 2
                a, b = (mid, b) if offset(mid) == lo_off else (a, mid)
            found.append(b)
        lo_off = hi_off
    return found


QUARTER = 900 * 10**6


@pytest.mark.parametrize("zone", ["America/St_Johns", "America/Goose_Bay", "America/Moncton",
                                  "Asia/Gaza", "Antarctica/Casey", "Australia/Lord_Howe",
                                  "Europe/Amsterdam", "Asia/Kathmandu"])
def test_iso_and_day_are_exact_at_every_offset_change(zone: str) -> None:
    """Some zones changed offset off a UTC quarter hour (St. John's at 00:01 local time,
    -03:30): random instants almost never land in those minutes, so every transition from
    1900 to 2037 is checked, with the instants around it in its quarter hour."""
    cal = Calendar(zone)
    changes = _transitions(cal, 1900, 2037)
    assert changes
    for t in changes:
        q = t - t % QUARTER
        for us in (q, t - 60 * 10**6, t - 1, t, t + 1, t + 60 * 10**6, q + QUARTER - 1,
                   q - 1, q + QUARTER):
            local = from_us(us, cal.tz)
            assert cal.iso(us) == local.isoformat(), (zone, us)
            assert cal.day(us) == local.date().toordinal(), (zone, us)


@pytest.mark.parametrize("per", ["day", "week", "month", "year"])
@settings(max_examples=300)
@given(day=st.integers(min_value=693_596, max_value=1_095_000))  # 1900 .. 2999
def test_period_index_is_consecutive_and_bounded_by_its_first_days(per: str, day: int) -> None:
    cal = CALENDARS["UTC"]
    index = cal.period_index(day, per)
    first = cal.period_first_day(index, per)
    after = cal.period_first_day(index + 1, per)
    assert first <= day < after
    assert cal.period_index(first, per) == index
    assert cal.period_index(first - 1, per) == index - 1
    assert cal.period_index(after, per) == index + 1
    assert cal.period(first, per) == cal.period(day, per)  # the same period as `period`


def test_period_first_days_by_hand() -> None:
    from datetime import date

    cal = CALENDARS["UTC"]
    sunday = date(2026, 3, 29).toordinal()
    week = cal.period_index(sunday, "week")
    assert date.fromordinal(cal.period_first_day(week, "week")) == date(2026, 3, 23)
    assert cal.period_index(sunday + 1, "week") == week + 1  # Monday starts the next week
    month = cal.period_index(date(2026, 12, 31).toordinal(), "month")
    assert date.fromordinal(cal.period_first_day(month + 1, "month")) == date(2027, 1, 1)
    assert date.fromordinal(cal.period_first_day(2026, "year")) == date(2026, 1, 1)
