"""The fold's mechanics, in the order the fold runs them, and the per-rulebook plan.

Adding a mechanic means one module here (its per-member state, ``apply`` and ``view``), one
entry in :data:`MECHANICS`, and its section in the rulebook; docs/ARCHITECTURE.md lists
every file to touch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plaudit.domain.events import (
    BUILTIN_TYPES,
    CONSENT,
    FRIEND,
    LEADERBOARD,
    OPT_OUT,
    PSEUDONYM,
)
from plaudit.domain.mechanics.badges import BadgesPart
from plaudit.domain.mechanics.base import EVERY_BEHAVIOUR_EVENT, Mechanic, ViewContext
from plaudit.domain.mechanics.consents import ConsentsPart
from plaudit.domain.mechanics.features import FeaturesPart
from plaudit.domain.mechanics.leaderboards import LeaderboardsPart
from plaudit.domain.mechanics.participation import ParticipationPart
from plaudit.domain.mechanics.perks import PerksPart
from plaudit.domain.mechanics.points import PointsPart
from plaudit.domain.mechanics.quests import QuestsPart
from plaudit.domain.mechanics.rewards import RewardsPart
from plaudit.domain.mechanics.score import ScorePart
from plaudit.domain.mechanics.streaks import StreaksPart
from plaudit.domain.mechanics.tiers import TiersPart

if TYPE_CHECKING:
    from plaudit.domain.rulebook import Rulebook

MECHANICS: tuple[type[Mechanic], ...] = (
    ConsentsPart, PointsPart, FeaturesPart, ScorePart, TiersPart, PerksPart,
    RewardsPart, BadgesPart, QuestsPart, StreaksPart, LeaderboardsPart, ParticipationPart,
)
"""Fold order: an event reaches its listeners in this order, and a view is built in it
(features before the score, the score before the tier, all of them before perks;
participation last, since an opted-out member's view drops what the others built)."""

PREFERENCES = frozenset({CONSENT, LEADERBOARD, PSEUDONYM, FRIEND, OPT_OUT})
"""Built-in event types that record a member's choice, not behaviour: they never start a
member's first day nor reach a mechanic that listens to every behaviour event."""


@dataclass(frozen=True)
class Plan:
    """Which mechanics a rulebook uses and which of them each event type reaches."""

    kinds: tuple[type[Mechanic], ...]
    """Enabled mechanics, in fold order; the fold keeps one instance of each."""
    by_type: Mapping[str, tuple[int, ...]]
    """Event type -> positions in :attr:`kinds` of the mechanics it reaches, in order."""
    unknown: tuple[int, ...]
    """What an event of a type the rulebook no longer declares reaches (a stored event
    re-folded under a newer version): the mechanics that see every behaviour event."""
    watchers: Mapping[str, tuple[tuple[int, tuple[int, ...]], ...]]
    """Event type -> (position in :attr:`kinds`, aggregates) of mechanics that see an event
    of it only when it moved one of those aggregates (see ``Mechanic.watches``)."""
    paused: Plan | None = None
    """The plan while the member is opted out: every event type reaches participation
    alone, which refuses or skips it, or hands a withdrawal on (see
    :mod:`~plaudit.domain.mechanics.participation`). The fold swaps plans when the member
    opts out or in, so the hot loop never tests whether they are in."""
    scoring: bool = True
    """False for the paused plan: no event starts the member's first day."""


def plan_for(rulebook: Rulebook) -> Plan:
    kinds = tuple(k for k in MECHANICS if k.enabled(rulebook))
    types = [*rulebook.events, *sorted(BUILTIN_TYPES)]
    by_type: dict[str, list[int]] = {t: [] for t in types}
    unknown: list[int] = []
    watchers: dict[str, list[tuple[int, tuple[int, ...]]]] = {}
    for i, kind in enumerate(kinds):
        for t, aggregates in kind.watches(rulebook).items():
            watchers.setdefault(t, []).append((i, aggregates))
        listens = kind.listens(rulebook)
        if listens is EVERY_BEHAVIOUR_EVENT:
            unknown.append(i)
            for t in types:
                if t not in PREFERENCES:
                    by_type[t].append(i)
        else:
            for t in dict.fromkeys(listens):
                by_type.setdefault(t, []).append(i)
    gate = (kinds.index(ParticipationPart),)
    paused = Plan(kinds, {t: gate for t in by_type}, gate, {}, scoring=False)
    return Plan(kinds, {t: tuple(v) for t, v in by_type.items()}, tuple(unknown),
                {t: tuple(v) for t, v in watchers.items()}, paused)


__all__ = ["MECHANICS", "PREFERENCES", "Mechanic", "Plan", "ViewContext", "plan_for"]
