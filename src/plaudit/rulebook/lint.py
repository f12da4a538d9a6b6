"""Warnings: what compiles but would mislead a member, found on the compiled rulebook.

A warning does not refuse a rulebook (``plaudit rulebook check`` and draft uploads show
them; ``check --strict`` fails on them). Today's one lint: a score factor that, for a member
with no data for it, scores below full marks without a ``when_absent`` — the member would be
scored as if they had done badly, and shown a neutral "no data yet" reason that the
operator never worded.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from plaudit.domain.errors import Problem
from plaudit.domain.mechanics.features import FeaturesPart
from plaudit.domain.mechanics.score import factor_inputs
from plaudit.domain.rulebook import Rulebook
from plaudit.rulebook.source import Source, dotted

_SHOWN = Decimal("0.1")


def lint(source: Source, rulebook: Rulebook) -> list[Problem]:
    sc = rulebook.score
    if sc is None:
        return []
    warnings: list[Problem] = []
    empty = FeaturesPart(rulebook).values(rulebook, 0) if rulebook.aggregates else {}
    inputs = factor_inputs(rulebook, empty)
    for i, (factor, share, (x, c)) in enumerate(zip(sc.factors, rulebook.score_shares,
                                                    inputs, strict=True)):
        path: tuple[Any, ...] = ("score", "factors", i)
        can_be_absent = bool(rulebook.factor_sources[i])
        if factor.when_absent is None and can_be_absent and c < 1:
            lost = (share * (1 - c)).quantize(_SHOWN, ROUND_HALF_UP)
            at = c.quantize(Decimal("0.001")).normalize()
            warnings.append(Problem(
                source.where(path), dotted(path),
                f"factor `{factor.id}` scores a member with no data for it at {at} "
                f"of its points (input {x}; {lost} points lost) without a `when_absent`: "
                "add `when_absent: {value, reason}` so such members are scored on purpose "
                "and told they have no data, not that they did badly"))
        if factor.when_absent is not None and not can_be_absent:
            warnings.append(Problem(
                source.where((*path, "when_absent")), dotted((*path, "when_absent")),
                f"factor `{factor.id}` reads no event data, so `when_absent` never applies"))
    return warnings


__all__ = ["lint"]
