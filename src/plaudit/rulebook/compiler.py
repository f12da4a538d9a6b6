"""From YAML text to a compiled, linted :class:`~plaudit.domain.rulebook.Rulebook`.

The compiler collects every problem it can find (it does not stop at the first), each with
file, line, dotted field and, where a name is unknown, the closest known one. It refuses by
design, not only by shape:

* free-text attributes (only typed scalars: int, decimal, bool, enum, id, member);
* special categories of personal data (health, religion, political opinion, ethnicity,
  sexual orientation, trade-union membership, biometrics), declared or evident from a name;
* anything that reads another member: ``member`` attributes identify a referred person for
  ``once_per`` and nothing else — no feature, condition or formula may use them;
* unordered or overlapping bands and levels, levels and perks that can never be reached;
* expressions that do not type-check or could exhaust memory (see :mod:`..expressions`).
"""

from __future__ import annotations

import ast
import hashlib
import keyword
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import ValidationError

from plaudit.domain import expressions as ex
from plaudit.domain.calendar import PERIODS
from plaudit.domain.errors import ExpressionError, Problem, RulebookError
from plaudit.domain.events import BUILTIN_TYPES
from plaudit.domain.expressions import Expression, Type, closest, compile_expression
from plaudit.domain.rulebook import (
    Aggregate,
    Attribute,
    Cap,
    Curve,
    EventType,
    Factor,
    Feature,
    Level,
    Multiplier,
    Perk,
    PointRule,
    Program,
    Rulebook,
    Score,
    Tiers,
)
from plaudit.rulebook import schema as s
from plaudit.rulebook.source import Source, dotted

ATTRIBUTE_TYPES = ("int", "decimal", "bool", "enum", "id", "member")
FREE_TEXT_TYPES = ("string", "str", "text", "free_text", "freetext", "note", "comment")
AGGREGATE_KINDS = ("count", "sum", "min", "max", "distinct", "exists")
RESERVED_NAMES = frozenset({"score", "tier", "band", "any", *ex.FUNCTIONS, "True", "False",
                            "None"})

# Words (between underscores) that mark special-category data in a name. Whole words, not
# substrings: `trace_id`, `grace_days`, `archived` and `healthy_meals` are innocent. A
# trailing `*` lets the word continue (`pregnan*` covers pregnant and pregnancy).
SPECIAL_CATEGORIES: dict[str, tuple[str, ...]] = {
    "political opinion": ("politic*", "party_affiliation", "vote", "votes", "voted", "voter",
                          "voters", "voting"),
    "religion or belief": ("religio*", "faith", "church*", "mosque*", "synagogue*",
                           "temple_visit*", "belief", "beliefs"),
    "health": ("health", "medical*", "diagnos*", "disease*", "illness*", "disabilit*",
               "disabled", "pregnan*", "prescription*", "mental", "hiv"),
    "racial or ethnic origin": ("ethnic*", "race", "racial*"),
    "sex life or sexual orientation": ("sexual*", "orientation", "gender_identity"),
    "trade union membership": ("union_member*", "trade_union*", "labor_union*",
                               "labour_union*"),
    "biometric or genetic data": ("biometric*", "fingerprint*", "face_id", "faceprint*",
                                  "iris", "retina*", "genetic*", "dna", "voiceprint*"),
}
_SPECIAL_PATTERNS = {
    category: re.compile("(?:^|_)(?:" + "|".join(
        re.escape(w.rstrip("*")) + ("[a-z0-9]*" if w.endswith("*") else "") for w in words
    ) + ")(?:_|$)")
    for category, words in SPECIAL_CATEGORIES.items()
}
DECLARED_CATEGORIES = {
    "political_opinion": "political opinion", "politics": "political opinion",
    "religion": "religion or belief", "belief": "religion or belief",
    "health": "health", "ethnicity": "racial or ethnic origin",
    "racial_or_ethnic_origin": "racial or ethnic origin",
    "sexual_orientation": "sex life or sexual orientation",
    "sex_life": "sex life or sexual orientation",
    "trade_union": "trade union membership", "union_membership": "trade union membership",
    "biometric": "biometric or genetic data", "biometrics": "biometric or genetic data",
    "genetic": "biometric or genetic data",
}
ORDINARY = ("ordinary", "none", "personal")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_WIRE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
_DURATION = re.compile(r"^\s*(\d{1,5})\s*([dw])\s*$")


def load_rulebook(text: str, name: str = "rulebook.yaml") -> Rulebook:
    """Parse, validate, compile and lint a rulebook; raise :class:`RulebookError`."""
    source = Source(text, name)
    try:
        spec = s.RulebookSpec.model_validate(source.plain())
    except ValidationError as e:
        raise RulebookError(_shape_problems(source, e)) from None
    compiler = _Compiler(source, spec)
    rulebook = compiler.compile()
    if compiler.problems:
        raise RulebookError(compiler.problems)
    assert rulebook is not None
    return rulebook


def load_rulebook_file(path: str) -> Rulebook:
    with open(path, encoding="utf-8") as f:
        return load_rulebook(f.read(), name=path)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _input_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The part of a pydantic error location that names keys and indexes in the input.

    pydantic puts union member tags (`str`, `decimal`, `function-after[...]`) into `loc`;
    walking the input alongside tells them apart from real keys, even keys named `streaks`
    or `int`.
    """
    path: list[Any] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif isinstance(node, dict) and not isinstance(part, int) and (
                "[" not in str(part) and "-" not in str(part)
                and str(part) not in ("str", "int", "decimal", "bool", "float", "none")):
            path.append(part)  # a missing key: the error is about it
            node = None
            continue
        else:
            continue  # a union tag, not part of the input
        path.append(part)
    return tuple(path)


def _shape_problems(source: Source, error: ValidationError) -> list[Problem]:
    problems = []
    data = source.plain()
    for err in error.errors():
        clean = _input_path(data, tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            parent = s.model_at(s.RulebookSpec, clean[:-1])
            keys = s.known_keys(parent) if parent else []
            key = str(clean[-1])
            section = "section" if len(clean) == 1 else "key"
            known = f" (known: {', '.join(keys)})" if keys else ""
            problems.append(Problem(source.where(clean), dotted(clean),
                                    f"unknown {section} `{key}`{known}",
                                    closest(key, keys)))
        elif err["type"] == "missing":
            problems.append(Problem(source.where(clean[:-1]), dotted(clean),
                                    "required key is missing"))
        else:
            problems.append(Problem(source.where(clean), dotted(clean), err["msg"]))
    return problems


def _duration_days(text: str) -> int | None:
    m = _DURATION.match(text)
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2)
    return n * 7 if unit == "w" else n


class _Compiler:
    def __init__(self, source: Source, spec: s.RulebookSpec) -> None:
        self.source = source
        self.spec = spec
        self.problems: list[Problem] = []
        self.event_names: dict[str, dict[str, Type]] = {}
        self.member_attrs: dict[str, set[str]] = {}
        self.events: dict[str, EventType] = {}
        self.aggregates: dict[tuple[Any, ...], Aggregate] = {}
        self.feature_types: dict[str, Type] = {}

    # -- helpers ----------------------------------------------------------------------

    def problem(self, path: tuple[Any, ...], reason: str, suggestion: str | None = None) -> None:
        self.problems.append(Problem(self.source.where(path), dotted(path), reason, suggestion))

    def expr(self, path: tuple[Any, ...], text: Any, names: Mapping[str, Type],
             expect: str) -> Expression | None:
        try:
            return compile_expression(text, names, expect)
        except ExpressionError as e:
            col = f" (column {e.column})" if e.column else ""
            self.problem(path, f"`{text}`: {e.reason}{col}", e.suggestion)
            return None

    def name_ok(self, path: tuple[Any, ...], name: str, what: str) -> bool:
        if not _NAME.match(name) or keyword.iskeyword(name):
            self.problem(path, f"{what} `{name}` must be lower-case letters, digits and _, "
                               "starting with a letter")
            return False
        if name in RESERVED_NAMES:
            self.problem(path, f"{what} `{name}` is a reserved name")
            return False
        return True

    def sensitive(self, path: tuple[Any, ...], name: str, what: str) -> None:
        lowered = name.lower()
        for category, pattern in _SPECIAL_PATTERNS.items():
            if pattern.search(lowered):
                self.problem(path, f"{what} `{name}` looks like special-category data "
                                   f"({category}); plaudit does not take it")
                return

    def duration(self, path: tuple[Any, ...], text: str | None) -> int | None:
        if text is None:
            return None
        days = _duration_days(text)
        if days is None or days <= 0:
            self.problem(path, f"`{text}` is not a duration: write a number of days or "
                               "weeks, like `365d` or `8w`")
            return None
        return days

    # -- sections ---------------------------------------------------------------------

    def compile(self) -> Rulebook | None:
        spec = self.spec
        program = self.program()
        self.compile_events()
        rules, expire = self.compile_points()
        features = self.compile_features()
        score = self.compile_score()
        tiers = self.compile_tiers(score, rules)
        perks = self.compile_perks(score, tiers)
        if self.problems:
            return None
        aggregates = tuple(sorted(self.aggregates.values(), key=lambda a: a.index))
        del spec
        return Rulebook(program=program, events=self.events, rules=tuple(rules),
                        expire_after_days=expire, aggregates=aggregates,
                        features=tuple(features), score=score, tiers=tiers, perks=tuple(perks),
                        digest=digest(self.source.text))

    def program(self) -> Program:
        p = self.spec.program
        if not _ID.match(p.id):
            self.problem(("program", "id"), f"`{p.id}` must be letters, digits, `.`, `_`, `-`")
        try:
            ZoneInfo(p.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(("program", "timezone"), f"unknown timezone `{p.timezone}`",
                         closest(p.timezone, sorted(available_timezones())))
        return Program(p.id, p.name, p.timezone if not self.problems else "UTC", p.wallet)

    def compile_events(self) -> None:
        for name, ev in self.spec.events.items():
            path: tuple[Any, ...] = ("events", name)
            if name in BUILTIN_TYPES or name.startswith("plaudit."):
                self.problem(path, f"event type `{name}` is reserved for plaudit")
                continue
            if not self.name_ok(path, name, "event type"):
                continue
            self.sensitive(path, name, "event type")
            attrs: dict[str, Attribute] = {}
            names: dict[str, Type] = {}
            members: set[str] = set()
            for attr_name, a in ev.attributes.items():
                ap = (*path, "attributes", attr_name)
                attribute = self.attribute(ap, attr_name, a)
                if attribute is None:
                    continue
                attrs[attr_name] = attribute
                if attribute.type == "member":
                    members.add(attr_name)
                else:
                    names[attr_name] = _attribute_type(attribute)
            self.events[name] = EventType(name, attrs)
            self.event_names[name] = names
            self.member_attrs[name] = members

    def attribute(self, path: tuple[Any, ...], name: str, a: s.AttributeSpec) -> Attribute | None:
        if not self.name_ok(path, name, "attribute"):
            return None
        self.sensitive(path, name, "attribute")
        if a.data_category is not None:
            declared = a.data_category.strip().lower().replace(" ", "_")
            if declared in DECLARED_CATEGORIES:
                self.problem((*path, "data_category"),
                             f"`{name}` is declared as {DECLARED_CATEGORIES[declared]}, a "
                             "special category of personal data; plaudit does not take it")
                return None
            if declared not in ORDINARY:
                self.problem((*path, "data_category"), f"unknown data category `{declared}`",
                             closest(declared, [*ORDINARY, *DECLARED_CATEGORIES]))
                return None
        if a.type in FREE_TEXT_TYPES:
            self.problem((*path, "type"), f"free text (`{a.type}`) is refused: attributes are "
                                          "typed scalars; use enum, id, int, decimal or bool")
            return None
        if a.type not in ATTRIBUTE_TYPES:
            self.problem((*path, "type"), f"unknown attribute type `{a.type}` "
                                          f"(known: {', '.join(ATTRIBUTE_TYPES)})",
                         closest(a.type, ATTRIBUTE_TYPES))
            return None
        values: tuple[str, ...] = ()
        if a.type == "enum":
            if not a.values:
                self.problem((*path, "values"), "an enum needs its list of values")
                return None
            if len(set(a.values)) != len(a.values):
                self.problem((*path, "values"), "enum values must be unique")
            values = tuple(a.values)
        elif a.values is not None:
            self.problem((*path, "values"), f"`values` is only for enums, not `{a.type}`")
        if (a.min is not None or a.max is not None) and a.type not in ("int", "decimal"):
            self.problem(path, f"`min`/`max` are only for int and decimal, not `{a.type}`")
        if a.type == "int" and any(isinstance(v, Decimal) and v != int(v)
                                   for v in (a.min, a.max) if v is not None):
            self.problem(path, "bounds of an int attribute must be whole numbers")
        if a.min is not None and a.max is not None and a.min > a.max:
            self.problem(path, f"min {a.min} is above max {a.max}")
        default: object = a.default
        if default is not None:
            default = self.default_value(path, a, values)
        return Attribute(name, a.type, values,
                         None if a.min is None else Decimal(a.min),
                         None if a.max is None else Decimal(a.max),
                         default, required=a.default is None)

    def default_value(self, path: tuple[Any, ...], a: s.AttributeSpec,
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
            self.problem((*path, "default"), f"default `{d}` is not a valid {a.type}")
            return None
        if a.type == "id" and not _WIRE_ID.match(str(d)):
            self.problem((*path, "default"), f"default `{d}` is not a valid id: letters, "
                                             "digits and . _ : @ -, at most 128")
            return None
        if a.type in ("int", "decimal"):
            if a.min is not None and d < a.min:  # type: ignore[operator]
                self.problem((*path, "default"), f"default {d} is below min {a.min}")
                return None
            if a.max is not None and d > a.max:  # type: ignore[operator]
                self.problem((*path, "default"), f"default {d} is above max {a.max}")
                return None
        return Decimal(d) if a.type == "decimal" else d  # type: ignore[arg-type]

    def event_type(self, path: tuple[Any, ...], name: str, allow_any: bool = False) -> bool:
        if allow_any and name == "any":
            return True
        if name in self.events:
            return True
        if name in self.spec.events:  # declared but refused: already reported
            return False
        known = list(self.events) + (["any"] if allow_any else [])
        self.problem(path, f"unknown event type `{name}`", closest(name, known))
        return False

    def attribute_of(self, path: tuple[Any, ...], event: str, attr: str) -> Attribute | None:
        found = self.events[event].attributes.get(attr)
        if found is None:
            known = list(self.events[event].attributes)
            self.problem(path, f"event type `{event}` has no attribute `{attr}`",
                         closest(attr, known))
        return found

    def compile_points(self) -> tuple[list[PointRule], int | None]:
        pts = self.spec.points
        if pts is None:
            return [], None
        expire = self.duration(("points", "expire_after"), pts.expire_after)
        rules: list[PointRule] = []
        ids = [r.id for r in pts.rules]
        for i, r in enumerate(pts.rules):
            path: tuple[Any, ...] = ("points", "rules", i)
            if not _ID.match(r.id):
                self.problem((*path, "id"), f"rule id `{r.id}` must be letters, digits, `.`, "
                                            "`_`, `-`")
            if ids.count(r.id) > 1 and ids.index(r.id) == i:
                self.problem((*path, "id"), f"rule id `{r.id}` is used more than once")
            rule = self.rule(path, r, ids)
            if rule is not None:
                rules.append(rule)
        return rules, expire

    def rule(self, path: tuple[Any, ...], r: s.RuleSpec, ids: list[str]) -> PointRule | None:
        if not self.event_type((*path, "on"), r.on):
            return None
        names = self.event_names[r.on]
        members = self.member_attrs[r.on]
        if r.reverses is not None:
            return self.reversal(path, r, ids)
        for key in ("match",):
            if getattr(r, key) is not None:
                self.problem((*path, key), f"`{key}` is only for rules with `reverses`")
        if r.award is None:
            self.problem(path, "a rule needs `award` (or `reverses` to claw points back)")
            return None
        award = self.expr((*path, "award"), r.award, names, "number")
        when = self.expr((*path, "when"), r.when, names, "bool") if r.when is not None \
            else None
        multiply = []
        for j, m in enumerate(r.multiply):
            cond = self.expr((*path, "multiply", j, "when"), m.when, names, "bool")
            if cond is not None:
                multiply.append(Multiplier(cond, m.by))
        cap = None
        if r.cap is not None:
            if r.cap.per not in PERIODS:
                self.problem((*path, "cap", "per"), f"unknown period `{r.cap.per}` "
                                                    f"(known: {', '.join(PERIODS)})",
                             closest(r.cap.per, PERIODS))
            else:
                cap = Cap(r.cap.max, r.cap.per)
        if r.once and r.once_per:
            self.problem((*path, "once_per"), "use either `once` or `once_per`, not both")
        if r.once_per is not None:
            self.attribute_of((*path, "once_per"), r.on, r.once_per)
        return PointRule(r.id, r.on, award, when, tuple(multiply), cap, r.once, r.once_per,
                         r.once_per in members, None, None)

    def reversal(self, path: tuple[Any, ...], r: s.RuleSpec, ids: list[str]) -> PointRule | None:
        for key in ("award", "when", "cap", "once_per"):
            if getattr(r, key) not in (None, False):
                self.problem((*path, key), f"a reversal rule takes no `{key}`: it claws back "
                                           "exactly what the reversed rule awarded")
        if r.multiply or r.once:
            self.problem(path, "a reversal rule takes no `multiply` or `once`")
        target = next((t for t in self.spec.points.rules if t.id == r.reverses), None) \
            if self.spec.points else None
        if target is None:
            self.problem((*path, "reverses"), f"no rule with id `{r.reverses}`",
                         closest(str(r.reverses), ids))
            return None
        if target.reverses is not None:
            self.problem((*path, "reverses"), f"`{r.reverses}` is itself a reversal")
            return None
        if r.match is None:
            self.problem(path, "a reversal rule needs `match`: the attribute that ties it to "
                               "the award it reverses (such as order_id)")
            return None
        if target.on not in self.events:
            return None
        if r.match in self.member_attrs.get(r.on, ()):
            self.problem((*path, "match"), f"`{r.match}` identifies another member and "
                                           "cannot tie a reversal to an award")
            return None
        ok = self.attribute_of((*path, "match"), r.on, r.match) is not None
        ok = ok and self.attribute_of((*path, "match"), target.on, r.match) is not None
        if not ok:
            return None
        # Awards are indexed by one attribute per reversed rule; a second reversal matching
        # on another attribute would silently find nothing, so it is refused here.
        other = next((o for o in self.spec.points.rules if o.reverses == r.reverses
                      and o.match is not None and o.match != r.match), None) \
            if self.spec.points else None
        if other is not None:
            self.problem((*path, "match"),
                         f"rule `{other.id}` already reverses `{r.reverses}` matching on "
                         f"`{other.match}`: every reversal of one rule must match on the "
                         "same attribute")
            return None
        return PointRule(r.id, r.on, reverses=r.reverses, match=r.match)

    def aggregate(self, path: tuple[Any, ...], spec: s.AggregateSpec) -> Aggregate | None:
        kinds = [k for k in AGGREGATE_KINDS if getattr(spec, k) is not None]
        if len(kinds) != 1:
            self.problem(path, "give exactly one of " + ", ".join(AGGREGATE_KINDS)
                         + (f" (got {', '.join(kinds)})" if kinds else ""))
            return None
        kind = kinds[0]
        target = str(getattr(spec, kind))
        event, _, attr = target.partition(".")
        if kind in ("count", "exists"):
            if attr:
                self.problem((*path, kind), f"`{kind}` takes an event type, not an attribute")
                return None
            if not self.event_type((*path, kind), event, allow_any=True):
                return None
        else:
            if not attr:
                self.problem((*path, kind), f"`{kind}` takes `event_type.attribute`, like "
                                            "`purchase.amount`")
                return None
            if not self.event_type((*path, kind), event):
                return None
            if attr in self.member_attrs[event]:
                self.problem((*path, kind), f"`{target}` identifies another member: features "
                                            "may not read or count other members")
                return None
            found = self.attribute_of((*path, kind), event, attr)
            if found is None:
                return None
            if kind in ("sum", "min", "max") and found.type not in ("int", "decimal"):
                self.problem((*path, kind), f"`{kind}` needs a number attribute; `{target}` "
                                            f"is {found.type}")
                return None
        where = None
        if spec.where is not None:
            if event == "any":
                self.problem((*path, "where"), "`where` needs one event type, not `any`")
                return None
            where = self.expr((*path, "where"), spec.where, self.event_names[event], "bool")
            if where is None:
                return None
        window = self.duration((*path, "window"), spec.window)
        if spec.window is not None and window is None:
            return None
        value_type = "int"
        if kind in ("sum", "min", "max"):
            value_type = self.events[event].attributes[attr].type
        key = (kind, event, attr or None, spec.where, window)
        existing = self.aggregates.get(key)
        if existing is not None:
            return existing
        agg = Aggregate(len(self.aggregates), kind, None if event == "any" else event,
                        attr or None, where, window, value_type)
        self.aggregates[key] = agg
        return agg

    def compile_features(self) -> list[Feature]:
        features: list[Feature] = []
        for name, f in self.spec.features.items():
            path: tuple[Any, ...] = ("features", name)
            if not self.name_ok(path, name, "feature"):
                continue
            self.sensitive(path, name, "feature")
            feature = self.feature(path, name, f)
            if feature is not None:
                features.append(feature)
                self.feature_types[name] = {"int": ex.INT, "decimal": ex.DECIMAL,
                                            "bool": ex.BOOL}[feature.type]
        return features

    def feature(self, path: tuple[Any, ...], name: str, f: s.FeatureSpec) -> Feature | None:
        special = [k for k in ("ratio", "days_since_first", "days_since_last")
                   if getattr(f, k) is not None]
        plain = [k for k in AGGREGATE_KINDS if getattr(f, k) is not None]
        if len(special) + len(plain) != 1:
            self.problem(path, "a feature is exactly one of " + ", ".join(
                (*AGGREGATE_KINDS, "ratio", "days_since_first", "days_since_last")))
            return None
        default = f.default
        if special == ["ratio"]:
            assert f.ratio is not None
            if f.where is not None or f.window is not None:
                self.problem(path, "put `where` and `window` inside `of` and `to` of a ratio")
            of = self.aggregate((*path, "ratio", "of"), f.ratio.of)
            to = self.aggregate((*path, "ratio", "to"), f.ratio.to)
            for part, agg in (("of", of), ("to", to)):
                if agg is not None and agg.kind not in ("count", "sum"):
                    self.problem((*path, "ratio", part), "a ratio divides counts or sums")
                    return None
            if of is None or to is None:
                return None
            if isinstance(default, bool):
                self.problem((*path, "default"), "a ratio's default is a number")
                return None
            return Feature(name, "ratio", of.index, to.index,
                           Decimal(default) if default is not None else Decimal(0), "decimal")
        if special:
            kind = special[0]
            target = str(getattr(f, kind))
            if not self.event_type((*path, kind), target, allow_any=True):
                return None
            if f.where is not None or f.window is not None:
                self.problem(path, f"`{kind}` takes no `where` or `window`")
                return None
            agg = self.aggregate(path, s.AggregateSpec(exists=target))
            if agg is None:
                return None
            return Feature(name, kind, agg.index, None,
                           int(default) if default is not None else 0, "int")
        agg = self.aggregate(path, f)
        if agg is None:
            return None
        if agg.kind == "exists":
            return Feature(name, "aggregate", agg.index, None, False, "bool")
        if agg.kind in ("count", "distinct"):
            return Feature(name, "aggregate", agg.index, None, 0, "int")
        ftype = "int" if agg.value_type == "int" else "decimal"
        fallback: Decimal | int = 0 if default is None or isinstance(default, bool) \
            else default
        return Feature(name, "aggregate", agg.index, None, fallback, ftype)

    def levels(self, path: tuple[Any, ...], specs: list[s.LevelSpec], first: Decimal,
               what: str, top: Decimal | None = None) -> tuple[Level, ...]:
        result: list[Level] = []
        names = [lv.name for lv in specs]
        if not specs:
            self.problem(path, f"at least one {what} is needed")
            return ()
        for i, lv in enumerate(specs):
            lp = (*path, i)
            start = Decimal(lv.from_)
            if names.count(lv.name) > 1 and names.index(lv.name) == i:
                self.problem((*lp, "name"), f"{what} `{lv.name}` appears more than once")
            if i == 0 and start != first:
                self.problem((*lp, "from"), f"the first {what} must start at {first}, so every "
                                            f"member has one (it starts at {start})")
            if result and start <= result[-1].start:
                self.problem((*lp, "from"), f"{what}s must be in increasing order without "
                                            f"overlap: `{lv.name}` starts at {start}, not above "
                                            f"`{result[-1].name}` ({result[-1].start})")
            if top is not None and start > top:
                self.problem((*lp, "from"), f"{what} `{lv.name}` can never be reached: it "
                                            f"starts at {start}, above the maximum {top}")
            result.append(Level(lv.name, start))
        return tuple(result)

    def compile_score(self) -> Score | None:
        sc = self.spec.score
        if sc is None:
            return None
        low, high = sc.range
        if not 0 <= low < high <= 100_000:
            self.problem(("score", "range"), f"range [{low}, {high}] must be two whole numbers, "
                                             "low below high")
            return None
        factors: list[Factor] = []
        ids = [f.id for f in sc.factors]
        if not sc.factors:
            self.problem(("score", "factors"), "a score needs at least one factor")
        for i, f in enumerate(sc.factors):
            path: tuple[Any, ...] = ("score", "factors", i)
            if ids.count(f.id) > 1 and ids.index(f.id) == i:
                self.problem((*path, "id"), f"factor id `{f.id}` is used more than once")
            factor = self.factor(path, f)
            if factor is not None:
                factors.append(factor)
        bands = self.levels(("score", "bands"), sc.bands, Decimal(low), "band",
                            Decimal(high)) if sc.bands else ()
        return Score(low, high, tuple(factors), bands)

    def factor(self, path: tuple[Any, ...], f: s.FactorSpec) -> Factor | None:
        if (f.from_ is None) == (f.expr is None):
            self.problem(path, "a factor takes either `from` (a feature) or `expr`")
            return None
        expr = None
        if f.from_ is not None:
            if f.from_ not in self.feature_types:
                if f.from_ not in self.spec.features:
                    self.problem((*path, "from"), f"unknown feature `{f.from_}`",
                                 closest(f.from_, list(self.feature_types)))
                return None
        else:
            expr = self.expr((*path, "expr"), f.expr, self.feature_types, "number")
            if expr is None:
                return None
        curve = None
        if f.curve is not None:
            curve = self.curve((*path, "curve"), f.curve)
            if curve is None:
                return None
        return Factor(f.id, f.label, f.weight, f.from_, expr, curve, f.reason, f.improve)

    def curve(self, path: tuple[Any, ...], points: list[tuple[Decimal, Decimal]]) -> Curve | None:
        if len(points) < 2:
            self.problem(path, "a curve needs at least two [x, y] points")
            return None
        for i, (x, y) in enumerate(points):
            if not Decimal(0) <= y <= Decimal(1):
                self.problem((*path, i), f"curve value {y} is outside [0, 1]")
                return None
            if i and x <= points[i - 1][0]:
                self.problem((*path, i), f"curve x values must increase: {x} after "
                                         f"{points[i - 1][0]}")
                return None
        return Curve(tuple((Decimal(x), Decimal(y)) for x, y in points))

    def compile_tiers(self, score: Score | None, rules: list[PointRule]) -> Tiers | None:
        t = self.spec.tiers
        if t is None:
            return None
        grace = self.duration(("tiers", "grace"), t.grace) or 0
        window: str | None = None
        window_days: int | None = None
        if t.basis == "score":
            if score is None:
                self.problem(("tiers", "basis"), "tiers based on the score need a `score` "
                                                 "section")
                return None
            if t.window is not None:
                self.problem(("tiers", "window"), "a score basis has no window: the score "
                                                  "already reads its features' windows")
            levels = self.levels(("tiers", "levels"), t.levels, Decimal(score.low), "tier",
                                 Decimal(score.high))
        else:
            if not rules:
                self.problem(("tiers", "basis"), "tiers based on qualifying points need "
                                                 "point rules")
            text = (t.window or "rolling 365d").strip().lower()
            if text in ("calendar year", "calendar_year"):
                window = "calendar_year"
            elif text == "anniversary":
                window = "anniversary"
            elif text.startswith("rolling "):
                window = "rolling"
                window_days = self.duration(("tiers", "window"), text[len("rolling "):])
            else:
                self.problem(("tiers", "window"), f"unknown window `{t.window}`: write "
                                                  "`rolling 365d`, `calendar year` or "
                                                  "`anniversary`")
            levels = self.levels(("tiers", "levels"), t.levels, Decimal(0), "tier")
        return Tiers(t.basis, window, window_days, grace, levels)

    def compile_perks(self, score: Score | None, tiers: Tiers | None) -> list[Perk]:
        names = dict(self.feature_types)
        ranges: dict[str, range] = {}
        if score is not None:
            names["score"] = ex.INT
            ranges["score"] = range(score.low, score.high + 1)
            if score.bands:
                bands = tuple(b.name for b in score.bands)
                names["band"] = ex.level("band", bands)
                ranges["band"] = range(len(bands))
        if tiers is not None:
            levels = tuple(lv.name for lv in tiers.levels)
            names["tier"] = ex.level("tier", levels)
            ranges["tier"] = range(len(levels))
        perks = []
        ids = [p.id for p in self.spec.perks]
        for i, p in enumerate(self.spec.perks):
            path: tuple[Any, ...] = ("perks", i)
            if not _ID.match(p.id):
                self.problem((*path, "id"), f"perk id `{p.id}` must be letters, digits, `.`, "
                                            "`_`, `-`")
            if ids.count(p.id) > 1 and ids.index(p.id) == i:
                self.problem((*path, "id"), f"perk id `{p.id}` is used more than once")
            for j, partner in enumerate(p.partners):
                if not _ID.match(partner):
                    self.problem((*path, "partners", j), f"partner `{partner}` must be an id")
            when = self.expr((*path, "when"), p.when, names, "bool")
            if when is None:
                continue
            if not _satisfiable(ast.parse(when.source, mode="eval").body, names, ranges):
                self.problem((*path, "when"), f"perk `{p.id}` can never be reached: "
                                              f"`{p.when}` is false for every possible "
                                              "score, band and tier")
                continue
            perks.append(Perk(p.id, p.label, when, tuple(p.partners)))
        return perks


def _attribute_type(a: Attribute) -> Type:
    if a.type == "int":
        return ex.INT
    if a.type == "decimal":
        return ex.DECIMAL
    if a.type == "bool":
        return ex.BOOL
    if a.type == "enum":
        return ex.enum(a.values)
    return ex.STR


# -- reachability: can a condition on score, band and tier ever hold? ----------------------

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
}


def _satisfiable(node: ast.expr, names: Mapping[str, Type],
                 ranges: Mapping[str, range]) -> bool:
    """Conservative: False only when the condition provably never holds."""
    return _constraints(node, names, ranges) is not None


def _constraints(node: ast.expr, names: Mapping[str, Type],
                 ranges: Mapping[str, range]) -> dict[str, frozenset[int]] | None:
    if isinstance(node, ast.BoolOp):
        parts = [_constraints(v, names, ranges) for v in node.values]
        if isinstance(node.op, ast.And):
            merged: dict[str, frozenset[int]] = {}
            for part in parts:
                if part is None:
                    return None
                for var, allowed in part.items():
                    merged[var] = merged.get(var, allowed) & allowed
                    if not merged[var]:
                        return None
            return merged
        alive = [p for p in parts if p is not None]
        if not alive:
            return None
        shared = set.intersection(*(set(p) for p in alive))
        return {v: frozenset().union(*(p[v] for p in alive)) for v in shared}
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right = node.left, node.comparators[0]
        op = type(node.ops[0])
        if isinstance(left, ast.Constant) and isinstance(right, ast.Name):
            left, right = right, left
            op = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE,
                  ast.GtE: ast.LtE}.get(op, op)
        if isinstance(left, ast.Name) and left.id in ranges and \
                isinstance(right, ast.Constant) and op in _COMPARE:
            value = right.value
            t = names[left.id]
            if t.kind == "level" and isinstance(value, str) and t.values:
                value = t.values.index(value)
            if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                test = _COMPARE[op]
                allowed = frozenset(v for v in ranges[left.id] if test(v, value))
                return {left.id: allowed} if allowed else None
    if isinstance(node, ast.Constant) and node.value is False:
        return None
    return {}


__all__ = ["digest", "load_rulebook", "load_rulebook_file"]
