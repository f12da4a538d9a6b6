"""An audit cohort file (member → group) for a backtest's adverse impact ratios.

Read for one report and dropped: never stored, never folded, never seen by a rulebook.
Checked hard, because a cohort file is typed by hand or exported from elsewhere: every
refusal names the line (CSV) or member (JSON) and the reason.

**Special categories.** plaudit refuses special-category data (GDPR art. 9: health,
ethnic origin, religion, …) everywhere else: no event attribute, feature or perk may carry
it (:mod:`plaudit.rulebook.privacy`). A fairness audit is the one place where such a
grouping can be legitimate — checking that a perk does not disadvantage an ethnic group is
the textbook use of the four-fifths rule, and some laws allow processing for exactly that
(bias detection) under conditions. Refusing such files outright would not keep the data
out: it would teach operators to call the column ``group`` and the values ``A`` and ``B``,
carrying the same data silently. So a file whose group column or group names look like a
special category is refused *unless* the operator says so explicitly
(``allow_special``); the report then records which category it looked like. What cannot
be detected (a neutral column name over sensitive values) is why every backtest with a
cohort file prints a reminder that groups are for audit only.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plaudit.application.wire import ID_PATTERN
from plaudit.rulebook.privacy import special_category

MAX_COHORT_BYTES = 64 * 1024 * 1024
MAX_GROUPS = 200
"""More groups than this is no longer a cohort: with one group per few members the report
would single people out, and the ratios would mean nothing."""
MAX_GROUP_CHARS = 64
MAX_ID_CHARS = 128
MEMBER_COLUMN = "member_id"
_MEMBER_ID = re.compile(ID_PATTERN)


AUDIT_REMINDER = ("Cohort groups are for this audit only: they are not stored, not folded and "
                  "never reach a rulebook. Delete the file when the audit is done.")
FAIRNESS_CAVEAT = ("The adverse impact ratio is a screening heuristic (the four-fifths rule), "
                   "not proof of discrimination or of its absence: small groups, chance and "
                   "differences the groups do not capture all move it. Investigate a flag; "
                   "do not treat a clean report as a guarantee.")


class CohortError(ValueError):
    """A cohort file refused: the message names the file, line or member, and why."""


@dataclass(frozen=True)
class Cohorts:
    groups: dict[str, str]
    """Member id → group."""
    dimension: str
    """What the groups are (the CSV's second column name; ``group`` for JSON)."""
    source: str
    special_category: str | None
    """The special category the column or a group name looked like (only when allowed)."""

    def describe(self) -> dict[str, Any]:
        return {"file": self.source, "dimension": self.dimension,
                "special_category": self.special_category}


def load_cohorts(path: Path, *, allow_special: bool = False) -> Cohorts:
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_COHORT_BYTES:
            raise CohortError(f"{name}: {size} bytes; a cohort file is at most "
                              f"{MAX_COHORT_BYTES} bytes")
        with path.open("rb") as f:
            data = f.read(MAX_COHORT_BYTES + 1)
    except OSError as e:
        raise CohortError(f"{name}: cannot read: {e.strerror}") from None
    return parse_cohorts(data, name, allow_special=allow_special)


def parse_cohorts(data: bytes, name: str, *, allow_special: bool = False) -> Cohorts:
    if len(data) > MAX_COHORT_BYTES:
        raise CohortError(f"{name}: a cohort file is at most {MAX_COHORT_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise CohortError(f"{name}: line {line}: not UTF-8 text") from None
    if "\x00" in text:
        raise CohortError(f"{name}: contains a NUL character: not a text file")
    if name.lower().endswith(".json") or text.lstrip().startswith("{"):
        dimension, groups = "group", _json(text, name)
    else:
        dimension, groups = _csv(text, name)
    if not groups:
        raise CohortError(f"{name}: no members")
    names = set(groups.values())
    if len(names) > MAX_GROUPS:
        raise CohortError(f"{name}: {len(names)} groups; at most {MAX_GROUPS} (a cohort "
                          "groups many members: more groups would single people out)")
    category = _special(name, dimension, names, allow_special)
    return Cohorts(groups, dimension, name, category)


def _special(name: str, dimension: str, names: set[str], allow: bool) -> str | None:
    for label, what in [(dimension, "column"), *((g, "group") for g in sorted(names))]:
        category = special_category(_word_form(label))
        if category is None:
            continue
        if not allow:
            raise CohortError(
                f"{name}: {what} `{label}` looks like special-category data ({category}); "
                "plaudit refuses such data everywhere but an audit. If this audit is "
                "lawful and you mean it, pass --special-category-audit")
        return category
    return None


def _word_form(label: str) -> str:
    """``Ethnic origin`` → ``ethnic_origin``: the privacy check reads snake-case words."""
    return "_".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def _check(name: str, where: str, member: Any, group: Any) -> tuple[str, str]:
    if not isinstance(member, str) or not isinstance(group, str):
        raise CohortError(f"{name}: {where}: member and group must be text")
    member, group = member.strip(), group.strip()
    if not member:
        raise CohortError(f"{name}: {where}: empty member id")
    if len(member) > MAX_ID_CHARS or not _MEMBER_ID.fullmatch(member):
        raise CohortError(f"{name}: {where}: `{member[:40]}` is not a member id (up to "
                          f"{MAX_ID_CHARS} letters, digits and `._:@-`, starting with a "
                          "letter or digit)")
    if not group:
        raise CohortError(f"{name}: {where}: empty group for member `{member}`")
    if len(group) > MAX_GROUP_CHARS or not group.isprintable():
        raise CohortError(f"{name}: {where}: group must be 1 to {MAX_GROUP_CHARS} "
                          "printable characters")
    return member, group


def _csv(text: str, name: str) -> tuple[str, dict[str, str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise CohortError(f"{name}: empty file; expected the header "
                              f"`{MEMBER_COLUMN},group`")
        cells = [c.strip() for c in header]
        if len(cells) != 2 or cells[0].lower() != MEMBER_COLUMN or not cells[1]:
            raise CohortError(f"{name}: line 1: expected the header `{MEMBER_COLUMN},<group "
                              f"column>` (two columns), got `{','.join(header)[:80]}`")
        dimension = cells[1]
        if len(dimension) > MAX_GROUP_CHARS or not dimension.isprintable():
            raise CohortError(f"{name}: line 1: the group column's name must be 1 to "
                              f"{MAX_GROUP_CHARS} printable characters")
        groups: dict[str, str] = {}
        first: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != 2:
                raise CohortError(f"{name}: line {line}: {len(row)} columns; expected 2 "
                                  f"({MEMBER_COLUMN},{dimension})")
            member, group = _check(name, f"line {line}", row[0], row[1])
            if member in groups:
                raise CohortError(f"{name}: line {line}: member `{member}` is already "
                                  f"on line {first[member]}")
            groups[member] = group
            first[member] = line
    except csv.Error as e:
        raise CohortError(f"{name}: line {reader.line_num}: malformed CSV: {e}") from None
    return dimension, groups


def _json(text: str, name: str) -> dict[str, str]:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise CohortError(f"{name}: member `{key[:40]}` is given twice")
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except RecursionError:
        raise CohortError(f"{name}: nested too deeply; expected one object "
                          "{member_id: group}") from None
    except json.JSONDecodeError as e:
        raise CohortError(f"{name}: line {e.lineno}: malformed JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise CohortError(f"{name}: expected one JSON object {{member_id: group}}")
    groups: dict[str, str] = {}
    for key, value in data.items():
        member, group = _check(name, f"member `{str(key)[:40]}`", key, value)
        if member in groups:
            raise CohortError(f"{name}: member `{member}` is given twice")
        groups[member] = group
    return groups


__all__ = ["AUDIT_REMINDER", "FAIRNESS_CAVEAT", "MAX_COHORT_BYTES", "MAX_GROUPS", "CohortError",
           "Cohorts", "load_cohorts", "parse_cohorts"]
