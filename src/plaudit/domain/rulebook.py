"""The compiled rulebook: immutable, checked, with every expression already compiled.

``plaudit.rulebook`` builds it from YAML; the fold only ever reads it. Lookups the fold needs
per event (rules and aggregates by event type) are precomputed here once, not per event.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from plaudit.domain.calendar import Calendar
from plaudit.domain.errors import Problem
from plaudit.domain.events import (
    CONSENT,
    FRIEND,
    LEADERBOARD,
    OPT_OUT,
    PSEUDONYM,
    REDEEM,
    REDEEM_CANCEL,
    SPEND,
)
from plaudit.domain.expressions import Expression

if TYPE_CHECKING:
    from plaudit.domain.mechanics import Plan


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str
    """``int``, ``decimal``, ``bool``, ``enum``, ``id`` or ``member``."""
    values: tuple[str, ...] = ()
    min: Decimal | None = None
    max: Decimal | None = None
    default: object = None
    required: bool = True


@dataclass(frozen=True)
class EventType:
    name: str
    attributes: Mapping[str, Attribute]


MAX_SEED = 10**12
"""The largest pseudonym seed (``plaudit.pseudonym``); the next after it is 0."""


def _builtin(name: str, *attributes: Attribute) -> EventType:
    return EventType(name, {a.name: a for a in attributes})


BUILTIN_EVENTS: Mapping[str, EventType] = {e.name: e for e in (
    _builtin(SPEND, Attribute("points", "int", min=Decimal(1), max=Decimal(10**12)),
             Attribute("reference", "id", default="", required=False)),
    _builtin(CONSENT, Attribute("partner", "id"), Attribute("granted", "bool")),
    _builtin(REDEEM, Attribute("reward", "id"),
             Attribute("points", "int", min=Decimal(0), max=Decimal(10**12)),
             Attribute("key", "id")),
    _builtin(REDEEM_CANCEL, Attribute("redemption", "id")),
    _builtin(LEADERBOARD, Attribute("board", "id"), Attribute("joined", "bool")),
    _builtin(PSEUDONYM, Attribute("seed", "int", min=Decimal(0), max=Decimal(MAX_SEED))),
    _builtin(FRIEND, Attribute("friend", "member"), Attribute("granted", "bool")),
    _builtin(OPT_OUT, Attribute("opted_out", "bool")),
)}
"""The schemas of plaudit's own event types (see :mod:`plaudit.domain.events`)."""


@dataclass(frozen=True)
class Multiplier:
    when: Expression
    by: Decimal


@dataclass(frozen=True)
class Cap:
    max: int
    per: str


@dataclass(frozen=True)
class PointRule:
    id: str
    on: str
    award: Expression | None = None
    when: Expression | None = None
    multiply: tuple[Multiplier, ...] = ()
    cap: Cap | None = None
    once: bool = False
    once_per: str | None = None
    self_member_attribute: bool = False
    """``once_per`` names a member attribute: never award for naming yourself."""
    reverses: str | None = None
    match: str | None = None


@dataclass(frozen=True)
class Aggregate:
    """One per-member running aggregate; features with the same definition share it."""

    index: int
    kind: str
    """``count``, ``sum``, ``min``, ``max``, ``distinct``, ``exists``, ``first`` or ``last``."""
    event_type: str | None
    """``None`` means any event type."""
    attribute: str | None = None
    where: Expression | None = None
    window_days: int | None = None
    value_type: str = "int"


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str
    """``aggregate``, ``ratio``, ``days_since_first`` or ``days_since_last``."""
    aggregate: int
    """Index of the aggregate (the numerator for a ratio)."""
    denominator: int | None = None
    default: Decimal | int | bool = 0
    type: str = "int"
    """The feature's expression type: ``int``, ``decimal`` or ``bool``."""


@dataclass(frozen=True)
class Curve:
    """Piecewise-linear map from a feature value to [0, 1], flat beyond its ends."""

    points: tuple[tuple[Decimal, Decimal], ...]
    memo: dict[Any, Decimal] = field(default_factory=dict, init=False, compare=False,
                                     repr=False)
    """Input -> value, filled by :func:`~plaudit.domain.mechanics.score.curve_value`
    (bounded): members share few distinct inputs (counts, quantized ratios), and the
    Decimal interpolation is most of a score's cost."""

    def __call__(self, x: Decimal) -> Decimal:
        pts = self.points
        if x <= pts[0][0]:
            return pts[0][1]
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            if x <= x1:
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        return pts[-1][1]


@dataclass(frozen=True)
class Absent:
    """What a factor says and scores while the member has no data for it, so that a member
    who never rented is told "no rental history yet", never an adverse fact they did not
    do."""

    value: Decimal
    """The factor's position on its curve (0 to 1) while it has no data."""
    reason: str


@dataclass(frozen=True)
class Factor:
    id: str
    label: str
    weight: Decimal
    feature: str | None
    expr: Expression | None
    curve: Curve | None
    reason: str
    improve: str
    when_absent: Absent | None = None


@dataclass(frozen=True)
class Level:
    name: str
    start: Decimal


@dataclass(frozen=True)
class Score:
    low: int
    high: int
    factors: tuple[Factor, ...]
    bands: tuple[Level, ...]


@dataclass(frozen=True)
class Tiers:
    basis: str
    """``qualifying_points`` or ``score``."""
    window: str | None
    """``rolling``, ``calendar_year`` or ``anniversary`` (qualifying points only)."""
    window_days: int | None
    grace_days: int
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class Perk:
    id: str
    label: str
    when: Expression
    partners: tuple[str, ...]
    valid_for_s: int = 3600
    """How long a partner may rely on a yes (or no): the answer's ``valid_until``."""


# -- play sections: each compiled in rulebook/sections/<name>.py, folded by
#    domain/mechanics/<name>.py -------------------------------------------------------

@dataclass(frozen=True)
class Reward:
    """A catalogue entry members redeem points for (mechanics/rewards.py)."""

    id: str
    label: str
    cost: int
    stock: int | None = None
    """Redemptions available across all members (the database guards it); None: no limit."""
    limit: Cap | None = None
    """Redemptions per member per local period."""
    requires: Expression | None = None
    """A condition on features, ``score``, ``band`` and ``tier`` at the redemption's time."""
    available_from: int | None = None
    """First local day (ordinal) it can be redeemed, inclusive."""
    available_to: int | None = None
    """Last local day (ordinal) it can be redeemed, inclusive."""


@dataclass(frozen=True)
class Badge:
    """An achievement, one-off or levelled (mechanics/badges.py)."""

    id: str
    label: str
    kind: str = "once"
    """``once`` (a ``when`` condition), ``levelled`` (``from`` + ``levels``) or ``quest``
    (neither: granted only by quests)."""
    when: Expression | None = None
    feature: str | None = None
    """The feature a levelled badge's thresholds apply to."""
    levels: tuple[Decimal, ...] = ()
    """Strictly increasing thresholds; level n is met when the feature reaches levels[n-1]."""
    listens: frozenset[str] | None = frozenset()
    """Event types that can change what the badge reads, plus ``revoked_by``; None for
    every behaviour event (it reads a feature over `any`)."""
    revoked_by: frozenset[str] = frozenset()
    reads: tuple[int, ...] = ()
    """Positions in :attr:`Rulebook.features` of the features the badge reads (the fold
    computes only those after an event)."""
    level_count: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "level_count",
                           len(self.levels) if self.kind == "levelled" else 1)


@dataclass(frozen=True)
class Quest:
    """A time-boxed goal granting points or a badge once (mechanics/quests.py)."""

    id: str
    label: str
    first_day: int = 0
    """Local date ordinal of ``from`` (inclusive)."""
    last_day: int = 0
    """Local date ordinal of ``to`` (inclusive)."""
    kind: str = "count"
    """``count`` or ``sum``."""
    event_type: str = ""
    attribute: str | None = None
    """The attribute a ``sum`` adds up."""
    where: Expression | None = None
    at_least: Decimal = Decimal(1)
    points: int | None = None
    badge: str | None = None


@dataclass(frozen=True)
class Freezes:
    """A streak's allowance of frozen periods: at most ``max`` in each calendar block of
    ``every`` units (``unit``: day, week, month or year), blocks counted from the calendar's
    start (:meth:`block`)."""

    max: int
    every: int
    unit: str

    def block(self, calendar: Calendar, day: int) -> int:
        """The block containing a local day: the ``every``-unit block of its unit index,
        so 6-month blocks are January-June and July-December, 2-year blocks start in even
        years, and week blocks count ISO weeks from 0001-01-01 (a Monday)."""
        return calendar.period_index(day, self.unit) // self.every


@dataclass(frozen=True)
class Streak:
    """Consecutive periods with qualifying events (mechanics/streaks.py)."""

    id: str
    label: str
    on: str = ""
    """The event type counted."""
    period: str = "day"
    """``day``, ``week`` (ISO, from Monday) or ``month``, local to the program."""
    at_least: int = 1
    """Events of ``on`` (whose ``where`` holds) a period needs to qualify."""
    where: Expression | None = None
    freezes: Freezes | None = None


@dataclass(frozen=True)
class Leaderboard:
    """An opt-in ranking over a per-member metric (mechanics/leaderboards.py).

    The metric is a count or sum of one event type's events (optionally those whose
    ``where`` holds) within the current local ``period``: ``week`` (ISO, from Monday),
    ``month`` or ``all_time``."""

    id: str
    label: str
    kind: str = "count"
    """``count`` or ``sum``."""
    event_type: str = ""
    attribute: str | None = None
    """The summed attribute (``sum`` only)."""
    where: Expression | None = None
    period: str = "month"
    value_type: str = "int"
    """``int`` or ``decimal``: the metric's type (a count is an int)."""
    index: int = 0
    """Position in :attr:`Rulebook.leaderboards` (the mechanic keeps one value each)."""


@dataclass(frozen=True)
class Program:
    id: str
    name: str
    timezone: str
    wallet: str
    disputes: str = "exclude"
    """``exclude``: an event under an open dispute is left out of the fold until the
    operator decides; ``keep``: it counts until the dispute is accepted."""


@dataclass(frozen=True, kw_only=True)
class Rulebook:
    """Built by keyword: every section but the program is optional."""

    program: Program
    events: Mapping[str, EventType] = field(default_factory=dict)
    rules: tuple[PointRule, ...] = ()
    expire_after_days: int | None = None
    aggregates: tuple[Aggregate, ...] = ()
    features: tuple[Feature, ...] = ()
    score: Score | None = None
    tiers: Tiers | None = None
    perks: tuple[Perk, ...] = ()
    rewards: tuple[Reward, ...] = ()
    badges: tuple[Badge, ...] = ()
    quests: tuple[Quest, ...] = ()
    streaks: tuple[Streak, ...] = ()
    leaderboards: tuple[Leaderboard, ...] = ()
    version: int = 0
    digest: str = ""
    warnings: tuple[Problem, ...] = field(default=(), compare=False)
    """What the compiler's lint found: compiles, but may mislead (rulebook/lint.py)."""
    calendar: Calendar = field(init=False, compare=False, repr=False)
    rules_by_type: Mapping[str, tuple[PointRule, ...]] = field(init=False, compare=False,
                                                               repr=False)
    aggregates_by_type: Mapping[str, tuple[Aggregate, ...]] = field(init=False, compare=False,
                                                                    repr=False)
    any_aggregates: tuple[Aggregate, ...] = field(init=False, compare=False, repr=False)
    score_shares: tuple[Decimal, ...] = field(init=False, compare=False, repr=False)
    """Per factor, the score points it is worth at full marks: (high - low) * w / Σw."""
    match_targets: Mapping[str, str] = field(init=False, compare=False, repr=False)
    """Rule id -> attribute that a reversal rule matches its awards by."""
    reward_index: Mapping[str, Reward] = field(init=False, compare=False, repr=False)
    badges_by_type: Mapping[str, tuple[tuple[Badge, tuple[int, ...] | None, bool], ...]] = \
        field(init=False, compare=False, repr=False)
    """Event type -> the badges an event of it may change, in rulebook order, each with
    the aggregates to watch (see :attr:`badge_watch`; None: always re-check) and whether
    the type revokes it."""
    boards_by_type: Mapping[str, tuple[tuple[Leaderboard, int | None], ...]] = field(
        init=False, compare=False, repr=False)
    """Event type -> the leaderboards over it, each with an aggregate of the same event type
    and the same ``where`` (the features mechanic has evaluated it for the event already),
    or None."""
    badge_watch: Mapping[str, tuple[int, ...]] = field(init=False, compare=False, repr=False)
    """Badge id -> the aggregates behind it, for badges whose features change only when
    one of those aggregates does (no window, no days-since): the fold skips re-checking
    such a badge after an event that touched none of them."""
    member_attributes: Mapping[str, tuple[str, ...]] = field(init=False, compare=False,
                                                             repr=False)
    """Event type -> its ``member`` attributes (a referred person), for the ingest check
    that such a person is another, existing member."""
    plan: Plan = field(init=False, compare=False, repr=False)
    """Which mechanics the fold runs, and which of them each event type reaches."""
    partners: tuple[str, ...] = field(init=False, compare=False, repr=False)
    """Every partner some perk lists, in rulebook order: the only ones a member can grant
    consent to."""
    factor_sources: tuple[tuple[int, ...], ...] = field(init=False, compare=False,
                                                        repr=False)
    """Per score factor, the aggregates whose data it reads (a ratio's denominator: its
    population); a factor has no data while none of them saw a matching event in window."""
    absent_checked: tuple[int, ...] = field(init=False, compare=False, repr=False)
    """The factors with a ``when_absent``: the only ones whose absence changes the score,
    so the hot path checks no others."""
    score_features: tuple[Feature, ...] = field(init=False, compare=False, repr=False)
    """The features the score's factors read, in rulebook order: a stored summary computes
    only these."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "calendar", Calendar(self.program.timezone))
        by_type: dict[str, list[PointRule]] = {}
        for rule in self.rules:
            by_type.setdefault(rule.on, []).append(rule)
        set_(self, "rules_by_type", {k: tuple(v) for k, v in by_type.items()})
        aggs: dict[str, list[Aggregate]] = {}
        any_type = [a for a in self.aggregates if a.event_type is None]
        for name in self.events:
            aggs[name] = [a for a in self.aggregates if a.event_type in (name, None)]
        set_(self, "aggregates_by_type", {k: tuple(v) for k, v in aggs.items()})
        set_(self, "any_aggregates", tuple(any_type))
        shares: tuple[Decimal, ...] = ()
        if self.score is not None and self.score.factors:
            span = Decimal(self.score.high - self.score.low)
            total = sum((f.weight for f in self.score.factors), Decimal(0))
            shares = tuple(span * f.weight / total for f in self.score.factors)
        set_(self, "score_shares", shares)
        by_name = {f.name: f for f in self.features}
        sources: list[tuple[int, ...]] = []
        for factor in self.score.factors if self.score is not None else ():
            reads = [factor.feature] if factor.feature is not None else sorted(
                factor.expr.names if factor.expr is not None else ())
            population: set[int] = set()
            for n in reads:
                if (feat := by_name.get(n)) is not None:
                    population.add(feat.aggregate if feat.denominator is None
                                      else feat.denominator)
            sources.append(tuple(sorted(population)))
        set_(self, "factor_sources", tuple(sources))
        read = {n for factor in (self.score.factors if self.score is not None else ())
                for n in ([factor.feature] if factor.feature is not None
                          else factor.expr.names if factor.expr is not None else ())}
        set_(self, "score_features", tuple(f for f in self.features if f.name in read))
        set_(self, "absent_checked", tuple(
            i for i, f in enumerate(self.score.factors if self.score is not None else ())
            if f.when_absent is not None and sources[i]))
        set_(self, "match_targets",
             {r.reverses: r.match for r in self.rules if r.reverses and r.match})
        set_(self, "partners", tuple(dict.fromkeys(p for perk in self.perks
                                                   for p in perk.partners)))
        set_(self, "reward_index", {r.id: r for r in self.rewards})
        watch: dict[str, tuple[int, ...]] = {}
        for badge in self.badges:
            behind: list[int] = []
            static = bool(badge.reads)
            for i in badge.reads:
                f = self.features[i]
                behind += [f.aggregate] if f.denominator is None \
                    else [f.aggregate, f.denominator]
                static = static and f.kind in ("aggregate", "ratio")
            if static and all(self.aggregates[a].window_days is None for a in behind):
                watch[badge.id] = tuple(behind)
        set_(self, "badge_watch", watch)
        by_board_type: dict[str, list[tuple[Leaderboard, int | None]]] = {}
        for b in self.leaderboards:
            shared = next((a.index for a in self.aggregates if b.where is not None
                           and a.event_type == b.event_type and a.where is not None
                           and a.where.source == b.where.source), None)
            by_board_type.setdefault(b.event_type, []).append((b, shared))
        set_(self, "boards_by_type", {t: tuple(v) for t, v in by_board_type.items()})
        set_(self, "badges_by_type", {
            name: tuple((b, None if name in b.revoked_by else watch.get(b.id),
                         name in b.revoked_by)
                        for b in self.badges if b.listens is None or name in b.listens)
            for name in (*self.events, *BUILTIN_EVENTS)})
        set_(self, "member_attributes", {
            name: names for name, et in self.events.items()
            if (names := tuple(a.name for a in et.attributes.values() if a.type == "member"))})
        from plaudit.domain.mechanics import plan_for  # the mechanics read this module

        set_(self, "plan", plan_for(self))

    def aggregates_for(self, event_type: str) -> tuple[Aggregate, ...]:
        found = self.aggregates_by_type.get(event_type)
        if found is None:
            return self.any_aggregates
        return found

    def with_version(self, version: int) -> Rulebook:
        """The same rulebook stamped with the version it was published as."""
        return dataclasses.replace(self, version=version)


__all__ = [
    "BUILTIN_EVENTS",
    "MAX_SEED",
    "Absent",
    "Aggregate",
    "Attribute",
    "Badge",
    "Cap",
    "Curve",
    "EventType",
    "Factor",
    "Feature",
    "Freezes",
    "Leaderboard",
    "Level",
    "Multiplier",
    "Perk",
    "PointRule",
    "Program",
    "Quest",
    "Reward",
    "Rulebook",
    "Score",
    "Streak",
    "Tiers",
]
