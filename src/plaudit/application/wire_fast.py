"""The fast path of :class:`plaudit.application.wire.EventDecoder`: msgspec instead of pydantic.

Bulk ingest spends most of its decode time in pydantic's per-event validation and in
building times in Python (docs/benchmarks.md). This module decodes a whole batch with one
``msgspec`` call into generated ``Struct`` types (one per event type, tagged by ``type``,
unknown fields forbidden, ints, bools and enums checked in C) and does the rest in bulk:
every id and member is matched with one regular expression over the batch, times are
added up from cached parts, decimal texts are canonicalised once per distinct text.

It only ever **accepts** or **declines** a batch, never explains: a batch it declines is
decoded again by the pydantic path, which stays the one authority on what is refused and
why (so error messages do not change). It therefore only has to be a *subset* of the
pydantic path: everything it accepts, pydantic accepts with equal events (same values,
same types, same key order), and anything unusual — an escape in a string, a decimal in
exponent form or with more than 28 digits, an int beyond 64 bits, a line that starts with
a space — is simply declined (a time with a fraction is accepted, but parsed whole).
tests/unit/test_wire_fast.py checks that subset property on generated events.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from itertools import repeat
from typing import Annotated, Any, Literal, Union

import msgspec

from plaudit.application.wire import _instant
from plaudit.domain.calendar import EARLIEST, LATEST, to_us
from plaudit.domain.events import CONSENT, Event
from plaudit.domain.rulebook import Attribute

_UNSET: Any = msgspec.UNSET
_ID_PART = r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}"
# every value of a batch joined by "\n" (which the class excludes): one C-level match
_IDS = re.compile(rf"(?:{_ID_PART}\n)*{_ID_PART}")
# RFC 3339 as wire.py's pattern has it, but with ASCII digits only (pydantic-core's `\d`
# is Unicode; such digits fail datetime.fromisoformat anyway, here they are declined)
_RFC3339_ASCII = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
                            r"(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})")
# the common shape, whose parts are cached: the date with its `T`, the time of day, the offset
_AT_PARTS = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt])([0-9]{2}:[0-9]{2}:)([0-9]{2})"
                       r"([Zz]|[+-][0-9]{2}:[0-9]{2})")
# a decimal as plain digits: Decimal(text) is exact and pydantic's digit count is at most
# the number of digits written, so at most 28 of them (the default context's precision,
# past which pydantic's normalize() would round) can neither round nor exceed 30 digits
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_MAX_PLAIN_DIGITS = 28
_INT64 = (-(2**63), 2**63 - 1)
# orjson keeps a JSON integer an int only in this range (beyond it, a float): the
# pydantic path then sees a float, so a decimal written as such an integer is declined
_ORJSON_INT = (-(2**63), 2**64 - 1)
_EARLIEST_US = to_us(EARLIEST)
_LATEST_US = to_us(LATEST)
_CACHE_LIMIT = 100_000
_US_PER_DAY = 86_400_000_000
_new_tuple = tuple.__new__
_CHUNK = 1_000


def _instant_us(text: str) -> int:
    """What wire.py's ``Instant`` makes of ``text``, in microseconds (ValueError if bad)."""
    return to_us(_instant(text))


def _naive_us(text: str) -> int:
    """``text`` (a complete RFC 3339 time) parsed as wire.py parses it, but without the
    range check: it is built around one part of an event time, not an event time."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = datetime.fromisoformat(text.upper())
    return to_us(at)


class _Times:
    """Event times to microseconds, exactly as ``to_us(_instant(text))`` computes them.

    A time is local date + time of day - offset; datetime checks each part on its own
    (a valid date, hours below 24 and minutes and seconds below 60, an offset below a
    day), so each distinct part is parsed once, by the same ``datetime.fromisoformat``,
    and the sum is checked against the supported range. Only the shape
    ``YYYY-MM-DDTHH:MM:SS`` + ``Z`` or ``±HH:MM`` is cached, in four small dicts (date
    with its ``T``, ``HH:MM:``, seconds, offset: four lookups in dicts that stay in the
    processor's cache beat one in a dict of every second of the day); any other RFC 3339
    text (a fraction of a second) is parsed whole. The date and offset caches are bounded
    (the other two cannot grow past 24 * 60 and 60 entries).
    """

    def __init__(self) -> None:
        self.days: dict[str, int] = {}
        self.minutes: dict[str, int] = {}
        self.seconds = {f"{s:02}": _naive_us(f"1970-01-01T00:00:{s:02}+00:00")
                        for s in range(60)}
        self.offsets: dict[str, int] = {}

    def us(self, at: str) -> int | None:
        """``at`` in microseconds, or None where the pydantic path could refuse it."""
        try:
            us = self.days[at[:11]] + self.minutes[at[11:17]] + self.seconds[at[17:19]] \
                + self.offsets[at[19:]]
        except KeyError:
            return self._learn(at)
        return us if _EARLIEST_US <= us < _LATEST_US else None

    def _learn(self, at: str) -> int | None:
        parts = _AT_PARTS.fullmatch(at)
        try:
            if parts is None:
                return _instant_us(at) if _RFC3339_ASCII.fullmatch(at) else None
            day, minute, second, offset = parts.groups()
            days = _naive_us(f"{day}00:00:00+00:00")
            minutes = _naive_us(f"1970-01-01T{minute}00+00:00")
            seconds = self.seconds[second]  # KeyError: 60 and up, refused
            offsets = _naive_us(f"1970-01-02T00:00:00{offset}") - _US_PER_DAY
        except (ValueError, KeyError):
            return None
        _remember(self.days, day, days)
        self.minutes[minute] = minutes  # at most 24 * 60 of them
        _remember(self.offsets, offset, offsets)
        us = days + minutes + seconds + offsets
        return us if _EARLIEST_US <= us < _LATEST_US else None


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


class _DecimalAttribute:
    """One decimal attribute: its bounds and the canonical value of each text seen."""

    __slots__ = ("cache", "high", "low", "name")

    def __init__(self, a: Attribute) -> None:
        self.name = a.name
        self.low = a.min
        self.high = a.max
        self.cache: dict[str, Decimal] = {}

    def text(self, text: str) -> Decimal | None:
        value = self.cache.get(text)
        if value is None:
            value = self._convert(text)
            if value is not None:
                _remember(self.cache, text, value)
        return value

    def number(self, value: object) -> Decimal | None:
        """A JSON number: an int as orjson keeps it, or a float written plainly."""
        if type(value) is int:
            if not _ORJSON_INT[0] <= value <= _ORJSON_INT[1]:
                return None
            return self._convert(str(value))
        if type(value) is float:  # pydantic takes a float by its shortest repr
            return self._convert(repr(value))
        return None

    def _convert(self, text: str) -> Decimal | None:
        if not _PLAIN_DECIMAL.fullmatch(text):
            return None
        point = "." in text
        if len(text) - text.startswith("-") - point > _MAX_PLAIN_DIGITS:
            return None
        # canonical_decimal's value (trailing zeros of the fraction dropped) by cutting
        # the text, without normalize() and format(): the same Decimal, spelling included
        value = Decimal(text.rstrip("0").rstrip(".") if point else text)
        if (self.low is not None and value < self.low) or \
                (self.high is not None and value > self.high):
            return None
        return value


def _int_type(a: Attribute) -> Any:
    low = _INT64[0] if a.min is None else max(_INT64[0], math.ceil(a.min))
    high = _INT64[1] if a.max is None else min(_INT64[1], math.floor(a.max))
    return Annotated[int, msgspec.Meta(ge=low, le=high)]


def _attribute_type(a: Attribute) -> Any:
    if a.type == "int":
        return _int_type(a)
    if a.type == "decimal":
        return Union[int, float, str]  # noqa: UP007 - a run-time type for msgspec
    if a.type == "bool":
        return bool
    if a.type == "enum":
        return Literal[a.values]
    return str  # id and member: matched in bulk


class _Plan:
    """What the loop does with one event type after msgspec decoded it."""

    __slots__ = ("consent", "decimals", "ids", "name", "no_attributes", "optional",
                 "quotes")

    def __init__(self, name: str, attributes: Mapping[str, Attribute]) -> None:
        self.name = name
        self.no_attributes = not attributes
        self.consent = name == CONSENT
        self.decimals = tuple((a.name, d.cache, d) for a in attributes.values()
                              if a.type == "decimal" and (d := _DecimalAttribute(a)))
        # the required id and member attributes (an optional one is checked when given)
        self.ids = tuple(a.name for a in attributes.values()
                         if a.type in ("id", "member") and a.required)
        # (name, default, quotes the key and its value would have had, is an id)
        self.optional = tuple((a.name, a.default,
                               4 if a.type in ("enum", "id", "member") else 2,
                               a.type in ("id", "member"))
                              for a in attributes.values() if not a.required)
        # quotes of the event written with every attribute, decimals as numbers: the
        # keys id, member, type, at (and attributes) and their four string values
        quotes = 2 * 9
        for a in attributes.values():
            quotes += 4 if a.type in ("enum", "id", "member") else 2
        self.quotes = quotes


def _structs(schemas: Mapping[str, Any]) -> tuple[list[type], dict[type, _Plan]]:
    classes: list[type] = []
    plans: dict[type, _Plan] = {}
    for name, et in schemas.items():
        attrs: Mapping[str, Attribute] = et.attributes
        # pydantic's order: optional attributes first (wire.py merges its defaults in
        # before the given values), then the required ones, each as declared
        ordered = [a for a in attrs.values() if not a.required] + \
                  [a for a in attrs.values() if a.required]
        fields: list[Any] = [(a.name, _attribute_type(a)) if a.required
                             else (a.name, _attribute_type(a), _UNSET) for a in ordered]
        attributes = msgspec.defstruct(f"{name}_attributes", fields, kw_only=True,
                                       forbid_unknown_fields=True)
        if list(attributes.__struct_fields__) != [a.name for a in ordered]:
            raise ValueError(f"attribute names of {name} do not map to struct fields")
        event = msgspec.defstruct(
            f"{name}_event",
            [("id", str), ("member", str), ("at", str),
             ("attributes", attributes) if attrs else ("attributes", attributes, _UNSET)],
            tag_field="type", tag=name, forbid_unknown_fields=True)
        classes.append(event)
        plans[event] = _Plan(name, attrs)
    return classes, plans


class FastDecoder:
    """Decodes a batch of events that pydantic would accept, or declines it (``None``)."""

    def __init__(self, schemas: Mapping[str, Any], partners: Iterable[str]) -> None:
        classes, self._plans = _structs(schemas)
        union: Any = Union[tuple(classes)]  # noqa: UP007 - a run-time type for msgspec
        self._type: Any = list[union]
        self._json = msgspec.json.Decoder(self._type)
        self._partners = frozenset(partners)
        self._times = _Times()

    def decode_lines(self, lines: list[bytes]) -> list[Event] | None:
        """JSON lines, as ``EventDecoder.decode_lines`` reads them, or None to decline.

        Decoded ``_CHUNK`` lines at a time: a chunk's structs are turned into events while
        they are still in the processor's cache (a 50,000-line batch in one piece is
        measurably slower). Any chunk declined declines the batch.
        """
        events: list[Event] = []
        for start in range(0, len(lines), _CHUNK):
            chunk = self._decode_chunk(lines[start:start + _CHUNK])
            if chunk is None:
                return None
            events.extend(chunk)
        return events

    def _decode_chunk(self, lines: list[bytes]) -> list[Event] | None:
        """The lines are decoded as one JSON array (one call instead of one per line).
        That is the same as decoding each line only when every separator lies between two
        lines' values: none can fall inside a string (the ``\\n`` put after it is not
        allowed in one), nor inside an object (each line starts with ``{``, not a key),
        nor inside an inner array (no event has one, so the decode would fail). Then as
        many values as lines means one value a line.
        """
        # without a backslash every quote delimits a string: counting them finds a key
        # msgspec dropped because it was repeated (it keeps the last, like orjson)
        try:
            raw = b"[" + b",\n".join(lines) + b"]"
            if b"\\" in raw or not all(map(bytes.startswith, lines, repeat(b"{"))):
                return None
        except TypeError:  # not bytes: the pydantic path says what it makes of them
            return None
        try:
            structs = self._json.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        if len(structs) != len(lines):
            return None
        return self._events(structs, raw.count(b'"'))

    def decode_items(self, items: list[Any]) -> list[Event] | None:
        """Parsed JSON values, as ``EventDecoder.decode_items`` takes them, or None."""
        try:
            structs = msgspec.convert(items, self._type)
        except (msgspec.ValidationError, TypeError, ValueError):
            return None
        return self._events(structs, None)

    def _events(self, structs: list[Any], quotes: int | None) -> list[Event] | None:
        """Events from decoded structs, or None; ``quotes`` is the number of ``"`` in the
        JSON text they came from, which must be exactly what the structs account for."""
        plans = self._plans
        times = self._times
        days, minutes, seconds, offsets = times.days, times.minutes, times.seconds, \
            times.offsets
        asdict = msgspec.structs.asdict
        ids: list[str] = []
        events: list[Event] = []
        counted = 0
        for s in structs:
            plan = plans[s.__class__]
            counted += plan.quotes
            ids.append(s.id)
            ids.append(s.member)
            if plan.no_attributes:
                attrs: dict[str, Any] = {}
                if s.attributes is _UNSET:
                    counted -= 2
            else:
                attrs = asdict(s.attributes)
                # each loop behind a test: an empty loop costs more than the test
                if plan.ids:
                    for name in plan.ids:
                        ids.append(attrs[name])
                if plan.decimals:
                    for name, cache, d in plan.decimals:
                        value = attrs[name]
                        if type(value) is str:
                            converted = cache.get(value)
                            if converted is None:
                                converted = d.text(value)
                            counted += 2
                        elif value is _UNSET:
                            continue
                        else:
                            converted = d.number(value)
                        if converted is None:
                            return None
                        attrs[name] = converted
                if plan.optional:
                    for name, default, key_quotes, is_id in plan.optional:
                        value = attrs[name]
                        if value is _UNSET:
                            attrs[name] = default
                            counted -= key_quotes
                        elif is_id:
                            ids.append(value)
                if plan.consent and attrs["granted"] and attrs["partner"] not in self._partners:
                    return None
            at = s.at
            try:
                us = days[at[:11]] + minutes[at[11:17]] + seconds[at[17:19]] + offsets[at[19:]]
            except KeyError:
                learnt = times.us(at)
                if learnt is None:
                    return None
                us = learnt
            if not _EARLIEST_US <= us < _LATEST_US:
                return None
            # what Event(...) does, without its Python-level __new__
            events.append(_new_tuple(Event, (s.id, s.member, plan.name, us, at, attrs)))
        if quotes is not None and quotes != counted:
            return None
        if ids:
            joined = "\n".join(ids)
            if not _IDS.fullmatch(joined) or joined.count("\n") != len(ids) - 1:
                return None
        return events


__all__ = ["FastDecoder"]
