"""What a member has at an as-of time: the fold's output, plain immutable values.

These are the domain's answer, not an API schema: entrypoints render them (JSON, tables).
:func:`to_dict` gives the canonical JSON-ready form that determinism is checked against.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class LotView:
    """One live lot as a member sees it. A lot keeps its last view (see
    ``MemberFold._points``). Not slotted: orjson serialises a slotted dataclass ~4x slower."""

    awarded_at: str
    expires_at: str | None
    points: int
    remaining: int
    rule: str
    event: str
    rulebook_version: int


@dataclass(frozen=True)
class Expiry:
    date: str
    points: int


@dataclass(frozen=True)
class Points:
    balance: int
    earned: int
    spent: int
    expired: int
    reversed: int
    unrecovered: int
    """Points a clawback was owed but could not take because they had been spent."""
    lots: tuple[LotView, ...]
    expiring: tuple[Expiry, ...]


@dataclass(frozen=True)
class Award:
    """One rule firing: which rule, for which event, under which rulebook version."""

    rule: str
    event: str
    rulebook_version: int
    at: str
    points: int
    """Signed: negative for a clawback or a spend."""
    kind: str
    """``award``, ``reversal`` or ``spend``."""
    note: str | None = None


@dataclass(frozen=True)
class FactorView:
    id: str
    label: str
    weight: Decimal
    input: Decimal | int | bool
    curve_value: Decimal
    points: Decimal
    points_lost: Decimal


@dataclass(frozen=True)
class Reason:
    factor: str
    label: str
    reason: str
    improve: str
    points_lost: Decimal


@dataclass(frozen=True)
class ScoreView:
    value: int
    band: str | None
    range: tuple[int, int]
    factors: tuple[FactorView, ...]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class NextLevel:
    name: str
    start: Decimal
    missing: Decimal


@dataclass(frozen=True)
class TierView:
    name: str
    earned: str
    """The level the basis gives right now, before grace."""
    basis: str
    value: Decimal | int
    held_until: str | None
    """Last local date the tier is kept by grace, when it is above ``earned``."""
    next: NextLevel | None


@dataclass(frozen=True)
class PerkView:
    id: str
    label: str
    eligible: bool
    partners: tuple[str, ...]


@dataclass(frozen=True)
class ConsentView:
    partner: str
    granted: bool
    at: str
    """Local time of the latest grant or revocation."""


# -- play views: one block per mechanic (domain/mechanics/<name>.py fills it) -----------

@dataclass(frozen=True)
class RedemptionView:
    """One redemption of a catalogue reward (rewards)."""

    id: str
    reward: str


@dataclass(frozen=True)
class BadgeView:
    """A badge the member holds (badges)."""

    id: str
    label: str


@dataclass(frozen=True)
class QuestView:
    """A quest's progress for the member (quests)."""

    id: str
    label: str


@dataclass(frozen=True)
class StreakView:
    """A streak's current and longest run (streaks)."""

    id: str
    label: str


@dataclass(frozen=True)
class LeaderboardView:
    """The member's own metric on a leaderboard they can join (leaderboards): their rank
    is not part of it (a rank depends on other members; the API adds it when asked)."""

    id: str
    label: str
    period: str
    """The as-of's local period: ``2026-07``, ``2026-W27`` or ``all``."""
    value: Decimal | int
    """The member's metric in that period (0 before any event of theirs reached it)."""
    joined: bool
    """Whether the member's latest word joins the board (only then are they listed)."""
    pseudonym: str
    """The name boards show for the member (the same on every board)."""


@dataclass(frozen=True)
class MemberState:
    member: str
    as_of: str
    rulebook_version: int
    events: int
    last_event: str | None
    points: Points
    features: dict[str, Decimal | int | bool]
    score: ScoreView | None
    tier: TierView | None
    warnings: tuple[str, ...]
    perks: tuple[PerkView, ...] = ()
    awards: tuple[Award, ...] | None = None
    consents: tuple[ConsentView, ...] = ()
    redemptions: tuple[RedemptionView, ...] = ()
    badges: tuple[BadgeView, ...] = ()
    quests: tuple[QuestView, ...] = ()
    streaks: tuple[StreakView, ...] = ()
    leaderboards: tuple[LeaderboardView, ...] = ()


@dataclass(frozen=True)
class Summary:
    """The few columns stored with each member's snapshot (listing, sorting, dashboards)."""

    balance: int
    score: int | None
    band: str | None
    tier: str | None
    consents: tuple[str, ...] = ()
    """Partners the member's latest word grants, sorted (the partner check's first test)."""


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_dict(state: MemberState) -> dict[str, Any]:
    """JSON-ready form: decimals as strings, tuples as lists; stable key order."""
    result: dict[str, Any] = _plain(dataclasses.asdict(state))
    return result


__all__ = [
    "Award",
    "BadgeView",
    "ConsentView",
    "Expiry",
    "FactorView",
    "LeaderboardView",
    "LotView",
    "MemberState",
    "NextLevel",
    "PerkView",
    "Points",
    "QuestView",
    "Reason",
    "RedemptionView",
    "ScoreView",
    "StreakView",
    "Summary",
    "TierView",
    "to_dict",
]
