"""Events on the wire: validated against the rulebook's event schema with pydantic.

The validator is generated from the compiled rulebook — one strict TypedDict per event type,
discriminated by ``type`` — so validation runs in pydantic-core (~3 µs an event) and every
error comes back with the item, the field path and the reason. A whole batch is validated in
one call; the per-item errors carry the item's index.

The same module turns stored rows back into domain events (trusted, so no re-validation) and
defines the canonical body used to decide whether a re-sent event id is the same event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import orjson
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    GetPydanticSchema,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import core_schema
from typing_extensions import TypedDict

from plaudit.domain.calendar import in_range, to_us
from plaudit.domain.errors import Problem
from plaudit.domain.events import CONSENT, Event
from plaudit.domain.rulebook import BUILTIN_EVENTS, Attribute, Rulebook

if TYPE_CHECKING:
    from plaudit.application.wire_fast import FastDecoder

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
MAX_DECIMAL_DIGITS = 30

_RFC3339 = r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)$"
RFC3339_TEXT = "must be an RFC 3339 time with an offset, like 2026-06-01T10:00:00+08:00"


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:  # lower-case `t` and `z` are RFC 3339 too, fromisoformat wants them
        at = datetime.fromisoformat(text.upper())
    return in_range(at)


# Only RFC 3339 text is a time: pydantic's own datetime parsing also takes a number
# (1717200000, or "0.5" in a query) as Unix seconds, a date alone, a `+0800` offset or a
# time without seconds, so a time that was not meant could be stored as one. The text is
# matched in pydantic-core (any failure, a number included, becomes the one message
# above), then parsed by datetime.fromisoformat in the one Python call the range check
# needed anyway: no dearer than pydantic's parse it replaces (~1.2 µs a value either way).
_INSTANT_SCHEMA = core_schema.no_info_after_validator_function(
    _instant, core_schema.custom_error_schema(core_schema.str_schema(pattern=_RFC3339),
                                              "rfc3339", custom_error_message=RFC3339_TEXT))

Instant = Annotated[datetime, GetPydanticSchema(lambda _type, _handler: _INSTANT_SCHEMA),
                    WithJsonSchema({"type": "string", "format": "date-time"})]
"""An instant on the wire: RFC 3339 text with an offset, from 1900 up to 9000."""
_STRICT = ConfigDict(extra="forbid")


def _attribute_annotation(a: Attribute) -> Any:
    if a.type == "int":
        return Annotated[int, Field(ge=a.min, le=a.max, strict=True)]
    if a.type == "decimal":
        return Annotated[Decimal, Field(ge=a.min, le=a.max, allow_inf_nan=False,
                                        max_digits=MAX_DECIMAL_DIGITS),
                         AfterValidator(canonical_decimal)]
    if a.type == "bool":
        return StrictBool
    if a.type == "enum":
        return Literal[a.values]
    return Identifier


def _event_model(name: str, attributes: Mapping[str, Attribute]) -> Any:
    from typing import NotRequired

    fields: dict[str, Any] = {}
    for attr in attributes.values():
        ann = _attribute_annotation(attr)
        fields[attr.name] = ann if attr.required else NotRequired[ann]
    # TypedDicts built at run time from the rulebook: mypy cannot see their fields.
    make: Any = TypedDict
    attrs_td = make(f"{name}_attributes", fields)
    attrs_td.__pydantic_config__ = _STRICT
    event_td = make(f"{name}_event", {
        "id": Identifier,
        "member": Identifier,
        "type": Literal[name],
        "at": Instant,
        "attributes": attrs_td if attributes else NotRequired[attrs_td],
    })
    event_td.__pydantic_config__ = _STRICT
    return event_td


class EventDecoder:
    """Validates wire events for one rulebook and builds domain :class:`Event` values.

    A batch is first tried on the msgspec fast path (:mod:`plaudit.application.wire_fast`),
    which accepts only what this pydantic path accepts, with equal events; a batch it
    declines (a bad item, or only an unusual one) is validated here, so every refusal and
    its wording come from pydantic. ``fast=False`` skips the fast path (tests, benchmarks).
    """

    def __init__(self, rulebook: Rulebook, *, fast: bool = True) -> None:
        self.rulebook = rulebook
        schemas = {**rulebook.events, **BUILTIN_EVENTS}
        models = [_event_model(name, et.attributes) for name, et in schemas.items()]
        union: Any = Union[tuple(models)] if len(models) > 1 else models[0]  # noqa: UP007
        tagged: Any = Annotated[union, Field(discriminator="type")]
        self._one: TypeAdapter[Any] = TypeAdapter(tagged)
        self._many: TypeAdapter[Any] = TypeAdapter(list[tagged])
        self._defaults = {
            name: {a.name: a.default for a in et.attributes.values() if not a.required}
            for name, et in schemas.items()
        }
        self._types = list(schemas)
        self._partners = frozenset(rulebook.partners)
        self._fast: FastDecoder | None = None
        if fast:
            from plaudit.application.wire_fast import FastDecoder  # it imports this module

            try:
                self._fast = FastDecoder(schemas, rulebook.partners)
            except (TypeError, ValueError):  # a schema msgspec cannot express: no fast path
                self._fast = None

    def _to_event(self, raw: Mapping[str, Any], original_at: str | None = None) -> Event:
        attrs = raw.get("attributes") or {}
        defaults = self._defaults[raw["type"]]
        if defaults and len(attrs) < len(defaults) + len(attrs):
            attrs = {**defaults, **attrs}
        at = raw["at"]
        return Event(raw["id"], raw["member"], raw["type"], to_us(at),
                     original_at if original_at is not None else at.isoformat(), attrs)

    def decode_lines(self, lines: list[bytes], numbers: list[int]
                     ) -> tuple[list[Event], list[Problem]]:
        """Decode JSON lines (``numbers`` are their line numbers in the file)."""
        if self._fast is not None and len(lines) == len(numbers):
            fast = self._fast.decode_lines(lines)
            if fast is not None:
                return fast, []
        items: list[Any] = []
        problems: list[Problem] = []
        for line, number in zip(lines, numbers, strict=True):
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError as e:
                problems.append(Problem(f"line {number}", "", f"not valid JSON: {e}"))
                items.append(None)
        # one check for the whole batch (a list adds no quotes), line by line only if it
        # finds something
        parsed = [(line, it) for line, it in zip(lines, items, strict=True) if it is not None]
        if not surely_unrepeated(b"".join(line for line, _ in parsed),
                                 [it for _, it in parsed]):
            for i, (line, number) in enumerate(zip(lines, numbers, strict=True)):
                if items[i] is not None and (paths := repeated_keys(line, items[i])):
                    problems.extend(Problem(f"line {number}", json_path(path), REPEATED_KEY)
                                    for path in paths)
                    items[i] = None
        events, more = self.decode_items(items, label="line", numbers=numbers,
                                         skip={i for i, it in enumerate(items) if it is None})
        problems.extend(more)
        problems.sort(key=lambda p: int(p.where.split()[-1]))
        return events, problems

    def decode_items(self, items: list[Any], *, label: str = "item",
                     numbers: list[int] | None = None, skip: Iterable[int] = ()
                     ) -> tuple[list[Event], list[Problem]]:
        """Validate already-parsed JSON values; one problem per bad field.

        Items are named ``{label} {number}``; numbers default to 0-based positions.
        """
        if self._fast is not None and not skip and \
                (numbers is None or len(numbers) == len(items)):
            fast = self._fast.decode_items(items)
            if fast is not None:
                return fast, []
        skipped = set(skip)
        problems: list[Problem] = []
        candidates = [it for i, it in enumerate(items) if i not in skipped]
        positions = numbers if numbers is not None else list(range(len(items)))
        index_of = [positions[i] for i in range(len(items)) if i not in skipped]
        try:
            valid = self._many.validate_python(candidates)
            bad: set[int] = set()
        except ValidationError as e:
            bad = set()
            for err in e.errors(include_url=False):
                pos = err["loc"][0]
                assert isinstance(pos, int)
                bad.add(pos)
                problems.append(self._problem(label, index_of[pos], candidates[pos], err))
            valid = []
            for pos, it in enumerate(candidates):
                if pos not in bad:
                    valid.append(self._one.validate_python(it))
        kept = [pos for pos in range(len(candidates)) if pos not in bad]
        originals = [it.get("at") if isinstance(it := candidates[pos], dict) else None
                     for pos in kept]
        events = [self._to_event(raw, at if isinstance(at, str) else None)
                  for raw, at in zip(valid, originals, strict=True)]
        for pos, event in zip(kept, events, strict=True):
            if event.type == CONSENT and event.attributes["granted"] \
                    and event.attributes["partner"] not in self._partners:
                problems.append(unknown_partner(f"{label} {index_of[pos]}",
                                                "attributes.partner",
                                                event.attributes["partner"], self.rulebook))
        problems.sort(key=lambda p: int(p.where.split()[-1]))
        return events, problems

    def _problem(self, label: str, index: int, item: Any, err: Any) -> Problem:
        loc = [p for p in err["loc"][1:]]
        # drop the discriminator tag pydantic inserts after the list index
        if loc and isinstance(item, dict) and loc[0] == item.get("type"):
            loc = loc[1:]
        field = ".".join(str(p) for p in loc)
        reason = err["msg"]
        if err["type"] == "union_tag_invalid":
            field = "type"
            got = item.get("type") if isinstance(item, dict) else None
            from plaudit.domain.expressions import closest

            hint = closest(str(got), self._types) if got is not None else None
            reason = f"unknown event type `{got}` (known: {', '.join(self._types)})"
            return Problem(f"{label} {index}", field, reason, hint)
        if err["type"] == "union_tag_not_found":
            field = "type"
            reason = "required field is missing"
        elif err["type"] == "extra_forbidden":
            reason = "unknown field: attributes must be declared in the rulebook"
        elif err["type"] == "missing":
            reason = "required field is missing"
        return Problem(f"{label} {index}", field, reason)


JsonPath = tuple[str | int, ...]
REPEATED_KEY = "this key appears more than once in the JSON object"


def repeated_keys(raw: bytes, parsed: Any) -> list[JsonPath]:
    """The keys that ``raw`` gives twice in one object, each as its path from the root;
    ``parsed`` is orjson's parse of ``raw``, which silently keeps the last of them.

    Cheap when there are none, as on the hot path: without a backslash in ``raw`` every
    ``"`` delimits a string, so ``raw`` and ``orjson.dumps(parsed)`` hold the same number
    of quotes exactly when nothing was dropped (a repeated key drops at least its own
    string). That costs one C serialisation and two byte counts, ~0.3 µs an event. Only
    when the counts differ, or ``raw`` has escapes, is it parsed again with the standard
    library, ~8x slower, keeping every pair to say where the repetition is.
    """
    if surely_unrepeated(raw, parsed):
        return []
    try:
        pairs = json.loads(raw, object_pairs_hook=_Object)
    except (ValueError, RecursionError):
        # not JSON after all, or nested past the interpreter's limit: nothing this deep is
        # a valid event or request body, so its validation refuses it anyway
        return []
    found: list[JsonPath] = []
    _collect(pairs, (), found)
    return found


def surely_unrepeated(raw: bytes, parsed: Any) -> bool:
    """The cheap test of :func:`repeated_keys`: True when ``raw`` certainly repeats no key.
    ``raw`` may also be several JSON texts one after another and ``parsed`` the list of
    their values (a list adds no quotes)."""
    if b"\\" in raw:
        return False
    try:
        return raw.count(b'"') == orjson.dumps(parsed).count(b'"')
    except orjson.JSONEncodeError:  # e.g. nested past orjson's limit: look closer
        return False


class _Object(dict[str, Any]):
    """A JSON object that remembers which of its keys were given more than once."""

    repeated: tuple[str, ...] = ()

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        if len(self) != len(pairs):
            seen: set[str] = set()
            repeated: dict[str, None] = {}
            for key, _ in pairs:
                if key in seen:
                    repeated[key] = None
                seen.add(key)
            self.repeated = tuple(repeated)


def json_path(path: JsonPath) -> str:
    """``("attributes", "amount")`` -> ``attributes.amount``, as problems name fields; a key
    longer than 64 characters is cut (an error never echoes a huge key)."""
    return ".".join(str(p) if len(str(p)) <= 64 else str(p)[:64] + "…" for p in path)


def _collect(value: Any, path: JsonPath, found: list[JsonPath]) -> None:
    if isinstance(value, _Object):
        found.extend((*path, key) for key in value.repeated)
        for key, item in value.items():
            _collect(item, (*path, key), found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _collect(item, (*path, i), found)


def unknown_partner(where: str, field: str, partner: str, rulebook: Rulebook) -> Problem:
    """A grant of consent to a partner no perk lists: such a consent could never be asked
    about, and would come back to life unasked if a later rulebook listed that partner.
    (A revocation is always accepted: a member may always withdraw.)"""
    from plaudit.domain.expressions import closest

    known = ", ".join(rulebook.partners) or "none"
    return Problem(where, field, f"no perk of the rulebook lists partner `{partner}` "
                                 f"(partners: {known})", closest(partner, rulebook.partners))


def _exact_decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact, as in the domain's to_dict
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(data: Any) -> bytes:
    """The API's JSON for a domain value: orjson serialises the frozen dataclasses itself
    (field order kept, tuples as arrays) ~10x faster than ``dataclasses.asdict``, which
    deep-copies every leaf; decimals are exact strings, so the output equals
    :func:`~plaudit.domain.state.to_dict` (tests/api pin it). A fold worker renders a view
    with it, so the bytes cross its pipe instead of the objects."""
    return orjson.dumps(data, default=_exact_decimal)


def canonical_attributes(attributes: Mapping[str, Any]) -> str:
    """Attributes as canonical JSON: sorted keys, decimals normalised (``120.50`` == ``120.5``)."""
    return orjson.dumps(attributes, default=_canonical_default,
                        option=orjson.OPT_SORT_KEYS).decode()


def canonical_decimal(value: Decimal) -> Decimal:
    """The decimal as it is stored (``80.50`` -> ``80.5``): ingest folds the value a later
    re-fold will read back, so a cached fold and a fresh one answer byte for byte."""
    return Decimal(format(value.normalize(), "f"))


def _canonical_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    raise TypeError(f"cannot encode {type(value).__name__}")


def stored_attributes(rulebook: Rulebook, event_type: str, text: str) -> dict[str, Any]:
    """Stored canonical JSON back to typed values (trusted: written by us)."""
    data: dict[str, Any] = orjson.loads(text)
    schema = rulebook.events.get(event_type)
    if schema is None:
        return data
    for name, attr in schema.attributes.items():
        if attr.type == "decimal" and name in data:
            data[name] = Decimal(data[name])
        elif name not in data and not attr.required:
            data[name] = attr.default
    return data


__all__ = [
    "ID_PATTERN",
    "REPEATED_KEY",
    "RFC3339_TEXT",
    "EventDecoder",
    "Instant",
    "JsonPath",
    "canonical_attributes",
    "json_path",
    "repeated_keys",
    "stored_attributes",
    "surely_unrepeated",
    "unknown_partner",
]
