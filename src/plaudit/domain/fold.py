"""The fold: ``state(member, as_of) = fold(rulebook, events of member with at <= as_of, as_of)``.

:class:`MemberFold` is the running accumulator: a thin orchestrator over the rulebook's
mechanics (points, features, score, tiers, perks, consents, …; see
:mod:`plaudit.domain.mechanics`), each holding its own part of the member's state. It
applies one member's events strictly in ``(at, id)`` order, handing each event to the
mechanics the rulebook's plan lists for its type, and answers :meth:`MemberFold.view` for
any as-of time at or after the last event. Everything the mechanics keep is a running
total or bounded by a window in days, so the ingest path can keep hot members in memory
and apply new events incrementally; a late event (ordered before the last applied one)
raises :class:`LateEvent` and the caller re-folds that member from its stored events with
:func:`fold`.

Features, score, band, tier and perks are computed only when asked, at the as-of time: they
depend on time (windows, expiry, grace), not only on events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from plaudit.domain.events import Event
from plaudit.domain.mechanics import PREFERENCES, Mechanic, Plan, ViewContext
from plaudit.domain.mechanics.badges import BadgesPart
from plaudit.domain.mechanics.consents import ConsentsPart
from plaudit.domain.mechanics.features import FeaturesPart
from plaudit.domain.mechanics.leaderboards import LeaderboardsPart
from plaudit.domain.mechanics.participation import ParticipationPart
from plaudit.domain.mechanics.points import PointsPart
from plaudit.domain.mechanics.quests import QuestsPart
from plaudit.domain.mechanics.rewards import RewardsPart
from plaudit.domain.mechanics.score import score_of
from plaudit.domain.mechanics.streaks import StreaksPart
from plaudit.domain.mechanics.tiers import TiersPart
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.state import MemberState, Summary

MAX_WARNINGS = 50


class LateEvent(Exception):
    """The event sorts before the last applied one: re-fold the member from its events."""


class MemberFold:
    """The accumulator for one member under one rulebook version."""

    __slots__ = ("badges", "checking", "consents", "features", "first_day", "last_key",
                 "leaderboards",
                 "member", "participation", "parts", "perks", "plan", "points", "position",
                 "quests", "revision", "rewards", "rulebook", "score", "snapshot_at", "streaks",
                 "tiers",
                 "warnings")

    # One attribute per mechanic (its ``name``), None when the rulebook does not use it:
    # mechanics reach their siblings through these.
    consents: ConsentsPart
    points: PointsPart
    features: FeaturesPart | None
    tiers: TiersPart | None
    score: Mechanic | None
    perks: Mechanic | None
    rewards: RewardsPart | None
    badges: BadgesPart | None
    quests: QuestsPart | None
    streaks: StreaksPart | None
    leaderboards: LeaderboardsPart | None
    participation: ParticipationPart
    plan: Plan
    """The rulebook's plan, or its paused plan while the member is opted out."""

    def __init__(self, rulebook: Rulebook, member: str, *, history: bool = False) -> None:
        self.rulebook = rulebook
        self.member = member
        self.position = 0
        self.revision = 0
        """Never read by the fold: the stored state's revision the accumulator was folded
        for (see the application's cache), since position alone no longer tells which
        events it holds once a dispute can leave one out."""
        self.snapshot_at = 0
        """Never read by the fold either: the position of the last snapshot of this
        accumulator the application wrote or restored (it writes the next one after
        enough events, see :mod:`plaudit.application.snapshots`)."""
        self.last_key: tuple[int, str] | None = None
        self.first_day: int | None = None
        self.warnings: list[str] = []
        self.plan = rulebook.plan
        self.checking = False
        """True while applying a new command event whose conditions must hold (a
        redemption's requirement, limit and dates), not a stored fact being re-folded."""
        self.features = self.tiers = self.score = self.perks = None
        self.rewards = self.badges = self.quests = self.streaks = self.leaderboards = None
        parts: list[Mechanic] = []
        for kind in rulebook.plan.kinds:
            part = kind(rulebook, history)
            parts.append(part)
            setattr(self, kind.name, part)
        self.parts = tuple(parts)

    # -- applying events ----------------------------------------------------------------

    def apply(self, event: Event, *, strict: bool = False, check: bool | None = None) -> None:
        """Apply one event; ``strict`` refuses a spend or redemption the balance does not
        cover; ``check`` (default: ``strict``) also refuses a command whose conditions do
        not hold at its time (see :attr:`checking`)."""
        key = (event.at_us, event.id)
        if self.last_key is not None and key <= self.last_key:
            raise LateEvent(event.id)
        rb = self.rulebook
        day = rb.calendar.day(event.at_us)
        plan = self.plan
        if self.first_day is None and event.type not in PREFERENCES and plan.scoring:
            self.first_day = day
            if self.tiers is not None:
                self.tiers.started(day)
        parts = self.parts
        self.checking = strict if check is None else check
        for i in plan.by_type.get(event.type, plan.unknown):
            parts[i].apply(self, event, day, strict)
        watchers = plan.watchers.get(event.type)
        if watchers is not None and self.features is not None:
            stamps, position = self.features.stamps, self.position
            for i, aggregates in watchers:
                for a in aggregates:
                    if stamps[a] == position:  # the features mechanic moved it just now
                        parts[i].apply(self, event, day, strict)
                        break
        self.position += 1
        self.last_key = key

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)

    # -- reading state at an as-of time -------------------------------------------------

    def _check_as_of(self, as_of_us: int) -> int:
        if self.last_key is not None and as_of_us < self.last_key[0]:
            raise ValueError("as_of is before the last applied event: fold from events")
        return self.rulebook.calendar.day(as_of_us)

    def features_on(self, day: int) -> dict[str, Any]:
        """Every feature's value on a local day at or after the last applied event's."""
        return self.features.values(self.rulebook, day) if self.features is not None else {}

    def absent_on(self, day: int) -> frozenset[int]:
        """The score factors with a ``when_absent`` that have no data on ``day``."""
        rb = self.rulebook
        if not rb.absent_checked or self.features is None:
            return frozenset()
        return self.features.absent(rb, day, rb.absent_checked)

    def score_on(self, day: int) -> tuple[int, str | None]:
        """Score and band on a local day at or after the last applied event's day."""
        rb = self.rulebook
        feats = self.features.values(rb, day, rb.score_features) \
            if self.features is not None else {}
        return score_of(rb, feats, self.absent_on(day))

    def summary(self, as_of_us: int) -> Summary:
        """The stored columns: cheaper than :meth:`view` (no lots, perks or history)."""
        day = self._check_as_of(as_of_us)
        rb = self.rulebook
        score, band = self.score_on(day) if rb.score is not None else (None, None)
        tier = self.tiers.name_on(self, day, score) if self.tiers is not None else None
        if self.participation.opted_out:
            score = band = tier = None
        return Summary(self.points.ledger.balance_at(as_of_us), score, band, tier,
                       self.consents.granted())

    def view(self, as_of_us: int) -> MemberState:
        day = self._check_as_of(as_of_us)
        rb = self.rulebook
        ctx = ViewContext(as_of_us, day, [])
        for part in self.parts:
            part.view(self, ctx)
        return MemberState(
            member=self.member,
            as_of=rb.calendar.iso(as_of_us),
            rulebook_version=rb.version,
            events=self.position,
            last_event=self.last_key[1] if self.last_key else None,
            features=ctx.features,
            score=ctx.score,
            tier=ctx.tier,
            warnings=(*self.warnings,
                      *ctx.notes[:max(0, MAX_WARNINGS - len(self.warnings))]),
            **ctx.out,
        )


def fold(rulebook: Rulebook, member: str, events: Iterable[Event], as_of_us: int, *,
         history: bool = True) -> MemberState:
    """The member's state at ``as_of_us`` from their events, in any order."""
    acc = fold_events(rulebook, member, events, as_of_us, history=history)
    return acc.view(as_of_us)


def fold_events(rulebook: Rulebook, member: str, events: Iterable[Event],
                as_of_us: int | None = None, *, history: bool = False,
                strict: bool = False, start: MemberFold | None = None) -> MemberFold:
    """An accumulator with every event at or before ``as_of_us`` applied in order (to
    ``start``, a restored snapshot, when given: then ``events`` are those after it)."""
    acc = start if start is not None else MemberFold(rulebook, member, history=history)
    ordered = sorted(events, key=lambda e: (e.at_us, e.id))
    for event in ordered:
        if as_of_us is not None and event.at_us > as_of_us:
            break
        acc.apply(event, strict=strict)
    return acc


__all__ = ["LateEvent", "MemberFold", "fold", "fold_events"]
