"""The rulebook's YAML shape as pydantic models: every section optional, no unknown key.

This layer checks shape only (types, required keys, no extras). Meaning — names that must
exist, expressions that must type-check, levels that must be ordered — is checked by
:mod:`plaudit.rulebook.compiler`, which can point at the exact line and suggest a name.
"""

from __future__ import annotations

import types
import typing
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

Number = StrictInt | Decimal
Scalar = StrictBool | StrictInt | Decimal | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ProgramSpec(_Strict):
    id: str
    name: str
    timezone: str = "UTC"
    wallet: str = "points"
    disputes: Literal["exclude", "keep"] = "exclude"


class AttributeSpec(_Strict):
    type: str
    values: list[str] | None = None
    min: Number | None = None
    max: Number | None = None
    default: Scalar | None = None
    data_category: str | None = None
    """Declaring a special data category (health, religion, …) makes the rulebook refused."""


class EventSpec(_Strict):
    attributes: dict[str, AttributeSpec] = Field(default_factory=dict)


class MultiplierSpec(_Strict):
    when: str
    by: Annotated[Decimal, Field(gt=0, le=1000)]


class CapSpec(_Strict):
    max: Annotated[int, Field(ge=0)]
    per: str


class RuleSpec(_Strict):
    id: str
    on: str
    award: str | StrictInt | Decimal | None = None
    when: str | None = None
    multiply: list[MultiplierSpec] = Field(default_factory=list)
    cap: CapSpec | None = None
    once: bool = False
    once_per: str | None = None
    reverses: str | None = None
    match: str | None = None


class PointsSpec(_Strict):
    expire_after: str | None = None
    rules: list[RuleSpec] = Field(default_factory=list)


class AggregateSpec(_Strict):
    count: str | None = None
    sum: str | None = None
    min: str | None = None
    max: str | None = None
    distinct: str | None = None
    exists: str | None = None
    where: str | None = None
    window: str | None = None


class RatioSpec(_Strict):
    of: AggregateSpec
    to: AggregateSpec


class FeatureSpec(AggregateSpec):
    ratio: RatioSpec | None = None
    days_since_first: str | None = None
    days_since_last: str | None = None
    default: StrictBool | StrictInt | Decimal | None = None


class WhenAbsentSpec(_Strict):
    value: Annotated[Decimal, Field(ge=0, le=1)]
    reason: str


class FactorSpec(_Strict):
    id: str
    label: str
    weight: Annotated[Decimal, Field(gt=0, le=1_000_000)]
    from_: str | None = Field(default=None, alias="from")
    expr: str | None = None
    curve: list[tuple[Decimal, Decimal]] | None = None
    reason: str
    improve: str
    when_absent: WhenAbsentSpec | None = None


class LevelSpec(_Strict):
    name: str
    from_: Number = Field(alias="from")


class ScoreSpec(_Strict):
    range: tuple[StrictInt, StrictInt] = (350, 950)
    factors: list[FactorSpec]
    bands: list[LevelSpec] = Field(default_factory=list)


class TiersSpec(_Strict):
    basis: Literal["qualifying_points", "score"]
    window: str | None = None
    grace: str | None = None
    levels: list[LevelSpec]


class PerkSpec(_Strict):
    id: str
    label: str
    when: str
    partners: list[str] = Field(default_factory=list)
    valid_for: str = "1h"


# -- play sections (each compiled by rulebook/sections/<name>.py) ------------------------

class LimitSpec(_Strict):
    max: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    per: str


class AvailableSpec(_Strict):
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None


class RewardSpec(_Strict):
    id: str
    label: str
    cost: Annotated[StrictInt, Field(ge=0, le=10**12)]
    stock: Annotated[StrictInt, Field(ge=0, le=10**12)] | None = None
    limit: LimitSpec | None = None
    requires: str | None = None
    available: AvailableSpec | None = None


class BadgeSpec(_Strict):
    id: str
    label: str
    when: str | None = None
    """A one-off badge: a condition over features."""
    from_: str | None = Field(default=None, alias="from")
    """A levelled badge: the feature its ``levels`` are thresholds of."""
    levels: list[Number] | None = None
    revoked_by: list[str] = Field(default_factory=list)
    """Event types after which the badge is re-checked and levels no longer met revoked."""


class QuestGoalSpec(_Strict):
    count: str | None = None
    sum: str | None = None
    where: str | None = None
    at_least: Number


class QuestRewardSpec(_Strict):
    points: Annotated[int, Field(ge=1, le=10**12)] | None = None
    badge: str | None = None


class QuestSpec(_Strict):
    id: str
    label: str
    from_: str = Field(alias="from")
    to: str
    goal: QuestGoalSpec
    reward: QuestRewardSpec


class FreezesSpec(_Strict):
    max: Annotated[StrictInt, Field(ge=0, le=1000)]
    per: str
    """A block of the calendar: ``year``, ``6 months``, ``4 weeks``, ``30 days``, …"""


class StreakSpec(_Strict):
    id: str
    label: str
    on: str
    where: str | None = None
    period: str
    at_least: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = 1
    freezes: FreezesSpec | None = None


class MetricSpec(_Strict):
    count: str | None = None
    sum: str | None = None
    where: str | None = None


class LeaderboardSpec(_Strict):
    id: str
    label: str
    metric: MetricSpec
    period: str
    visibility: str = "opt_in"


class RulebookSpec(_Strict):
    program: ProgramSpec
    events: dict[str, EventSpec] = Field(default_factory=dict)
    points: PointsSpec | None = None
    features: dict[str, FeatureSpec] = Field(default_factory=dict)
    score: ScoreSpec | None = None
    tiers: TiersSpec | None = None
    perks: list[PerkSpec] = Field(default_factory=list)
    rewards: list[RewardSpec] = Field(default_factory=list)
    badges: list[BadgeSpec] = Field(default_factory=list)
    quests: list[QuestSpec] = Field(default_factory=list)
    streaks: list[StreakSpec] = Field(default_factory=list)
    leaderboards: list[LeaderboardSpec] = Field(default_factory=list)


def known_keys(model: type[BaseModel]) -> list[str]:
    """The YAML keys a model accepts (aliases where they differ from field names)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def model_at(root: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that sits at ``path`` inside ``root`` (for "did you mean" hints)."""
    current: Any = root
    for part in path:
        current = _strip_optional(current)
        origin = typing.get_origin(current)
        if origin in (list, tuple):
            current = typing.get_args(current)[0]
        elif origin is dict:
            current = typing.get_args(current)[1]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            found = [f for name, f in current.model_fields.items() if part in (name, f.alias)]
            if not found:
                return None
            current = found[0].annotation
        else:
            return None
    current = _strip_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        models = [a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)]
        if models:
            return models[0]
        if len(inner) == 1:
            return inner[0]
    return tp


__all__ = [
    "AggregateSpec",
    "AttributeSpec",
    "AvailableSpec",
    "BadgeSpec",
    "CapSpec",
    "EventSpec",
    "FactorSpec",
    "FeatureSpec",
    "FreezesSpec",
    "LeaderboardSpec",
    "LevelSpec",
    "LimitSpec",
    "MetricSpec",
    "MultiplierSpec",
    "PerkSpec",
    "PointsSpec",
    "ProgramSpec",
    "QuestGoalSpec",
    "QuestRewardSpec",
    "QuestSpec",
    "RatioSpec",
    "RewardSpec",
    "RuleSpec",
    "RulebookSpec",
    "ScoreSpec",
    "StreakSpec",
    "TiersSpec",
    "known_keys",
    "model_at",
]
