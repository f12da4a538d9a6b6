"""Why a member has the score they have, and the least they would have to change.

An explanation puts, for each factor, the input the member has, where it sits on the
factor's curve and the points that earns, next to the reasons and the points ledger. Its
**improve plan** is what no anchor offers: the smallest changes of factor inputs that reach
the next band, found by *re-scoring* candidate inputs with the same function that scores
the member (:func:`~plaudit.domain.mechanics.score.score_value`), so a plan can never
promise a band the engine would not give.

Search, per factor: the inputs at which its curve reaches a level are bounded by the curve's
breakpoints and the exact crossing inside each segment, so a handful of candidates cover
every place the factor's points can change. One factor alone is tried first (the closest
input that reaches the band, relative to the curve's span); when none suffices, factors are
raised to their best in order of the points they can add, the last one only as far as
needed. Counts move in whole units and yes/no inputs only to yes; an ``expr`` factor's input
is the expression's value, which the plan names as such.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from plaudit.domain.mechanics.score import curve_value, factor_inputs, number, score_value
from plaudit.domain.rulebook import Factor, Rulebook
from plaudit.domain.state import LedgerEntry, Reason

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold

_SHOWN = Decimal("0.1")


@dataclass(frozen=True)
class FactorExplanation:
    id: str
    label: str
    weight: Decimal
    max_points: Decimal
    """What the factor is worth at full marks: ``(high − low) × weight / Σ weights``."""
    feature: str | None
    """The feature it reads (``None`` for an ``expr`` factor: see ``expr``)."""
    expr: str | None
    input: Decimal | int | bool
    absent: bool
    """No data for it yet: it scores ``curve_value`` = its ``when_absent`` value, if any."""
    curve: tuple[tuple[Decimal, Decimal], ...] | None
    """The factor's curve, ``[input, position]`` points (``None``: the input clipped to
    [0, 1])."""
    curve_value: Decimal
    points: Decimal
    points_lost: Decimal
    reason: str
    improve: str


@dataclass(frozen=True)
class PlanStep:
    factor: str
    label: str
    feature: str | None
    expr: str | None
    current: Decimal | int | bool
    target: Decimal | int | bool
    """The input the factor needs (a feature value, or the ``expr`` value)."""
    points_gained: Decimal
    improve: str


@dataclass(frozen=True)
class ImprovePlan:
    band: str
    """The next band up, the plan's goal."""
    score_needed: int
    reachable: bool
    """False when even every factor at its best stays below the band; ``steps`` is then
    the best that can be done."""
    steps: tuple[PlanStep, ...]
    score_after: int
    band_after: str | None
    alternatives: tuple[PlanStep, ...]
    """Other single-factor ways to reach the band, each on its own, smallest change first."""


@dataclass(frozen=True)
class Explanation:
    member: str
    as_of: str
    rulebook_version: int
    score: int
    band: str | None
    range: tuple[int, int]
    next_band: str | None
    points_to_next_band: int | None
    factors: tuple[FactorExplanation, ...]
    reasons: tuple[Reason, ...]
    """At most four, largest loss first, each with a stable id (see docs/rulebook.md §6)."""
    plan: ImprovePlan | None
    """``None`` in the top band (or without bands)."""
    balance: int
    ledger: tuple[LedgerEntry, ...]
    """The points entries behind ``balance``, oldest first."""


def explain(fold: MemberFold, as_of_us: int) -> Explanation | None:
    """The explanation at ``as_of_us`` (a fold keeping history); None without a score: the
    rulebook has none, or the member opted out (nothing of theirs is scored then)."""
    rb = fold.rulebook
    sc = rb.score
    if sc is None:
        return None
    view = fold.view(as_of_us)
    if view.score is None:
        return None
    day = rb.calendar.day(as_of_us)
    feats = dict(view.features)
    absent = fold.features.absent(rb, day, range(len(sc.factors))) \
        if fold.features is not None else frozenset()
    inputs = factor_inputs(rb, feats, absent)
    reason_of = {r.factor: r for r in view.score.reasons}
    factors = []
    for factor, share, fv in zip(sc.factors, rb.score_shares, view.score.factors,
                                 strict=True):
        reason = reason_of.get(factor.id)
        factors.append(FactorExplanation(
            factor.id, factor.label, factor.weight, share.quantize(_SHOWN, ROUND_HALF_UP),
            factor.feature, factor.expr.source if factor.expr is not None else None,
            fv.input, fv.absent, factor.curve.points if factor.curve is not None else None,
            fv.curve_value, fv.points, fv.points_lost,
            reason.reason if reason is not None else "", factor.improve))
    value, band = view.score.value, view.score.band
    nxt = next((b for b in sc.bands if b.start > value), None)
    plan = improve_plan(rb, inputs, int(nxt.start), nxt.name) if nxt is not None else None
    ledger = tuple(fold.points.entries(rb, as_of_us)) if fold.points.history is not None \
        else ()
    return Explanation(
        fold.member, view.as_of, rb.version, value, band, (sc.low, sc.high),
        nxt.name if nxt else None, int(nxt.start) - value if nxt else None,
        tuple(factors), view.score.reasons, plan, view.points.balance, ledger)


# -- the improve plan ------------------------------------------------------------------

def improve_plan(rb: Rulebook, inputs: Sequence[tuple[Any, Decimal]], target: int,
                 band: str) -> ImprovePlan:
    """The smallest input changes that lift the score to ``target`` (the start of
    ``band``), checked by re-scoring."""
    sc = rb.score
    assert sc is not None
    base = list(inputs)
    # (distance, factor id, index, the new input and its curve value, the step)
    singles: list[tuple[Decimal, str, int, tuple[Any, Decimal], PlanStep]] = []
    for i, factor in enumerate(sc.factors):
        found = _closest(rb, base, i, target)
        if found is not None:
            x, c = found
            singles.append((_distance(factor, base[i][0], x), factor.id, i, found,
                            _step(rb, factor, i, base[i], x, c)))
    singles.sort(key=lambda t: (t[0], t[1]))
    if singles:
        _, _, i, found, best = singles[0]
        after = list(base)
        after[i] = found
        value, band_after = score_value(rb, after)
        return ImprovePlan(band, target, True, (best,), value, band_after,
                           tuple(t[4] for t in singles[1:]))
    return _combined(rb, base, target, band)


def _combined(rb: Rulebook, base: list[tuple[Any, Decimal]], target: int, band: str
              ) -> ImprovePlan:
    """No one factor suffices: raise factors to their best, most points first, the last
    one only as far as needed."""
    sc = rb.score
    assert sc is not None
    gains = []
    for i, factor in enumerate(sc.factors):
        best = _best(factor, base[i][0])
        if best is not None and best[1] > base[i][1]:
            gains.append((-(rb.score_shares[i] * (best[1] - base[i][1])), i, best))
    gains.sort()
    current = list(base)
    chosen: list[int] = []
    for _, i, best in gains:
        trial = list(current)
        trial[i] = best
        if score_value(rb, trial)[0] >= target:
            found = _closest(rb, current, i, target)
            current[i] = found if found is not None else best
            chosen.append(i)
            break
        current = trial
        chosen.append(i)
    steps = tuple(_step(rb, sc.factors[i], i, base[i], current[i][0], current[i][1])
                  for i in chosen)
    value, band_after = score_value(rb, current)
    return ImprovePlan(band, target, value >= target, steps, value, band_after, ())


def _step(rb: Rulebook, factor: Factor, i: int, now: tuple[Any, Decimal], x: Any,
          c: Decimal) -> PlanStep:
    gained = (rb.score_shares[i] * (c - now[1])).quantize(_SHOWN, ROUND_HALF_UP)
    return PlanStep(factor.id, factor.label, factor.feature,
                    factor.expr.source if factor.expr is not None else None,
                    now[0], x, gained, factor.improve)


def _span(factor: Factor) -> Decimal:
    if factor.curve is None:
        return Decimal(1)
    pts = factor.curve.points
    return (pts[-1][0] - pts[0][0]) or Decimal(1)


def _distance(factor: Factor, x0: Any, x: Any) -> Decimal:
    return abs(number(x) - number(x0)) / _span(factor)


def _candidates(factor: Factor, x0: Any) -> list[Any]:
    """Inputs worth trying: every breakpoint of the curve (0 and 1 for a factor without
    one; only yes for a yes/no input). The exact crossing inside a segment is added by
    :func:`_closest`, and :func:`_shape` rounds every candidate to whole units for counts."""
    if isinstance(x0, bool):
        return [True]
    if factor.curve is None:
        return [Decimal(0), Decimal(1)]
    return [x for x, _ in factor.curve.points]


def _shape(x0: Any, x: Decimal, up: bool) -> Any:
    """The input as the member's data can have it: a whole count, rounded toward the side
    that reaches the goal; a decimal to the places the member's value has (at least two:
    amounts stay in cents, ratios in millionths)."""
    if isinstance(x0, bool):
        return bool(x)
    if isinstance(x0, int):
        return math.ceil(x) if up else math.floor(x)
    exponent = x0.as_tuple().exponent if isinstance(x0, Decimal) else -6
    places = exponent if isinstance(exponent, int) else -6
    # a ratio such as 6/7 carries 28 places: quantizing 1 to them needs 29 digits, past
    # the context's precision, so at most millionths
    step = Decimal(1).scaleb(max(min(places, -2), -6))
    return x.quantize(step, rounding=ROUND_CEILING if up else ROUND_FLOOR)


def _closest(rb: Rulebook, base: list[tuple[Any, Decimal]], i: int, target: int
             ) -> tuple[Any, Decimal] | None:
    """The input of factor ``i`` nearest its current one at which the re-scored score
    reaches ``target``, others unchanged; None if no input does."""
    sc = rb.score
    assert sc is not None
    factor = sc.factors[i]
    x0 = base[i][0]
    if score_value(rb, base)[0] >= target:
        return None
    share = rb.score_shares[i]
    others = sum((rb.score_shares[j] * c for j, (_, c) in enumerate(base) if j != i),
                 Decimal(0))
    # round half up: the score reaches target once low + Σ ≥ target − ½
    need = (Decimal(target) - Decimal("0.5") - sc.low - others) / share
    xs: list[Decimal] = [number(x) for x in _candidates(factor, x0)]
    if factor.curve is not None and not isinstance(x0, bool):
        pts = factor.curve.points
        for (xa, ya), (xb, yb) in itertools.pairwise(pts):
            if ya != yb and min(ya, yb) <= need <= max(ya, yb):
                xs.append(xa + (need - ya) * (xb - xa) / (yb - ya))
    elif factor.curve is None and not isinstance(x0, bool) and 0 <= need <= 1:
        xs.append(need)
    best: tuple[Decimal, Any, Decimal] | None = None
    for x in xs:
        shaped = _shape(x0, x, x >= number(x0))
        c = curve_value(factor, shaped)
        trial = list(base)
        trial[i] = (shaped, c)
        if score_value(rb, trial)[0] < target:
            continue
        d = abs(number(shaped) - number(x0))
        if best is None or d < best[0]:
            best = (d, shaped, c)
    return (best[1], best[2]) if best is not None else None


def _best(factor: Factor, x0: Any) -> tuple[Any, Decimal] | None:
    """The input nearest the current one at which the factor scores its highest."""
    cands = [_shape(x0, number(x), number(x) >= number(x0)) for x in _candidates(factor, x0)]
    if not cands:
        return None
    top = max(curve_value(factor, x) for x in cands)
    x = min((x for x in cands if curve_value(factor, x) == top),
            key=lambda x: abs(number(x) - number(x0)))
    return x, top


__all__ = ["Explanation", "FactorExplanation", "ImprovePlan", "PlanStep", "explain",
           "improve_plan"]
