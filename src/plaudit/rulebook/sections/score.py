"""``score``: range, weighted factors with curves, reasons and hints, and bands."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from plaudit.domain.expressions import closest
from plaudit.domain.rulebook import Absent, Curve, Factor, Score
from plaudit.rulebook import schema as s
from plaudit.rulebook.context import Context


def compile_score(ctx: Context) -> Score | None:
    sc = ctx.spec.score
    if sc is None:
        return None
    low, high = sc.range
    if not 0 <= low < high <= 100_000:
        ctx.problem(("score", "range"), f"range [{low}, {high}] must be two whole numbers, "
                                        "low below high")
        return None
    factors: list[Factor] = []
    ids = [f.id for f in sc.factors]
    if not sc.factors:
        ctx.problem(("score", "factors"), "a score needs at least one factor")
    for i, f in enumerate(sc.factors):
        path: tuple[Any, ...] = ("score", "factors", i)
        if ids.count(f.id) > 1 and ids.index(f.id) == i:
            ctx.problem((*path, "id"), f"factor id `{f.id}` is used more than once")
        factor = _factor(ctx, path, f)
        if factor is not None:
            factors.append(factor)
    bands = ctx.levels(("score", "bands"), sc.bands, Decimal(low), "band",
                       Decimal(high)) if sc.bands else ()
    return Score(low, high, tuple(factors), bands)


def _factor(ctx: Context, path: tuple[Any, ...], f: s.FactorSpec) -> Factor | None:
    if (f.from_ is None) == (f.expr is None):
        ctx.problem(path, "a factor takes either `from` (a feature) or `expr`")
        return None
    expr = None
    if f.from_ is not None:
        if f.from_ not in ctx.feature_types:
            if f.from_ not in ctx.spec.features:
                ctx.problem((*path, "from"), f"unknown feature `{f.from_}`",
                            closest(f.from_, list(ctx.feature_types)))
            return None
    else:
        expr = ctx.expr((*path, "expr"), f.expr, ctx.feature_types, "number")
        if expr is None:
            return None
    curve = None
    if f.curve is not None:
        curve = _curve(ctx, (*path, "curve"), f.curve)
        if curve is None:
            return None
    absent = Absent(Decimal(f.when_absent.value), f.when_absent.reason) \
        if f.when_absent is not None else None
    return Factor(f.id, f.label, f.weight, f.from_, expr, curve, f.reason, f.improve, absent)


def _curve(ctx: Context, path: tuple[Any, ...],
           points: list[tuple[Decimal, Decimal]]) -> Curve | None:
    if len(points) < 2:
        ctx.problem(path, "a curve needs at least two [x, y] points")
        return None
    for i, (x, y) in enumerate(points):
        if not Decimal(0) <= y <= Decimal(1):
            ctx.problem((*path, i), f"curve value {y} is outside [0, 1]")
            return None
        if i and x <= points[i - 1][0]:
            ctx.problem((*path, i), f"curve x values must increase: {x} after "
                                    f"{points[i - 1][0]}")
            return None
    return Curve(tuple((Decimal(x), Decimal(y)) for x, y in points))


__all__ = ["compile_score"]
