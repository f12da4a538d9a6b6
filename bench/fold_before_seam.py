"""Frozen copy of domain/fold.py as it was before the mechanics seam (2026-12-02), kept so
bench/ingest.py can time the fold before and after in the same run. Not part of the package.

The fold: ``state(member, as_of) = fold(rulebook, events of member with at <= as_of, as_of)``.

:class:`MemberFold` is the running accumulator. It applies one member's events strictly in
``(at, id)`` order and answers :meth:`MemberFold.view` for any as-of time at or after the last
event. Everything it keeps is either a running total or bounded by a window in days, so the
ingest path can keep hot members in memory and apply new events incrementally; a late event
(ordered before the last applied one) raises :class:`LateEvent` and the caller re-folds that
member from its stored events with :func:`fold`.

Two phases per event:

1. the **ledger**: point rules turn the event into awards (lots), honouring conditions,
   multipliers, caps per period, ``once``, ``once_per`` and reversals; spends and expiry take
   the oldest lots first;
2. the **aggregates**: every feature's running aggregate sees the event if its ``where``
   holds.

Features, score, band, tier and perks are computed only when asked, at the as-of time: they
depend on time (windows, expiry, grace), not only on events.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from plaudit.domain.aggregates import AggregateState, DayMarks, new_state
from plaudit.domain.calendar import US_PER_DAY
from plaudit.domain.errors import EvaluationError, InsufficientPoints
from plaudit.domain.events import CONSENT, SPEND, Event
from plaudit.domain.ledger import Ledger, Lot
from plaudit.domain.rulebook import PointRule, Rulebook
from plaudit.domain.state import (
    Award,
    ConsentView,
    Expiry,
    FactorView,
    LotView,
    MemberState,
    NextLevel,
    PerkView,
    Points,
    Reason,
    ScoreView,
    Summary,
    TierView,
)
from plaudit.domain.tiers import QualifyingPoints, level_index

MAX_REASONS = 4
MAX_WARNINGS = 50
_ONE = Decimal(1)
_ZERO = Decimal(0)
_RATIO_PLACES = Decimal("0.000001")
_SHOWN_PLACES = Decimal("0.1")


class LateEvent(Exception):
    """The event sorts before the last applied one: re-fold the member from its events."""


class MemberFold:
    """The accumulator for one member under one rulebook version."""

    __slots__ = ("aggregates", "caps", "consents", "first_day", "history", "last_key",
                 "ledger", "matches", "member", "once", "once_per", "position", "qualifying",
                 "rulebook", "score_levels", "warnings")

    def __init__(self, rulebook: Rulebook, member: str, *, history: bool = False) -> None:
        self.rulebook = rulebook
        self.member = member
        self.history: list[Award] | None = [] if history else None
        self.position = 0
        self.last_key: tuple[int, str] | None = None
        self.first_day: int | None = None
        self.ledger = Ledger()
        self.caps: dict[str, list[int]] = {}
        self.once: set[str] = set()
        self.once_per: dict[str, set[Any]] = {}
        self.matches: dict[str, dict[Any, list[Lot]]] = {
            rule: {} for rule in rulebook.match_targets}
        self.aggregates: list[AggregateState] = [new_state(a) for a in rulebook.aggregates]
        tiers = rulebook.tiers
        self.qualifying: QualifyingPoints | None = None
        if tiers is not None and tiers.basis == "qualifying_points":
            self.qualifying = QualifyingPoints(
                tiers.levels, lambda day, _first: self._window_start(day),
                (tiers.window_days or 367) + tiers.grace_days + 1, tiers.grace_days)
        self.score_levels: deque[tuple[int, int]] | None = (
            deque() if tiers is not None and tiers.basis == "score" and tiers.grace_days
            else None)
        self.warnings: list[str] = []
        self.consents: dict[str, tuple[bool, str]] = {}
        """Partner -> (granted, local time of the latest grant or revocation)."""

    # -- applying events ----------------------------------------------------------------

    def apply(self, event: Event, *, strict: bool = False) -> None:
        """Apply one event; ``strict`` refuses a spend the balance does not cover."""
        key = (event.at_us, event.id)
        if self.last_key is not None and key <= self.last_key:
            raise LateEvent(event.id)
        if event.type == CONSENT:  # never behaviour: no points, features or first day
            self.consents[event.attributes["partner"]] = (bool(event.attributes["granted"]),
                                                          self._local(event.at_us))
            self.position += 1
            self.last_key = key
            return
        rb = self.rulebook
        day = rb.calendar.day(event.at_us)
        if self.first_day is None:
            self.first_day = day
        if self.ledger.lots:
            self.ledger.expire_until(event.at_us)
        attrs = event.attributes
        if event.type == SPEND:
            self._spend(event, strict)
        else:
            for rule in rb.rules_by_type.get(event.type, ()):
                try:
                    self._rule(rule, event, day)
                except EvaluationError as e:
                    self._warn(f"event {event.id}: rule {rule.id}: {e}")
        aggregates = self.aggregates
        for agg in rb.aggregates_by_type.get(event.type) or rb.any_aggregates:
            where = agg.where
            if where is not None:
                try:
                    if not where(attrs):
                        continue
                except EvaluationError as e:
                    self._warn(f"event {event.id}: aggregate {agg.kind}: {e}")
                    continue
            if agg.kind == "count":
                aggregates[agg.index].add(day, 1)
            elif agg.attribute is not None:
                aggregates[agg.index].add(day, attrs[agg.attribute])
            else:
                aggregates[agg.index].add(day, None)
        self.position += 1
        self.last_key = key
        if self.score_levels is not None:
            self._record_score_level(event.at_us, day)

    def _warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)

    def _rule(self, rule: PointRule, event: Event, day: int) -> None:
        attrs = event.attributes
        if rule.reverses is not None:
            self._reverse(rule, event, day)
            return
        if rule.once and rule.id in self.once:
            return
        once_key = None
        if rule.once_per is not None:
            once_key = attrs[rule.once_per]
            if rule.self_member_attribute and once_key == event.member:
                self._note(rule, event, 0, "award", "not awarded: names the member itself")
                return
            if once_key in self.once_per.get(rule.id, ()):
                return
        if rule.when is not None and not rule.when(attrs):
            return
        assert rule.award is not None
        raw = rule.award(attrs)
        for m in rule.multiply:
            if m.when(attrs):
                raw = raw * m.by
        if raw <= 0:
            return
        points = raw if type(raw) is int else int(raw)  # floor: raw is positive here
        if points == 0:  # below one point: not an award, so `once` is not used up
            return
        note = None
        cap = rule.cap
        if cap is not None:
            period = self.rulebook.calendar.period(day, cap.per)
            used = self.caps.get(rule.id)
            if used is None or used[0] != period:
                used = [period, 0]
                self.caps[rule.id] = used
            room = cap.max - used[1]
            if points > room:
                note = f"capped at {cap.max} per {cap.per}: {points} asked, {max(room, 0)} given"
                points = room
            if points <= 0:
                self._note(rule, event, 0, "award", note)
                return
            used[1] += points
        if rule.once:
            self.once.add(rule.id)
        if once_key is not None:
            self.once_per.setdefault(rule.id, set()).add(once_key)
        rb = self.rulebook
        expires = (event.at_us + rb.expire_after_days * US_PER_DAY
                   if rb.expire_after_days is not None else None)
        lot = Lot(event.at_us, expires, points, rule.id, event.id, rb.version)
        self.ledger.award(lot)
        match_attr = rb.match_targets.get(rule.id)
        if match_attr is not None:
            index = self.matches[rule.id]
            index.setdefault(attrs[match_attr], []).append(lot)
            if len(index) % 512 == 0:
                _forget_expired(index)
        if self.qualifying is not None:
            self.qualifying.add(day, points)
        if self.history is not None:
            self._note(rule, event, points, "award", note)

    def _reverse(self, rule: PointRule, event: Event, day: int) -> None:
        assert rule.reverses is not None and rule.match is not None
        lots = self.matches[rule.reverses].pop(event.attributes[rule.match], None)
        if not lots or _all_expired_unspent(lots):
            note = "nothing to reverse" if not lots else "nothing to reverse: points expired"
            self._note(rule, event, 0, "reversal", note)
            return
        result = self.ledger.claw_back(lots, event.at_us)
        if self.qualifying is not None:
            self.qualifying.add(day, -sum(lot.points for lot in lots))
        unrecovered = (f"{result.unrecovered} already spent, not recovered"
                       if result.unrecovered else None)
        self._note(rule, event, -result.taken, "reversal", unrecovered)

    def _spend(self, event: Event, strict: bool) -> None:
        wanted = int(event.attributes["points"])
        ledger = self.ledger
        if strict:
            balance = ledger.balance()
            if wanted > balance:
                raise InsufficientPoints(
                    f"spends {wanted} but the balance at {event.at} is {balance}",
                    event_id=event.id)
        taken = ledger.spend(wanted, event.at_us)
        note = None if taken == wanted else f"only {taken} of {wanted} available"
        if note:
            self._warn(f"event {event.id}: spend {note}")
        if self.history is not None:
            self.history.append(Award(SPEND, event.id, self.rulebook.version,
                                      self._local(event.at_us), -taken, "spend", note))

    def _note(self, rule: PointRule, event: Event, points: int, kind: str,
              note: str | None) -> None:
        if self.history is not None:
            self.history.append(Award(rule.id, event.id, self.rulebook.version,
                                      self._local(event.at_us), points, kind, note))

    def _record_score_level(self, at_us: int, day: int) -> None:
        tiers = self.rulebook.tiers
        levels = self.score_levels
        assert tiers is not None and levels is not None
        feats = self.features(day)
        idx = level_index(tiers.levels, self._score_value(self._factor_inputs(feats))[0])
        if levels and levels[-1][0] == day:
            if idx > levels[-1][1]:
                levels[-1] = (day, idx)
        else:
            levels.append((day, idx))
        while levels[0][0] < day - tiers.grace_days:
            levels.popleft()

    # -- reading state at an as-of time -------------------------------------------------

    def _local(self, at_us: int) -> str:
        return self.rulebook.calendar.iso(at_us)

    def _check_as_of(self, as_of_us: int) -> int:
        if self.last_key is not None and as_of_us < self.last_key[0]:
            raise ValueError("as_of is before the last applied event: fold from events")
        return self.rulebook.calendar.day(as_of_us)

    def features(self, day: int) -> dict[str, Any]:
        rb = self.rulebook
        values = [state.value(day) for state in self.aggregates]
        result: dict[str, Any] = {}
        for f in rb.features:
            if f.kind == "aggregate":
                v = values[f.aggregate]
                kind = rb.aggregates[f.aggregate].kind
                if kind == "exists":
                    v = v is not None
                elif v is None:
                    v = f.default
            elif f.kind == "ratio":
                assert f.denominator is not None
                den = values[f.denominator]
                v = (Decimal(values[f.aggregate]) / Decimal(den)).quantize(_RATIO_PLACES) \
                    if den else f.default
            else:
                state = self.aggregates[f.aggregate]
                assert isinstance(state, DayMarks)
                seen = state.first if f.kind == "days_since_first" else state.last
                v = f.default if seen is None else day - seen
            result[f.name] = v
        return result

    def _factor_inputs(self, feats: dict[str, Any], notes: list[str] | None = None
                       ) -> list[tuple[Any, Decimal]]:
        """Each factor's input and curve value in [0, 1]. A factor that fails is noted in
        ``notes`` (a view's own list): reads never change the accumulator, so reading a
        cached member twice cannot repeat a warning."""
        sc = self.rulebook.score
        assert sc is not None
        out = []
        for factor in sc.factors:
            if factor.feature is not None:
                x = feats[factor.feature]
            else:
                assert factor.expr is not None
                try:
                    x = factor.expr(feats)
                except EvaluationError as e:
                    if notes is not None:
                        notes.append(f"factor {factor.id}: {e}; counted as 0")
                    x = 0
            xd = Decimal(int(x)) if isinstance(x, bool) else Decimal(x)
            c = factor.curve(xd) if factor.curve is not None else min(max(xd, _ZERO), _ONE)
            out.append((x, c))
        return out

    def _score_value(self, inputs: list[tuple[Any, Decimal]]) -> tuple[int, str | None]:
        sc = self.rulebook.score
        assert sc is not None
        gained = sum((share * c for share, (_, c) in zip(self.rulebook.score_shares, inputs,
                                                           strict=True)), _ZERO)
        value = int((Decimal(sc.low) + gained).quantize(_ONE, ROUND_HALF_UP))
        value = min(max(value, sc.low), sc.high)
        band_idx = level_index(sc.bands, value) if sc.bands else -1
        return value, sc.bands[band_idx].name if band_idx >= 0 else None

    def _score(self, feats: dict[str, Any], notes: list[str]) -> ScoreView:
        sc = self.rulebook.score
        assert sc is not None
        inputs = self._factor_inputs(feats, notes)
        views: list[FactorView] = []
        losses: list[tuple[Decimal, int, Reason]] = []
        for i, (factor, share, (x, c)) in enumerate(zip(sc.factors, self.rulebook.score_shares,
                                                        inputs, strict=True)):
            points = share * c
            lost = share - points
            shown_lost = lost.quantize(_SHOWN_PLACES, ROUND_HALF_UP)
            views.append(FactorView(factor.id, factor.label, factor.weight, x,
                                    c.quantize(_RATIO_PLACES),
                                    points.quantize(_SHOWN_PLACES, ROUND_HALF_UP), shown_lost))
            if lost > 0:
                losses.append((lost, i, Reason(factor.id, factor.label, factor.reason,
                                               factor.improve, shown_lost)))
        value, band = self._score_value(inputs)
        losses.sort(key=lambda t: (-t[0], t[1]))
        return ScoreView(value, band, (sc.low, sc.high), tuple(views),
                         tuple(r for _, _, r in losses[:MAX_REASONS]))

    def _window_start(self, day: int) -> int:
        tiers = self.rulebook.tiers
        assert tiers is not None
        if tiers.window == "calendar_year":
            return self.rulebook.calendar.year_start(day)
        if tiers.window == "anniversary":
            first = self.first_day if self.first_day is not None else day
            return self.rulebook.calendar.anniversary_start(first, day)
        return day - (tiers.window_days or 365) + 1

    def _tier(self, day: int, score: int | None) -> TierView:
        tiers = self.rulebook.tiers
        assert tiers is not None
        levels = tiers.levels
        top = len(levels) - 1
        grace = tiers.grace_days
        held_until_day: int | None = None
        value: Decimal | int
        if tiers.basis == "score":
            value = score if score is not None else 0
            earned = level_index(levels, value)
            held = earned
            if self.score_levels:
                recent = [(d, i) for d, i in self.score_levels if d >= day - grace]
                held = max([earned] + [i for _, i in recent])
                if held > earned:
                    last = max(d for d, i in recent if i >= held)
                    held_until_day = last + grace
        else:
            assert self.qualifying is not None
            value = self.qualifying.at(day)
            earned, held, held_until_day = self.qualifying.held(day, grace, self.first_day)
        nxt = None
        if held < top:
            following = levels[held + 1]
            missing = max(following.start - Decimal(value), _ZERO)
            nxt = NextLevel(following.name, following.start, missing)
        held_until = (self.rulebook.calendar.date(held_until_day).isoformat()
                      if held_until_day is not None else None)
        return TierView(levels[held].name, levels[earned].name, tiers.basis, value,
                        held_until, nxt)

    def score_on(self, day: int) -> tuple[int, str | None]:
        """Score and band on a local day at or after the last applied event's day."""
        return self._score_value(self._factor_inputs(self.features(day)))

    def summary(self, as_of_us: int) -> Summary:
        """The stored columns: cheaper than :meth:`view` (no lots, perks or history)."""
        day = self._check_as_of(as_of_us)
        rb = self.rulebook
        score, band = (self._score_value(self._factor_inputs(self.features(day)))
                       if rb.score is not None else (None, None))
        tier = self._tier(day, score) if rb.tiers is not None else None
        return Summary(self.ledger.balance_at(as_of_us), score, band,
                       tier.name if tier else None,
                       tuple(sorted(p for p, (granted, _) in self.consents.items() if granted)))

    def view(self, as_of_us: int) -> MemberState:
        day = self._check_as_of(as_of_us)
        rb = self.rulebook
        feats = self.features(day)
        notes: list[str] = []
        score = self._score(feats, notes) if rb.score is not None else None
        tier = self._tier(day, score.value if score else None) if rb.tiers is not None \
            else None
        perks = self._perks(feats, score, tier, notes)
        return MemberState(
            member=self.member,
            as_of=self._local(as_of_us),
            rulebook_version=rb.version,
            events=self.position,
            last_event=self.last_key[1] if self.last_key else None,
            points=self._points(as_of_us),
            features=feats,
            score=score,
            tier=tier,
            perks=perks,
            awards=tuple(self.history) if self.history is not None else None,
            warnings=(*self.warnings, *notes[:max(0, MAX_WARNINGS - len(self.warnings))]),
            consents=tuple(ConsentView(partner, granted, at) for partner, (granted, at)
                           in sorted(self.consents.items())),
        )

    def _perks(self, feats: dict[str, Any], score: ScoreView | None,
               tier: TierView | None, notes: list[str]) -> tuple[PerkView, ...]:
        rb = self.rulebook
        if not rb.perks:
            return ()
        ctx = dict(feats)
        if score is not None:
            ctx["score"] = score.value
            ctx["band"] = [b.name for b in rb.score.bands].index(score.band) \
                if rb.score is not None and score.band is not None else -1
        if tier is not None and rb.tiers is not None:
            ctx["tier"] = [lv.name for lv in rb.tiers.levels].index(tier.name)
        views = []
        for perk in rb.perks:
            try:
                ok = bool(perk.when(ctx))
            except EvaluationError as e:
                notes.append(f"perk {perk.id}: {e}; not eligible")
                ok = False
            views.append(PerkView(perk.id, perk.label, ok, perk.partners))
        return tuple(views)

    def _points(self, as_of_us: int) -> Points:
        ledger = self.ledger
        live: list[LotView] = []
        expiring: dict[str, int] = {}
        late_expired = 0
        iso = self.rulebook.calendar.iso
        for lot in ledger.lots:
            if lot.remaining == 0:
                continue
            if not lot.live_at(as_of_us):
                late_expired += lot.remaining
                continue
            # A read lists every live lot, and formatting its two local times was most of
            # a read's cost: each lot keeps its last view, rebuilt only when its remaining
            # points changed (everything else about a lot is fixed once it exists).
            view = lot.shown
            if view is None or view.remaining != lot.remaining:
                if view is None:
                    expires = iso(lot.expires_us) if lot.expires_us is not None else None
                    view = LotView(iso(lot.at_us), expires, lot.points, lot.remaining,
                                   lot.rule, lot.event_id, lot.version)
                else:
                    view = dataclasses.replace(view, remaining=lot.remaining)
                lot.shown = view
            live.append(view)
            if view.expires_at is not None:
                date = view.expires_at[:10]  # the local date of the expiry instant
                expiring[date] = expiring.get(date, 0) + lot.remaining
        return Points(
            balance=sum(v.remaining for v in live),
            earned=ledger.earned,
            spent=ledger.spent,
            expired=ledger.expired + late_expired,
            reversed=ledger.reversed,
            unrecovered=ledger.unrecovered,
            lots=tuple(live),
            expiring=tuple(Expiry(d, p) for d, p in sorted(expiring.items())),
        )


def _forget_expired(index: dict[Any, list[Lot]]) -> None:
    """Drop reversal entries that can no longer claw anything back: every lot behind them
    expired without a point spent (a clawback takes neither remaining nor spent points
    then). Keeps the index bounded by the expiry period instead of by all history."""
    for key in [key for key, lots in index.items() if _all_expired_unspent(lots)]:
        del index[key]


def _all_expired_unspent(lots: list[Lot]) -> bool:
    return all(lot.expired == lot.points for lot in lots)


def fold(rulebook: Rulebook, member: str, events: Iterable[Event], as_of_us: int, *,
         history: bool = True) -> MemberState:
    """The member's state at ``as_of_us`` from their events, in any order."""
    acc = fold_events(rulebook, member, events, as_of_us, history=history)
    return acc.view(as_of_us)


def fold_events(rulebook: Rulebook, member: str, events: Iterable[Event],
                as_of_us: int | None = None, *, history: bool = False,
                strict: bool = False) -> MemberFold:
    """An accumulator with every event at or before ``as_of_us`` applied in order."""
    acc = MemberFold(rulebook, member, history=history)
    ordered = sorted(events, key=lambda e: (e.at_us, e.id))
    for event in ordered:
        if as_of_us is not None and event.at_us > as_of_us:
            break
        acc.apply(event, strict=strict)
    return acc


__all__ = ["LateEvent", "MemberFold", "fold", "fold_events"]
