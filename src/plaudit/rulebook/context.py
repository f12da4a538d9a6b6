"""What every section compiler shares: the problems found so far, the names declared so
far, and the checks and suggestions every section uses.

Sections compile in a fixed order (program, events, points, features, score, tiers, perks,
then the play sections), each reading what the earlier ones declared here: the event types
and their typed attributes, the features and their types. Every check adds a
:class:`~plaudit.domain.errors.Problem` with file, line and dotted field instead of raising,
so one run reports everything wrong with a rulebook.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from plaudit.domain import expressions as ex
from plaudit.domain.errors import ExpressionError, Problem
from plaudit.domain.expressions import Expression, Type, closest, compile_expression
from plaudit.domain.rulebook import Aggregate, Attribute, EventType, Level, Score, Tiers
from plaudit.rulebook import schema as s
from plaudit.rulebook.privacy import special_category
from plaudit.rulebook.source import Source, dotted

RESERVED_NAMES = frozenset({"score", "tier", "band", "any", *ex.FUNCTIONS, "True", "False",
                            "None"})
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""Ids of rules, perks, factors, badges, rewards, … and of partners."""
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DURATION = re.compile(r"^\s*(\d{1,5})\s*([dw])\s*$")


def duration_days(text: str) -> int | None:
    m = _DURATION.match(text)
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2)
    return n * 7 if unit == "w" else n


class Context:
    """One compilation: its source, its validated shape, and what it has found."""

    def __init__(self, source: Source, spec: s.RulebookSpec) -> None:
        self.source = source
        self.spec = spec
        self.problems: list[Problem] = []
        self.event_names: dict[str, dict[str, Type]] = {}
        self.member_attrs: dict[str, set[str]] = {}
        self.events: dict[str, EventType] = {}
        self.aggregates: dict[tuple[Any, ...], Aggregate] = {}
        self.feature_types: dict[str, Type] = {}
        self.score: Score | None = None
        self.tiers: Tiers | None = None
        """The compiled score and tiers, once their sections are done (for conditions on
        ``score``, ``band`` and ``tier`` in later sections)."""

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
        category = special_category(name)
        if category is not None:
            self.problem(path, f"{what} `{name}` looks like special-category data "
                               f"({category}); plaudit does not take it")

    def duration(self, path: tuple[Any, ...], text: str | None) -> int | None:
        if text is None:
            return None
        days = duration_days(text)
        if days is None or days <= 0:
            self.problem(path, f"`{text}` is not a duration: write a number of days or "
                               "weeks, like `365d` or `8w`")
            return None
        return days

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

    def unique_id(self, path: tuple[Any, ...], ids: list[str], i: int, what: str) -> bool:
        """Check the ``i``-th of ``ids``: its shape, and (reported once) that it is not
        used again. False when it is malformed."""
        value = ids[i]
        ok = bool(ID.match(value))
        if not ok:
            self.problem(path, f"{what} id `{value}` must be letters, digits, `.`, `_`, `-`")
        if ids.count(value) > 1 and ids.index(value) == i:
            self.problem(path, f"{what} id `{value}` is used more than once")
        return ok

    def scale_names(self, score: Score | None, tiers: Tiers | None
                    ) -> tuple[dict[str, Type], dict[str, range]]:
        """Names a perk or reward condition may use — features, ``score``, ``band`` and
        ``tier`` — and the range of each scale (for the reachability check)."""
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
        return names, ranges

__all__ = ["ID", "RESERVED_NAMES", "Context", "duration_days"]
