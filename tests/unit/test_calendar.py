"""Program time: the fast local-time formatting must equal zoneinfo's, byte for byte."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from plaudit.domain.calendar import Calendar, from_us

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
