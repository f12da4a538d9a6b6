"""``events``: every event type and its typed attributes, nothing else.

Refused here by design: free text (only int, decimal, bool, enum, id and member), special
categories of personal data (declared or evident from a name), and names plaudit reserves.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from plaudit.domain import expressions as ex
from plaudit.domain.events import BUILTIN_TYPES
from plaudit.domain.expressions import Type, closest
from plaudit.domain.rulebook import Attribute, EventType
from plaudit.rulebook import schema as s
from plaudit.rulebook.context import Context
from plaudit.rulebook.privacy import DECLARED_CATEGORIES, ORDINARY

ATTRIBUTE_TYPES = ("int", "decimal", "bool", "enum", "id", "member")
FREE_TEXT_TYPES = ("string", "str", "text", "free_text", "freetext", "note", "comment")
_WIRE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")

def compile_events(ctx: Context) -> None:
    for name, ev in ctx.spec.events.items():
        path: tuple[Any, ...] = ("events", name)
        if name in BUILTIN_TYPES or name.startswith("plaudit."):
            ctx.problem(path, f"event type `{name}` is reserved for plaudit")
            continue
        if not ctx.name_ok(path, name, "event type"):
            continue
        ctx.sensitive(path, name, "event type")
        attrs: dict[str, Attribute] = {}
        names: dict[str, Type] = {}
        members: set[str] = set()
        for attr_name, a in ev.attributes.items():
            ap = (*path, "attributes", attr_name)
            attribute = _attribute(ctx, ap, attr_name, a)
            if attribute is None:
                continue
            attrs[attr_name] = attribute
            if attribute.type == "member":
                members.add(attr_name)
            else:
                names[attr_name] = attribute_type(attribute)
        ctx.events[name] = EventType(name, attrs)
        ctx.event_names[name] = names
        ctx.member_attrs[name] = members


def _attribute(ctx: Context, path: tuple[Any, ...], name: str,
               a: s.AttributeSpec) -> Attribute | None:
    if not ctx.name_ok(path, name, "attribute"):
        return None
    ctx.sensitive(path, name, "attribute")
    if a.data_category is not None:
        declared = a.data_category.strip().lower().replace(" ", "_")
        if declared in DECLARED_CATEGORIES:
            ctx.problem((*path, "data_category"),
                        f"`{name}` is declared as {DECLARED_CATEGORIES[declared]}, a "
                        "special category of personal data; plaudit does not take it")
            return None
        if declared not in ORDINARY:
            ctx.problem((*path, "data_category"), f"unknown data category `{declared}`",
                        closest(declared, [*ORDINARY, *DECLARED_CATEGORIES]))
            return None
    if a.type in FREE_TEXT_TYPES:
        ctx.problem((*path, "type"), f"free text (`{a.type}`) is refused: attributes are "
                                     "typed scalars; use enum, id, int, decimal or bool")
        return None
    if a.type not in ATTRIBUTE_TYPES:
        ctx.problem((*path, "type"), f"unknown attribute type `{a.type}` "
                                     f"(known: {', '.join(ATTRIBUTE_TYPES)})",
                    closest(a.type, ATTRIBUTE_TYPES))
        return None
    values: tuple[str, ...] = ()
    if a.type == "enum":
        if not a.values:
            ctx.problem((*path, "values"), "an enum needs its list of values")
            return None
        if len(set(a.values)) != len(a.values):
            ctx.problem((*path, "values"), "enum values must be unique")
        values = tuple(a.values)
    elif a.values is not None:
        ctx.problem((*path, "values"), f"`values` is only for enums, not `{a.type}`")
    if (a.min is not None or a.max is not None) and a.type not in ("int", "decimal"):
        ctx.problem(path, f"`min`/`max` are only for int and decimal, not `{a.type}`")
    if a.type == "int" and any(isinstance(v, Decimal) and v != int(v)
                               for v in (a.min, a.max) if v is not None):
        ctx.problem(path, "bounds of an int attribute must be whole numbers")
    if a.min is not None and a.max is not None and a.min > a.max:
        ctx.problem(path, f"min {a.min} is above max {a.max}")
    default: object = a.default
    if default is not None:
        default = _default_value(ctx, path, a, values)
    return Attribute(name, a.type, values,
                     None if a.min is None else Decimal(a.min),
                     None if a.max is None else Decimal(a.max),
                     default, required=a.default is None)


def _default_value(ctx: Context, path: tuple[Any, ...], a: s.AttributeSpec,
                   values: tuple[str, ...]) -> object:
    d = a.default
    ok = {
        "int": isinstance(d, int) and not isinstance(d, bool),
        "decimal": isinstance(d, int | Decimal) and not isinstance(d, bool),
        "bool": isinstance(d, bool),
        "enum": isinstance(d, str) and d in values,
        "id": isinstance(d, str),
        "member": False,
    }[a.type]
    if not ok:
        ctx.problem((*path, "default"), f"default `{d}` is not a valid {a.type}")
        return None
    if a.type == "id" and not _WIRE_ID.match(str(d)):
        ctx.problem((*path, "default"), f"default `{d}` is not a valid id: letters, "
                                        "digits and . _ : @ -, at most 128")
        return None
    if a.type in ("int", "decimal"):
        if a.min is not None and d < a.min:  # type: ignore[operator]
            ctx.problem((*path, "default"), f"default {d} is below min {a.min}")
            return None
        if a.max is not None and d > a.max:  # type: ignore[operator]
            ctx.problem((*path, "default"), f"default {d} is above max {a.max}")
            return None
    return Decimal(d) if a.type == "decimal" else d  # type: ignore[arg-type]


def attribute_type(a: Attribute) -> Type:
    if a.type == "int":
        return ex.INT
    if a.type == "decimal":
        return ex.DECIMAL
    if a.type == "bool":
        return ex.BOOL
    if a.type == "enum":
        return ex.enum(a.values)
    return ex.STR


__all__ = ["attribute_type", "compile_events"]
