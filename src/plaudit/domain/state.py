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
class LedgerEntry:
    """One movement of the member's points, as they would read it on a statement."""

    at: str
    kind: str
    """``earned``, ``clawed_back`` (by a reversal: ``event`` is the refund), ``spent``,
    ``redeemed``, ``returned`` (a cancelled redemption), ``expired`` or ``not_awarded``
    (a rule fired for nothing: capped, or naming the member itself)."""
    points: int
    """Signed: what the entry added to or took from the balance."""
    balance: int
    """The balance right after this entry."""
    source: str
    """The rule, ``reward:<id>``, ``plaudit.spend`` or ``quest:<id>`` behind it."""
    event: str
    """The event that caused it (for an expiry: the event that earned the points)."""
    rulebook_version: int
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
    absent: bool = False
    """No data for this factor yet (its ``when_absent`` value scores it, if it has one)."""


@dataclass(frozen=True)
class Reason:
    id: str
    """Stable across rulebook versions that keep the factor: ``<factor>:low`` for points
    lost on the member's data, ``<factor>:no-data`` while there is none."""
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
    """The redemption's id: the id of its ``plaudit.redeem`` event."""
    reward: str
    label: str
    points: int
    """Points charged (the reward's cost when it was redeemed)."""
    at: str
    key: str
    """The idempotency key the redemption was asked with."""
    status: str
    """``redeemed`` or ``cancelled``."""
    cancelled_at: str | None = None
    returned: int = 0
    """Points a cancellation gave back (spendable again)."""
    expired_meanwhile: int = 0
    """Points of a cancelled redemption whose lots had expired: not given back."""


@dataclass(frozen=True)
class CatalogueEntry:
    """A reward as one member sees it at an as-of time: can they redeem it, and if not,
    why not."""

    id: str
    label: str
    cost: int
    redeemable: bool
    reason: str | None
    """Why not, when not: the first unmet condition (dates, requirement, limit, points)."""
    requires: str | None
    limit: str | None
    """``2 per month``, or None."""
    used_in_period: int
    """Redemptions of it in the limit's current period."""
    stock_left: int | None = None
    """Filled in by the application from the shared stock; None: unlimited."""


@dataclass(frozen=True)
class BadgeLevel:
    """One level of a badge as it was awarded: when, for which event, under which version."""

    level: int
    awarded_at: str
    """Local time of the event that earned it."""
    event: str
    rulebook_version: int


@dataclass(frozen=True)
class BadgeProgress:
    """Where a levelled badge's feature stands against the next level's threshold."""

    value: Decimal | int
    """The feature's value at the as-of time."""
    next_level: int
    threshold: Decimal


@dataclass(frozen=True)
class BadgeView:
    """A badge the member holds (badges): its highest level held, the record of that
    level, the records of the lower levels held, and the way to the next level."""

    id: str
    label: str
    level: int
    """1 for a one-off or quest badge."""
    levels: int
    """How many levels the badge has (1 for a one-off or quest badge)."""
    awarded_at: str
    event: str
    rulebook_version: int
    earlier: tuple[BadgeLevel, ...] = ()
    """The lower levels held, lowest first."""
    progress: BadgeProgress | None = None
    """Levelled badges below their top level only."""


@dataclass(frozen=True)
class QuestGoal:
    kind: str
    """``count`` or ``sum``."""
    of: str
    """The event type counted, or ``type.attribute`` summed."""
    where: str | None
    at_least: Decimal


@dataclass(frozen=True)
class QuestView:
    """A quest's progress for the member (quests)."""

    id: str
    label: str
    status: str
    """At the as-of time: ``upcoming``, ``active``, ``completed`` or ``expired``."""
    from_date: str
    to_date: str
    deadline: str
    """The first instant after the last day (local midnight ending ``to_date``): events
    before it count."""
    goal: QuestGoal
    progress: Decimal | int
    """The goal's count or sum so far, from events dated within the quest's days (frozen
    at completion)."""
    points: int | None
    badge: str | None
    completed_at: str | None = None
    event: str | None = None
    """The event that completed the quest."""


@dataclass(frozen=True)
class StreakView:
    """A streak's current and longest run at the as-of time (streaks).

    Dates are local dates of the program; instants are local RFC 3339 times. Frozen periods
    keep a run alive but do not count in ``current`` or ``longest``."""

    id: str
    label: str
    period: str
    at_least: int
    status: str
    """``active`` (the current period qualifies), ``at_risk`` (alive, but the current period
    still lacks its events), ``broken`` (the last run ended) or ``not_started``."""
    current: int
    """Qualifying periods in the live run; 0 when broken or not started."""
    longest: int
    frozen: int
    """Periods of the live run kept alive by a freeze."""
    started_on: str | None
    """First day of the live run's first period."""
    last_qualified: str | None
    """First day of the last period that qualified (kept after a break)."""
    period_start: str
    period_end: str
    """First and last day of the current period (the one containing the as-of time)."""
    events_in_period: int
    """Qualifying events so far in the current period."""
    freezes_used: int
    freezes_left: int
    """In the freeze block containing the current period (0 and 0 without freezes)."""
    at_risk_until: str | None
    """When ``at_risk``: the end of the current period (the first instant after it)."""
    breaks_at: str | None
    """When alive: the instant the run breaks if no period qualifies again, after every
    freeze left has been used."""


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
    status: str = "active"
    """``active``, or ``opted_out``: then ``score``, ``tier`` and ``perks`` are empty and
    nothing dated after ``opted_out_at`` is scored (participation)."""
    opted_out_at: str | None = None
    """Local time the member opted out, while they are out."""


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
    "BadgeLevel",
    "BadgeProgress",
    "BadgeView",
    "CatalogueEntry",
    "ConsentView",
    "Expiry",
    "FactorView",
    "LeaderboardView",
    "LedgerEntry",
    "LotView",
    "MemberState",
    "NextLevel",
    "PerkView",
    "Points",
    "QuestGoal",
    "QuestView",
    "Reason",
    "RedemptionView",
    "ScoreView",
    "StreakView",
    "Summary",
    "TierView",
    "to_dict",
]
