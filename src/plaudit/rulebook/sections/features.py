"""``features``: per-member aggregates (count, sum, min, max, distinct, exists, ratios,
days since first/last), shared when two features define the same aggregate.

:func:`aggregate` is also what any other section uses to define a per-member running
value over events (quest goals, leaderboard metrics).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from plaudit.domain import expressions as ex
from plaudit.domain.rulebook import Aggregate, Feature
from plaudit.rulebook import schema as s
from plaudit.rulebook.context import Context

AGGREGATE_KINDS = ("count", "sum", "min", "max", "distinct", "exists")

def aggregate(ctx: Context, path: tuple[Any, ...], spec: s.AggregateSpec) -> Aggregate | None:
    kinds = [k for k in AGGREGATE_KINDS if getattr(spec, k) is not None]
    if len(kinds) != 1:
        ctx.problem(path, "give exactly one of " + ", ".join(AGGREGATE_KINDS)
                    + (f" (got {', '.join(kinds)})" if kinds else ""))
        return None
    kind = kinds[0]
    target = str(getattr(spec, kind))
    event, _, attr = target.partition(".")
    if kind in ("count", "exists"):
        if attr:
            ctx.problem((*path, kind), f"`{kind}` takes an event type, not an attribute")
            return None
        if not ctx.event_type((*path, kind), event, allow_any=True):
            return None
    else:
        if not attr:
            ctx.problem((*path, kind), f"`{kind}` takes `event_type.attribute`, like "
                                       "`purchase.amount`")
            return None
        if not ctx.event_type((*path, kind), event):
            return None
        if attr in ctx.member_attrs[event]:
            ctx.problem((*path, kind), f"`{target}` identifies another member: features "
                                       "may not read or count other members")
            return None
        found = ctx.attribute_of((*path, kind), event, attr)
        if found is None:
            return None
        if kind in ("sum", "min", "max") and found.type not in ("int", "decimal"):
            ctx.problem((*path, kind), f"`{kind}` needs a number attribute; `{target}` "
                                       f"is {found.type}")
            return None
    where = None
    if spec.where is not None:
        if event == "any":
            ctx.problem((*path, "where"), "`where` needs one event type, not `any`")
            return None
        where = ctx.expr((*path, "where"), spec.where, ctx.event_names[event], "bool")
        if where is None:
            return None
    window = ctx.duration((*path, "window"), spec.window)
    if spec.window is not None and window is None:
        return None
    value_type = "int"
    if kind in ("sum", "min", "max"):
        value_type = ctx.events[event].attributes[attr].type
    key = (kind, event, attr or None, spec.where, window)
    existing = ctx.aggregates.get(key)
    if existing is not None:
        return existing
    agg = Aggregate(len(ctx.aggregates), kind, None if event == "any" else event,
                    attr or None, where, window, value_type)
    ctx.aggregates[key] = agg
    return agg


def compile_features(ctx: Context) -> list[Feature]:
    features: list[Feature] = []
    for name, f in ctx.spec.features.items():
        path: tuple[Any, ...] = ("features", name)
        if not ctx.name_ok(path, name, "feature"):
            continue
        ctx.sensitive(path, name, "feature")
        feature = _feature(ctx, path, name, f)
        if feature is not None:
            features.append(feature)
            ctx.feature_types[name] = {"int": ex.INT, "decimal": ex.DECIMAL,
                                       "bool": ex.BOOL}[feature.type]
    return features


def _feature(ctx: Context, path: tuple[Any, ...], name: str, f: s.FeatureSpec) -> Feature | None:
    special = [k for k in ("ratio", "days_since_first", "days_since_last")
               if getattr(f, k) is not None]
    plain = [k for k in AGGREGATE_KINDS if getattr(f, k) is not None]
    if len(special) + len(plain) != 1:
        ctx.problem(path, "a feature is exactly one of " + ", ".join(
           (*AGGREGATE_KINDS, "ratio", "days_since_first", "days_since_last")))
        return None
    default = f.default
    if special == ["ratio"]:
        assert f.ratio is not None
        if f.where is not None or f.window is not None:
            ctx.problem(path, "put `where` and `window` inside `of` and `to` of a ratio")
        of = aggregate(ctx, (*path, "ratio", "of"), f.ratio.of)
        to = aggregate(ctx, (*path, "ratio", "to"), f.ratio.to)
        for part, agg in (("of", of), ("to", to)):
            if agg is not None and agg.kind not in ("count", "sum"):
                ctx.problem((*path, "ratio", part), "a ratio divides counts or sums")
                return None
        if of is None or to is None:
            return None
        if isinstance(default, bool):
            ctx.problem((*path, "default"), "a ratio's default is a number")
            return None
        return Feature(name, "ratio", of.index, to.index,
                       Decimal(default) if default is not None else Decimal(0), "decimal")
    if special:
        kind = special[0]
        target = str(getattr(f, kind))
        if not ctx.event_type((*path, kind), target, allow_any=True):
            return None
        if f.where is not None or f.window is not None:
            ctx.problem(path, f"`{kind}` takes no `where` or `window`")
            return None
        agg = aggregate(ctx, path, s.AggregateSpec(exists=target))
        if agg is None:
            return None
        return Feature(name, kind, agg.index, None,
                       int(default) if default is not None else 0, "int")
    agg = aggregate(ctx, path, f)
    if agg is None:
        return None
    if agg.kind == "exists":
        return Feature(name, "aggregate", agg.index, None, False, "bool")
    if agg.kind in ("count", "distinct"):
        return Feature(name, "aggregate", agg.index, None, 0, "int")
    ftype = "int" if agg.value_type == "int" else "decimal"
    fallback: Decimal | int = 0 if default is None or isinstance(default, bool) \
        else default
    return Feature(name, "aggregate", agg.index, None, fallback, ftype)


__all__ = ["aggregate", "compile_features"]
