"""The msgspec fast path of EventDecoder against the pydantic path, on generated events.

The fast path may only accept what the pydantic path accepts, with equal events (values,
types, decimal spelling, attribute order); whatever it declines is decoded by the pydantic
path, so decoding with it must give exactly what decoding without it gives, problems
included. The events are written as JSON text by hand so that the near misses JSON allows
can be generated too: repeated keys, escapes, odd numbers, odd whitespace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from plaudit.application.wire import EventDecoder, Instant
from plaudit.application.wire_fast import _Times
from plaudit.domain.calendar import to_us
from plaudit.domain.events import CONSENT, Event
from plaudit.domain.rulebook import BUILTIN_EVENTS, Attribute, Rulebook
from plaudit.rulebook import load_rulebook

from ..conftest import EXAMPLES

# every attribute shape the wire knows: bounds, defaults (optional attributes, which the
# pydantic path puts first), enums that need escapes, a type without attributes
EDGES = """program: {id: t, name: Test}
events:
  visit: {}
  order:
    attributes:
      amount: {type: decimal, min: -5, max: 1000.5}
      qty: {type: int, min: 1, max: 99}
      big: {type: int, default: 7}
      rate: {type: decimal, default: 0.5}
      colour: {type: enum, values: [red, "grün", "a b", "x\\"y"], default: red}
      gift: {type: bool, default: false}
      ref: {type: id, default: none}
      friend: {type: member}
"""

RULEBOOKS: dict[str, Rulebook] = {
    **{p.stem: load_rulebook(p.read_text(), p.name).with_version(1)
       for p in sorted(EXAMPLES.glob("*.yaml"))},
    "edges": load_rulebook(EDGES, "edges.yaml").with_version(1),
}
DECODERS = {name: (EventDecoder(rb), EventDecoder(rb, fast=False))
            for name, rb in RULEBOOKS.items()}
INSTANT: TypeAdapter[datetime] = TypeAdapter(Instant)
TIMES = _Times()
SCHEMAS = {name: {n: et.attributes for n, et in {**rb.events, **BUILTIN_EVENTS}.items()}
           for name, rb in RULEBOOKS.items()}


# -- JSON written by hand --------------------------------------------------------------

@dataclass(frozen=True)
class Num:
    """A JSON number token exactly as written (``1.50``, ``1e5``, ``-0``)."""

    text: str


@dataclass(frozen=True)
class Obj:
    """A JSON object as its pairs, so a key can be given twice."""

    pairs: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Style:
    ascii_only: bool
    spaced: bool
    escape_plain: bool
    """Write every ``a`` in strings as ``\\u0061`` (same value, a backslash in the text)."""


def write(value: Any, style: Style) -> str:
    if isinstance(value, Obj):
        colon, comma = (": ", ", ") if style.spaced else (":", ",")
        return "{" + comma.join(write(k, style) + colon + write(v, style)
                                for k, v in value.pairs) + "}"
    if isinstance(value, Num):
        return value.text
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=style.ascii_only)
        return text.replace("a", "\\u0061") if style.escape_plain else text
    return json.dumps(value)  # bool, None, int, float, list


# -- values, right and nearly right ----------------------------------------------------

good_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:@-]{0,12}\Z")
ids = st.one_of(
    good_ids, good_ids,
    st.sampled_from(["", "a" * 128, "a" * 129, "é", "a b", "abc\n", ".x", "x\x00", "-1"]),
    st.text(max_size=4), st.integers(0, 9))


@st.composite
def times(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(st.text(max_size=30), st.integers(), st.none(),
                              st.sampled_from(["2025-01-01", "2025-01-01T10:00:00",
                                               "2025-01-01T10:00+08:00",
                                               "٢٠٢٥-01-01T08:02:31Z", "1717200000"])))
    year = draw(st.sampled_from([0, 1, 1899, 1900, 1970, 2025, 2028, 8999, 9000, 9999])
                | st.integers(1, 9999))
    month = draw(st.integers(1, 12) | st.integers(0, 13))
    day = draw(st.integers(1, 28) | st.integers(0, 32))
    hour = draw(st.integers(0, 23) | st.integers(0, 25))
    minute = draw(st.integers(0, 59) | st.integers(0, 61))
    second = draw(st.integers(0, 59) | st.integers(0, 61))
    sep = draw(st.sampled_from("TTTt "))
    fraction = draw(st.sampled_from(["", "", "", ".5", ".123", ".123456", ".1234567",
                                     "."]))
    offset = draw(st.sampled_from(["Z", "z", "+08:00", "-05:30", "+00:00", "-00:00",
                                   "+23:59", "-23:59", "+24:00", "+05:75", "+0800", ""])
                  | st.builds("{}{:02}:{:02}".format, st.sampled_from("+-"),
                              st.integers(0, 24), st.integers(0, 60)))
    return (f"{year:04}-{month:02}-{day:02}{sep}{hour:02}:{minute:02}:{second:02}"
            f"{fraction}{offset}")


def decimal_values(a: Attribute) -> st.SearchStrategy[Any]:
    plain = st.decimals(allow_nan=False, allow_infinity=False, places=2,
                        min_value=-100, max_value=2000)
    return st.one_of(
        plain.map(str), plain.map(str), plain.map(lambda d: Num(str(d))),
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: Num(str(d))
                                                             if d.is_finite() else str(d)),
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-10, 2000), st.integers(),
        st.sampled_from(["1e5", "1E+30", "1e29", " 1.5", "1.5 ", "1_000", "+1", "-0", ".5",
                         "5.", "NaN", "Infinity", "0x10", "١٢", "1.50", "0.5", "1000.5",
                         "1000.50", "1000.51", "-5", "-5.01",
                         "0.1000000000000000000000000000001",
                         "1234567890123456789012345678", "12345678901234567890123456789",
                         "123456789012345678901234567890",
                         "1234567890123456789012345678901"]),
        st.sampled_from(["1e5", "1E+2", "-0", "-0.0", "1.0", "18446744073709551615",
                         "18446744073709551616", "-9223372036854775808",
                         "-9223372036854775809", "1e-7", "1e22", "0.1"]).map(Num),
        st.booleans(), st.none())


def values(a: Attribute) -> st.SearchStrategy[Any]:
    if a.type == "int":
        low = int(a.min) if a.min is not None else -(2**70)
        high = int(a.max) if a.max is not None else 2**70
        return st.one_of(
            st.integers(low - 2, high + 2) if high - low < 10**6 else st.integers(),
            st.integers(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
            st.sampled_from(["1", "1.0", "1e2", "-0", "9223372036854775807",
                             "9223372036854775808", "18446744073709551615",
                             "18446744073709551616", "123456789012345678901234567890",
                             "-9223372036854775809"]).map(Num),
            st.sampled_from(["1", 1.0, None]))
    if a.type == "decimal":
        return decimal_values(a)
    if a.type == "bool":
        return st.one_of(st.booleans(), st.booleans(), st.sampled_from([0, 1, "true", None]))
    if a.type == "enum":
        return st.one_of(st.sampled_from(a.values), st.sampled_from(a.values),
                         st.text(max_size=4), st.integers(0, 2))
    return ids


@st.composite
def raw_event(draw: st.DrawFn, schemas: dict[str, Any], valid: bool) -> Obj:
    """An event as JSON pairs. ``valid``: every value of the right type and the shape
    intact (still refused when a value breaks a bound or names a bad date). Otherwise a
    near miss: at most one value drawn from the wrong ones, and a few changes of shape."""
    name = draw(st.sampled_from(sorted(schemas)))
    attrs: dict[str, Attribute] = schemas[name]
    wrong = -1 if valid else draw(st.integers(-1, len(attrs) + 3))
    pairs: list[tuple[str, Any]] = []
    for i, a in enumerate(attrs.values()):
        if a.required or draw(st.booleans()):
            pairs.append((a.name, draw(values(a) if i == wrong else right_values(a))))
    if not valid and pairs and draw(st.integers(0, 4)) == 0:
        pairs = draw(st.permutations(pairs))
    n = len(attrs)
    top: list[tuple[str, Any]] = [
        ("id", draw(ids if wrong == n else good_ids)),
        ("member", draw(ids if wrong == n + 1 else good_ids)),
        ("type", name),
        ("at", draw(times() if wrong == n + 2 else right_times())),
    ]
    if attrs or draw(st.booleans()):
        top.append(("attributes", Obj(tuple(pairs))))
    if not valid:
        top = draw(st.permutations(top)) if draw(st.booleans()) else top
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
            mutate(draw, top, name, schemas)
    return Obj(tuple(top))


def mutate(draw: st.DrawFn, top: list[tuple[str, Any]], name: str,
           schemas: dict[str, Any]) -> None:
    kind = draw(st.sampled_from(["drop", "extra", "repeat", "repeat_same", "type",
                                 "attr_drop", "attr_extra", "attr_repeat", "attributes"]))
    if kind == "drop":
        del top[draw(st.integers(0, len(top) - 1))]
    elif kind == "extra":
        top.append((draw(st.sampled_from(["extra", "ID", "Type"])), 1))
    elif kind in ("repeat", "repeat_same"):
        key, value = top[draw(st.integers(0, len(top) - 1))]
        top.append((key, value if kind == "repeat_same" else draw(ids)))
    elif kind == "type":
        i = next((i for i, (k, _) in enumerate(top) if k == "type"), None)
        if i is not None:
            top[i] = ("type", draw(st.sampled_from(["nope", "plaudit.x", "", 1, None,
                                                    *sorted(schemas)])))
    elif kind == "attributes":
        i = next((i for i, (k, _) in enumerate(top) if k == "attributes"), None)
        if i is not None:
            top[i] = ("attributes", draw(st.sampled_from([None, [], "x", Obj(())])))
    else:
        i = next((i for i, (k, _) in enumerate(top) if k == "attributes"), None)
        if i is None or not isinstance(top[i][1], Obj):
            return
        inner = list(top[i][1].pairs)
        if kind == "attr_drop" and inner:
            del inner[draw(st.integers(0, len(inner) - 1))]
        elif kind == "attr_extra":
            inner.append((draw(st.sampled_from(["extra", "Amount", "granted"])), True))
        elif kind == "attr_repeat" and inner:
            key, value = inner[draw(st.integers(0, len(inner) - 1))]
            inner.append((key, value if draw(st.booleans()) else "other"))
        top[i] = ("attributes", Obj(tuple(inner)))


def right_values(a: Attribute) -> st.SearchStrategy[Any]:
    """Values the pydantic path accepts for ``a``, written the usual ways."""
    if a.type == "int":
        low = max(int(a.min) if a.min is not None else -(10**12), -(10**12))
        high = min(int(a.max) if a.max is not None else 10**12, 10**12)
        return st.integers(low, high)
    if a.type == "decimal":
        low = a.min if a.min is not None else -(10**9)
        high = a.max if a.max is not None else 10**9
        plain = st.decimals(min_value=low, max_value=high, places=2)
        return st.one_of(plain.map(str), plain.map(lambda d: Num(str(d))),
                         st.integers(int(low) + 1, int(high) - 1))
    if a.type == "bool":
        return st.booleans()
    if a.type == "enum":
        return st.sampled_from(a.values)
    return good_ids


def right_times() -> st.SearchStrategy[str]:
    """Times in range, of the shape the fast path caches or with a fraction."""
    return st.builds(
        "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}{}".format,
        st.integers(1901, 8998), st.integers(1, 12), st.integers(1, 28),
        st.sampled_from("Tt"), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59),
        st.sampled_from(["Z", "z", "+08:00", "-05:30", "+00:00", "-23:59", ".5Z",
                         ".123456+01:00"]))


styles = st.builds(Style, st.booleans(), st.booleans(), st.integers(0, 9).map(lambda i: i == 0))


@st.composite
def batches(draw: st.DrawFn, valid: bool = False) -> tuple[str, list[bytes]]:
    name = draw(st.sampled_from(sorted(RULEBOOKS)))
    schemas = SCHEMAS[name]
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        style = draw(styles) if not valid else Style(False, draw(st.booleans()), False)
        if not valid and draw(st.integers(0, 14)) == 0:
            text = draw(st.sampled_from(["[]", "1", "null", "{", "{}", '"x"', " {}",
                                         '{"id": 1}', "[{}]", "{} {}", "{},{}"]))
        else:
            text = write(draw(raw_event(schemas, valid)), style)
        if not valid and draw(st.integers(0, 9)) == 0:
            text = draw(st.sampled_from([" ", "\t", "\r"])) + text
        end = draw(st.sampled_from(["\n", "\n", "\r\n", ""])) if not valid else "\n"
        lines.append(text.encode() + end.encode())
    return name, lines


# -- what must agree -------------------------------------------------------------------

def exact(events: list[Event]) -> list[Any]:
    """Events as plain data that tells apart what == does not: the type of every
    attribute value, its spelling (``Decimal('5')`` vs ``Decimal('5.0')``) and order."""
    return [(type(e), e.id, e.member, e.type, type(e.at_us), e.at_us, e.at,
             type(e.attributes), [(k, type(v), repr(v)) for k, v in e.attributes.items()])
            for e in events]


def agree_on_lines(name: str, lines: list[bytes]) -> tuple[list[Event], list[Any]]:
    fast, slow = DECODERS[name]
    numbers = list(range(1, len(lines) + 1))
    events, problems = fast.decode_lines(lines, numbers)
    want_events, want_problems = slow.decode_lines(lines, numbers)
    assert exact(events) == exact(want_events)
    assert problems == want_problems
    accepted = fast._fast.decode_lines(lines) if fast._fast is not None else None
    if accepted is not None:  # the fast path accepts only what pydantic accepts
        assert not want_problems
        assert exact(accepted) == exact(want_events)
    return events, problems


SETTINGS = settings(max_examples=250, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(batches())
def test_lines_decode_as_the_pydantic_path_decodes_them(case: tuple[str, list[bytes]]) -> None:
    agree_on_lines(*case)


@SETTINGS
@given(batches(valid=True))
def test_ordinary_lines_take_the_fast_path(case: tuple[str, list[bytes]]) -> None:
    """Values of the right type, written plainly: the fast path takes them (when the
    pydantic path does), so the agreement above is not all declines."""
    name, lines = case
    _, problems = agree_on_lines(name, lines)
    fast = DECODERS[name][0]._fast
    assert fast is not None
    if not problems and b"\\" not in b"".join(lines):  # an escaped `"` in an enum value
        assert fast.decode_lines(lines) is not None


def parsed(lines: list[bytes]) -> list[Any]:
    """Each line as the HTTP endpoint hands items on: parsed by orjson (it refuses a
    body with repeated keys before decoding, and a dict cannot hold them anyway)."""
    items = []
    for line in lines:
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            items.append(line.decode(errors="replace"))
    return items


@SETTINGS
@given(batches() | batches(valid=True))
def test_items_decode_as_the_pydantic_path_decodes_them(case: tuple[str, list[bytes]]
                                                        ) -> None:
    name, lines = case
    items = parsed(lines)
    fast, slow = DECODERS[name]
    events, problems = fast.decode_items(items)
    want_events, want_problems = slow.decode_items(items)
    assert exact(events) == exact(want_events)
    assert problems == want_problems
    assert fast._fast is not None
    accepted = fast._fast.decode_items(items)
    if accepted is not None:
        assert not want_problems
        assert exact(accepted) == exact(want_events)


@SETTINGS
@given(batches(valid=True))
def test_ordinary_items_take_the_fast_path(case: tuple[str, list[bytes]]) -> None:
    name, lines = case
    items = parsed(lines)
    fast, slow = DECODERS[name]
    _, want_problems = slow.decode_items(items)
    assert fast._fast is not None
    if not want_problems:
        assert fast._fast.decode_items(items) is not None


@settings(max_examples=2000, deadline=None)
@given(times())
def test_times_are_what_the_pydantic_path_makes_of_them(text: Any) -> None:
    """Asked twice: once learning the parts of the time, once from the caches."""
    if not isinstance(text, str):
        return
    try:
        want: int | None = to_us(INSTANT.validate_python(text))
    except ValidationError:
        want = None
    for _ in range(2):
        got = TIMES.us(text)
        assert got is None or got == want
        if want is not None and "." not in text:
            assert got == want


@settings(max_examples=1500, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**65), 2**65)
       | st.from_regex(r"\A-?[0-9]{1,16}(\.[0-9]{1,16})?\Z")
       | st.decimals(allow_nan=False, allow_infinity=False).map(str))
def test_decimals_as_pydantic_reads_them(value: float | int | str) -> None:
    """A decimal as text, or as a JSON number (a float or an int, as orjson hands them
    on): the same canonical Decimal, spelling included, or declined."""
    item = {"id": "e", "member": "m", "type": "order", "at": "2026-01-01T00:00:00Z",
            "attributes": {"qty": 1, "friend": "f", "amount": value}}
    fast, slow = DECODERS["edges"]
    assert fast._fast is not None
    want_events, want_problems = slow.decode_items([item])
    accepted = fast._fast.decode_items([item])
    if accepted is not None:
        assert not want_problems
        assert exact(accepted) == exact(want_events)
    elif not want_problems and ((isinstance(value, int) and abs(value) < 10**18) or (
            isinstance(value, str) and "E" not in value
            and sum(c.isdigit() for c in value) <= 28)):  # more could round: declined
        pytest.fail(f"the fast path declined {value!r}")


def test_a_consent_to_an_unknown_partner_is_explained_by_the_pydantic_path() -> None:
    """The fast path declines it; the problem is the one the pydantic path gives."""
    line = (b'{"id":"c1","member":"m1","type":"%s","at":"2026-01-01T00:00:00Z",'
            b'"attributes":{"partner":"nobody","granted":true}}\n' % CONSENT.encode())
    ok = line.replace(b"nobody", b"city-rentals")
    events, problems = DECODERS["sesame-style"][0].decode_lines([ok, line], [1, 2])
    assert [str(p) for p in problems] == [
        "line 2: attributes.partner: no perk of the rulebook lists partner `nobody` "
        "(partners: city-rentals, partner-hotels)"]
    assert [e.id for e in events] == ["c1", "c1"]  # as the pydantic path returns them
    revoke = line.replace(b"true", b"false")
    assert DECODERS["sesame-style"][0].decode_lines([revoke], [1])[1] == []


def test_a_repeated_key_is_refused_with_its_path() -> None:
    line = (b'{"id":"e1","member":"m1","type":"visit","at":"2026-01-01T00:00:00Z",'
            b'"member":"m2"}\n')
    fast = DECODERS["edges"][0]
    assert fast._fast is not None and fast._fast.decode_lines([line]) is None
    assert [str(p) for p in fast.decode_lines([line], [7])[1]] == [
        "line 7: member: this key appears more than once in the JSON object"]


def test_optional_attributes_come_first_with_their_defaults() -> None:
    """The pydantic path merges the defaults in before the given values; so does the
    fast one, and a decimal is canonical (``1000.50`` -> ``1000.5``)."""
    line = (b'{"id":"e1","member":"m1","type":"order","at":"2026-01-01t08:00:00z",'
            b'"attributes":{"friend":"f1","amount":"1000.50","qty":3,"gift":true}}\n')
    fast = DECODERS["edges"][0]
    assert fast._fast is not None
    events = fast._fast.decode_lines([line])
    assert events is not None
    assert list(events[0].attributes.items()) == [
        ("big", 7), ("rate", RULEBOOKS["edges"].events["order"].attributes["rate"].default),
        ("colour", "red"), ("gift", True), ("ref", "none"), ("amount", events[0].attributes[
            "amount"]), ("qty", 3), ("friend", "f1")]
    assert repr(events[0].attributes["amount"]) == "Decimal('1000.5')"
    assert events[0].at_us == to_us(datetime.fromisoformat("2026-01-01T08:00:00+00:00"))
    assert exact(events) == exact(DECODERS["edges"][1].decode_lines([line], [1])[0])
