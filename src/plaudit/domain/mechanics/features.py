"""Features: per-member running aggregates, read as named values at a day.

Every aggregate of the event type (and of ``any``) whose ``where`` holds is updated; the
compiler shares identical aggregate definitions across features. Values depend on the
as-of day (windows), so features are computed only when a view asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from plaudit.domain.aggregates import AggregateState, DayMarks, new_state
from plaudit.domain.errors import EvaluationError
from plaudit.domain.events import Event
from plaudit.domain.mechanics.base import EVERY_BEHAVIOUR_EVENT, Mechanic, ViewContext
from plaudit.domain.rulebook import Feature, Rulebook

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold
    from plaudit.domain.ledger import LotTable

_RATIO_PLACES = Decimal("0.000001")


class FeaturesPart(Mechanic):
    __slots__ = ("aggregates", "stamps")
    name = "features"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return bool(rulebook.aggregates)

    @classmethod
    def listens(cls, rulebook: Rulebook) -> Iterable[str] | None:
        if rulebook.any_aggregates:
            return EVERY_BEHAVIOUR_EVENT
        return [t for t, aggs in rulebook.aggregates_by_type.items() if aggs]

    def __init__(self, rulebook: Rulebook, history: bool = False) -> None:
        self.aggregates: list[AggregateState] = [new_state(a) for a in rulebook.aggregates]
        self.stamps = [-1] * len(rulebook.aggregates)
        """Per aggregate, the fold position of the last event that updated it (a badge
        over unwindowed features is re-checked only when one of its aggregates moved)."""

    def apply(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        rb = fold.rulebook
        attrs = event.attributes
        aggregates = self.aggregates
        for agg in rb.aggregates_by_type.get(event.type) or rb.any_aggregates:
            where = agg.where
            if where is not None:
                try:
                    if not where(attrs):
                        continue
                except EvaluationError as e:
                    fold.warn(f"event {event.id}: aggregate {agg.kind}: {e}")
                    continue
            self.stamps[agg.index] = fold.position
            if agg.kind == "count":
                aggregates[agg.index].add(day, 1)
            elif agg.attribute is not None:
                aggregates[agg.index].add(day, attrs[agg.attribute])
            else:
                aggregates[agg.index].add(day, None)

    def values(self, rulebook: Rulebook, day: int,
               features: Iterable[Feature] | None = None) -> dict[str, Any]:
        """Every feature's value (or only those of ``features``) on ``day``, at or after
        the last applied event's day."""
        return {f.name: self.value(rulebook, f, day)
                for f in (rulebook.features if features is None else features)}

    def value(self, rulebook: Rulebook, feature: Feature, day: int) -> Any:
        """One feature's value on ``day``, reading only its own aggregates: a mechanic that
        tests a few features after an event (badges) need not compute all of them."""
        states = self.aggregates
        if feature.kind == "aggregate":
            v = states[feature.aggregate].value(day)
            if rulebook.aggregates[feature.aggregate].kind == "exists":
                return v is not None
            return feature.default if v is None else v
        if feature.kind == "ratio":
            assert feature.denominator is not None
            den = states[feature.denominator].value(day)
            if not den:
                return feature.default
            num = states[feature.aggregate].value(day)
            return (Decimal(num) / Decimal(den)).quantize(_RATIO_PLACES)
        state = states[feature.aggregate]
        assert isinstance(state, DayMarks)
        seen = state.first if feature.kind == "days_since_first" else state.last
        return feature.default if seen is None else day - seen

    def absent(self, rulebook: Rulebook, day: int, factors: Iterable[int]) -> frozenset[int]:
        """Which of ``factors`` (score factor positions) have no data on ``day``: none of
        the aggregates behind them saw a matching event (in window)."""
        stamps, states = self.stamps, self.aggregates
        return frozenset(
            i for i in factors
            if (behind := rulebook.factor_sources[i])
            and not any(stamps[a] >= 0 and states[a].present(day) for a in behind))

    def dump(self, lots: LotTable) -> Any:
        return [[a.dump() for a in self.aggregates], self.stamps]

    def load(self, rulebook: Rulebook, data: Any, lots: LotTable) -> None:
        aggregates, stamps = data
        if len(aggregates) != len(self.aggregates) or len(stamps) != len(self.stamps):
            raise ValueError("the aggregates do not match the rulebook")
        for state, dumped in zip(self.aggregates, aggregates, strict=True):
            state.load(dumped)
        self.stamps = list(stamps)

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        ctx.features = self.values(fold.rulebook, ctx.day)


__all__ = ["FeaturesPart"]
