"""The score: ``low + Σ shareᵢ · curveᵢ(inputᵢ)``, clipped, with its band and reasons.

Stateless: the score is a function of the features at the as-of day (and of which factors
have no data yet). Each factor's shortfall in points orders the reason codes (at most
:data:`MAX_REASONS`, largest first, ties in rulebook order). A factor without data never
states its adverse reason: it says so, in its ``when_absent`` words or neutral ones.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from plaudit.domain.errors import EvaluationError
from plaudit.domain.mechanics.base import Mechanic, ViewContext
from plaudit.domain.rulebook import Factor, Rulebook
from plaudit.domain.state import FactorView, Reason, ScoreView
from plaudit.domain.tiers import level_index

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold

MAX_REASONS = 4
_ONE = Decimal(1)
_ZERO = Decimal(0)
_RATIO_PLACES = Decimal("0.000001")
_SHOWN_PLACES = Decimal("0.1")
NO_DATA = "no-data"
LOW = "low"


def reason_id(factor: Factor, absent: bool) -> str:
    return f"{factor.id}:{NO_DATA if absent else LOW}"


def no_data_reason(factor: Factor) -> str:
    """What a factor without data and without ``when_absent`` says: a fact, not a fault."""
    return f"No data yet for “{factor.label}”"


def factor_input(factor: Factor, feats: dict[str, Any], notes: list[str] | None = None
                 ) -> Any:
    """The factor's input: its feature's value, or its expression over the features. A
    factor that fails is noted in ``notes`` (a view's own list): reads never change the
    accumulator, so reading a cached member twice cannot repeat a warning."""
    if factor.feature is not None:
        return feats[factor.feature]
    assert factor.expr is not None
    try:
        return factor.expr(feats)
    except EvaluationError as e:
        if notes is not None:
            notes.append(f"factor {factor.id}: {e}; counted as 0")
        return 0


def curve_value(factor: Factor, x: Any) -> Decimal:
    """Where input ``x`` sits on the factor's curve, in [0, 1]. Remembered per input value
    on the curve (numerically equal inputs give numerically equal values, so ``True`` and
    ``1``, or ``1`` and ``1.0``, may share an entry)."""
    curve = factor.curve
    if curve is not None:
        memo = curve.memo
        try:
            return memo[x]
        except KeyError:
            pass
        except TypeError:  # an unhashable input: computed every time
            return curve(number(x))
        value = curve(number(x))
        if len(memo) >= CURVE_MEMO:  # many distinct inputs (ratios, explain's trials):
            memo.clear()             # start again with those in use now
        memo[x] = value
        return value
    return min(max(number(x), _ZERO), _ONE)


CURVE_MEMO = 4096
"""Inputs remembered per curve at most; when full it is emptied and fills again."""


def number(x: Any) -> Decimal:
    """A factor input as a Decimal (a yes/no input is 1 or 0)."""
    return Decimal(int(x)) if isinstance(x, bool) else Decimal(x)


def factor_inputs(rulebook: Rulebook, feats: dict[str, Any],
                  absent: Collection[int] = (), notes: list[str] | None = None
                  ) -> list[tuple[Any, Decimal]]:
    """Each factor's input and curve value in [0, 1]; a factor in ``absent`` with a
    ``when_absent`` takes that value instead."""
    sc = rulebook.score
    assert sc is not None
    out = []
    for i, factor in enumerate(sc.factors):
        x = factor_input(factor, feats, notes)
        if factor.when_absent is not None and i in absent:
            out.append((x, factor.when_absent.value))
        else:
            out.append((x, curve_value(factor, x)))
    return out


def score_value(rulebook: Rulebook, inputs: list[tuple[Any, Decimal]]) -> tuple[int, str | None]:
    """The score and band name from the factors' curve values."""
    gained = sum((share * c for share, (_, c) in zip(rulebook.score_shares, inputs,
                                                       strict=True)), _ZERO)
    return _banded(rulebook, gained)


def _banded(rulebook: Rulebook, gained: Decimal) -> tuple[int, str | None]:
    sc = rulebook.score
    assert sc is not None
    value = int((Decimal(sc.low) + gained).quantize(_ONE, ROUND_HALF_UP))
    value = min(max(value, sc.low), sc.high)
    band_idx = level_index(sc.bands, value) if sc.bands else -1
    return value, sc.bands[band_idx].name if band_idx >= 0 else None


def score_of(rulebook: Rulebook, feats: dict[str, Any], absent: Collection[int] = ()
             ) -> tuple[int, str | None]:
    """The score and band alone (a stored summary's, once per member a batch touches):
    :func:`score_value` over :func:`factor_inputs` in one pass, without the inputs of
    factors that take their ``when_absent`` value."""
    sc = rulebook.score
    assert sc is not None
    gained = _ZERO
    for i, (factor, share) in enumerate(zip(sc.factors, rulebook.score_shares, strict=True)):
        absent_value = factor.when_absent
        if absent_value is not None and i in absent:
            gained += share * absent_value.value
        else:
            gained += share * curve_value(factor, feats[factor.feature]
                                          if factor.feature is not None
                                          else factor_input(factor, feats))
    return _banded(rulebook, gained)


def score_view(rulebook: Rulebook, feats: dict[str, Any], notes: list[str],
               absent: Collection[int] = ()) -> ScoreView:
    """``absent``: every factor without data (not only those with ``when_absent``), so
    that none of them states an adverse reason."""
    sc = rulebook.score
    assert sc is not None
    inputs = factor_inputs(rulebook, feats, absent, notes)
    views: list[FactorView] = []
    losses: list[tuple[Decimal, int, Reason]] = []
    for i, (factor, share, (x, c)) in enumerate(zip(sc.factors, rulebook.score_shares,
                                                    inputs, strict=True)):
        points = share * c
        lost = share - points
        shown_lost = lost.quantize(_SHOWN_PLACES, ROUND_HALF_UP)
        missing = i in absent
        views.append(FactorView(factor.id, factor.label, factor.weight, x,
                                c.quantize(_RATIO_PLACES),
                                points.quantize(_SHOWN_PLACES, ROUND_HALF_UP), shown_lost,
                                missing))
        if lost > 0:
            if missing:
                text = factor.when_absent.reason if factor.when_absent is not None \
                    else no_data_reason(factor)
            else:
                text = factor.reason
            losses.append((lost, i, Reason(reason_id(factor, missing), factor.id,
                                           factor.label, text, factor.improve, shown_lost)))
    value, band = score_value(rulebook, inputs)
    losses.sort(key=lambda t: (-t[0], t[1]))
    return ScoreView(value, band, (sc.low, sc.high), tuple(views),
                     tuple(r for _, _, r in losses[:MAX_REASONS]))


class ScorePart(Mechanic):
    """No state of its own: the score is read off the features."""

    __slots__ = ()
    name = "score"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return rulebook.score is not None

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        rb = fold.rulebook
        assert rb.score is not None
        absent = fold.features.absent(rb, ctx.day, range(len(rb.score.factors))) \
            if fold.features is not None else frozenset()
        ctx.score = score_view(rb, ctx.features, ctx.notes, absent)


__all__ = ["MAX_REASONS", "ScorePart", "curve_value", "factor_input", "factor_inputs",
           "no_data_reason", "number", "reason_id", "score_of", "score_value", "score_view"]
