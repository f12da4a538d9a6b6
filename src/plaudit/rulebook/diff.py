"""What changed between two rulebooks, said the way a program manager reads a rulebook.

Both texts are parsed (with the same guards as loading: no aliases, bounded size and
depth) and compared as documents, key by key, section by section. A list whose items all
carry a unique ``id`` (factors, point rules, perks, rewards, badges, quests, streaks,
leaderboards) or ``name`` (bands, tier levels) is matched item by item by it, so a
factor's weight change reads ``score.factors[repayment_history].weight: 35 -> 40`` wherever
the factor moved, an added perk reads ``perks[free_coffee]: added …``, and a changed order
of such items (point rules run in order) is one ``reordered`` change. Other lists are
compared item by item when only their items changed, and as one value otherwise (a curve:
``curve: [[0, 0], [1, 1]] -> [[0, 0], [0.8, 0.5], [1, 1]]``). ``35`` and ``35.0`` are the
same number; ``true`` and ``1`` are not the same value.

The unified diff of the texts comes with it, for what a summary leaves out (comments,
layout). Nothing here compiles the rulebooks: a draft being written can be compared too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from plaudit.rulebook.source import Source

SECTIONS = ("program", "events", "points", "features", "score", "tiers", "perks", "rewards",
            "badges", "quests", "streaks", "leaderboards")
"""The order sections are reported in (others after, alphabetically)."""
_KEYS = ("id", "name")
_SHOWN = 160
"""Characters of a value shown in a summary line (the JSON form has it whole)."""

Kind = Literal["added", "removed", "changed", "reordered"]


@dataclass(frozen=True)
class Change:
    section: str
    path: str
    """Where, e.g. ``score.factors[repayment_history].weight``."""
    change: Kind
    before: Any
    """The old value (None when added; for ``reordered``, the old order of ids)."""
    after: Any
    """The new value (None when removed)."""

    def line(self) -> str:
        if self.change == "added":
            return f"{self.path}: added {_show(self.after)}"
        if self.change == "removed":
            return f"{self.path}: removed {_show(self.before)}"
        if self.change == "reordered":
            return (f"{self.path}: order changed: {', '.join(map(str, self.before))} -> "
                    f"{', '.join(map(str, self.after))}")
        return f"{self.path}: {_show(self.before)} -> {_show(self.after)}"


@dataclass(frozen=True)
class RulebookDiff:
    before: str
    """Label of the old rulebook (``v1``, ``draft:3``, a file name)."""
    after: str
    changes: tuple[Change, ...]
    text: str
    """The unified diff of the two texts ("" when they are the same text)."""

    @property
    def changed(self) -> bool:
        """Whether any rule changed (comments and layout do not count)."""
        return bool(self.changes)

    def summary(self) -> list[str]:
        """One line per change, grouped by section; ``no changes`` when there are none."""
        if not self.changes:
            return ["no changes" if not self.text else
                    "no changes to the rules (only comments or layout differ)"]
        return [c.line() for c in self.changes]

    def to_json(self) -> dict[str, Any]:
        """The JSON form (CLI ``--json`` and the HTTP API answer alike)."""
        return {"before": self.before, "after": self.after, "changed": self.changed,
                "summary": self.summary(), "sections": self.sections(),
                "changes": [{"section": c.section, "path": c.path, "change": c.change,
                             "before": c.before, "after": c.after} for c in self.changes],
                "text": self.text}

    def sections(self) -> dict[str, int]:
        """Changes per section, in report order."""
        counts: dict[str, int] = {}
        for c in self.changes:
            counts[c.section] = counts.get(c.section, 0) + 1
        return counts


def diff_texts(before: str, after: str, before_label: str = "before",
               after_label: str = "after") -> RulebookDiff:
    """Compare two rulebook texts (RulebookError naming the label if one is not YAML)."""
    old = Source(before, before_label).plain()
    new = Source(after, after_label).plain()
    changes = sorted(_compare(old, new, ()), key=lambda c: _order(c.section))
    text = "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                        after.splitlines(keepends=True),
                                        fromfile=before_label, tofile=after_label))
    return RulebookDiff(before_label, after_label, tuple(changes), text)


def _order(section: str) -> tuple[int, str]:
    return (SECTIONS.index(section), "") if section in SECTIONS else (len(SECTIONS), section)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _compare(a: Any, b: Any, path: tuple[Any, ...]) -> Iterator[Change]:
    if _same(a, b):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key, value in a.items():
            if key in b:
                yield from _compare(value, b[key], (*path, key))
            else:
                yield _change((*path, key), "removed", value, None)
        for key, value in b.items():
            if key not in a:
                yield _change((*path, key), "added", None, value)
        return
    if isinstance(a, list) and isinstance(b, list):
        field = _key_field(a, b)
        if field is not None:
            yield from _compare_keyed(a, b, field, path)
            return
        if len(a) == len(b) and all(isinstance(x, dict) for x in a + b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                yield from _compare(x, y, (*path, i))
            return
    yield _change(path, "changed", a, b)


def _key_field(a: list[Any], b: list[Any]) -> str | None:
    """``id`` or ``name`` when every item of both lists is a mapping with a unique one."""
    items = a + b
    if not items:
        return None
    for field in _KEYS:
        keyed = all(isinstance(x, dict) and isinstance(x.get(field), str | int)
                    and not isinstance(x.get(field), bool) for x in items)
        if keyed and all(len({x[field] for x in side}) == len(side) for side in (a, b)):
            return field
    return None


def _compare_keyed(a: list[dict[str, Any]], b: list[dict[str, Any]], field: str,
                   path: tuple[Any, ...]) -> Iterator[Change]:
    new = {x[field]: x for x in b}
    old = {x[field]: x for x in a}
    for item in a:
        key = item[field]
        if key in new:
            yield from _compare(item, new[key], (*path, _Key(key)))
        else:
            yield _change((*path, _Key(key)), "removed", item, None)
    for item in b:
        if item[field] not in old:
            yield _change((*path, _Key(item[field])), "added", None, item)
    kept_before = [x[field] for x in a if x[field] in new]
    kept_after = [x[field] for x in b if x[field] in old]
    if kept_before != kept_after:
        yield _change(path, "reordered", kept_before, kept_after)


class _Key(str):
    """A list item named by its id or name: written ``[id]`` in a path."""


def _change(path: Sequence[Any], kind: Kind, before: Any, after: Any) -> Change:
    return Change(str(path[0]) if path else "", _dotted(path), kind, before, after)


def _dotted(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, _Key | int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def _show(value: Any) -> str:
    """A value as a summary shows it: YAML-like flow, strings quoted, long ones cut."""
    text = _flow(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…"


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str) and '"' in value and "'" not in value:
        return f"'{value}'"  # an expression with a string in it, as YAML would quote it
    return orjson.dumps(value).decode()


__all__ = ["SECTIONS", "Change", "RulebookDiff", "diff_texts"]
