"""The score: ``low + Σ shareᵢ · curveᵢ(inputᵢ)``, clipped, with its band and reasons.

Stateless: the score is a function of the features at the as-of day. Each factor's
shortfall in points orders the reason codes (at most :data:`MAX_REASONS`, largest first,
ties in rulebook order).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from plaudit.domain.errors import EvaluationError
from plaudit.domain.mechanics.base import Mechanic, ViewContext
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.state import FactorView, Reason, ScoreView
from plaudit.domain.tiers import level_index

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold

MAX_REASONS = 4
_ONE = Decimal(1)
_ZERO = Decimal(0)
_RATIO_PLACES = Decimal("0.000001")
_SHOWN_PLACES = Decimal("0.1")


def factor_inputs(rulebook: Rulebook, feats: dict[str, Any], notes: list[str] | None = None
                  ) -> list[tuple[Any, Decimal]]:
    """Each factor's input and curve value in [0, 1]. A factor that fails is noted in
    ``notes`` (a view's own list): reads never change the accumulator, so reading a
    cached member twice cannot repeat a warning."""
    sc = rulebook.score
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


def score_value(rulebook: Rulebook, inputs: list[tuple[Any, Decimal]]) -> tuple[int, str | None]:
    """The score and band name from the factors' curve values."""
    sc = rulebook.score
    assert sc is not None
    gained = sum((share * c for share, (_, c) in zip(rulebook.score_shares, inputs,
                                                       strict=True)), _ZERO)
    value = int((Decimal(sc.low) + gained).quantize(_ONE, ROUND_HALF_UP))
    value = min(max(value, sc.low), sc.high)
    band_idx = level_index(sc.bands, value) if sc.bands else -1
    return value, sc.bands[band_idx].name if band_idx >= 0 else None


def score_of(rulebook: Rulebook, feats: dict[str, Any]) -> tuple[int, str | None]:
    return score_value(rulebook, factor_inputs(rulebook, feats))


def score_view(rulebook: Rulebook, feats: dict[str, Any], notes: list[str]) -> ScoreView:
    sc = rulebook.score
    assert sc is not None
    inputs = factor_inputs(rulebook, feats, notes)
    views: list[FactorView] = []
    losses: list[tuple[Decimal, int, Reason]] = []
    for i, (factor, share, (x, c)) in enumerate(zip(sc.factors, rulebook.score_shares,
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
        ctx.score = score_view(fold.rulebook, ctx.features, ctx.notes)


__all__ = ["MAX_REASONS", "ScorePart", "factor_inputs", "score_of", "score_value",
           "score_view"]
