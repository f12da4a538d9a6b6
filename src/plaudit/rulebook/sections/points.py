"""``points``: expiry and the point rules (awards, multipliers, caps, once, reversals)."""

from __future__ import annotations

from typing import Any

from plaudit.domain.calendar import PERIODS
from plaudit.domain.expressions import closest
from plaudit.domain.rulebook import Cap, Multiplier, PointRule
from plaudit.rulebook import schema as s
from plaudit.rulebook.context import Context


def compile_points(ctx: Context) -> tuple[list[PointRule], int | None]:
    pts = ctx.spec.points
    if pts is None:
        return [], None
    expire = ctx.duration(("points", "expire_after"), pts.expire_after)
    rules: list[PointRule] = []
    ids = [r.id for r in pts.rules]
    for i, r in enumerate(pts.rules):
        path: tuple[Any, ...] = ("points", "rules", i)
        ctx.unique_id((*path, "id"), ids, i, "rule")
        rule = _rule(ctx, path, r, ids)
        if rule is not None:
            rules.append(rule)
    return rules, expire


def _rule(ctx: Context, path: tuple[Any, ...], r: s.RuleSpec, ids: list[str]) -> PointRule | None:
    if not ctx.event_type((*path, "on"), r.on):
        return None
    names = ctx.event_names[r.on]
    members = ctx.member_attrs[r.on]
    if r.reverses is not None:
        return _reversal(ctx, path, r, ids)
    for key in ("match",):
        if getattr(r, key) is not None:
            ctx.problem((*path, key), f"`{key}` is only for rules with `reverses`")
    if r.award is None:
        ctx.problem(path, "a rule needs `award` (or `reverses` to claw points back)")
        return None
    award = ctx.expr((*path, "award"), r.award, names, "number")
    when = ctx.expr((*path, "when"), r.when, names, "bool") if r.when is not None \
        else None
    multiply = []
    for j, m in enumerate(r.multiply):
        cond = ctx.expr((*path, "multiply", j, "when"), m.when, names, "bool")
        if cond is not None:
            multiply.append(Multiplier(cond, m.by))
    cap = None
    if r.cap is not None:
        if r.cap.per not in PERIODS:
            ctx.problem((*path, "cap", "per"), f"unknown period `{r.cap.per}` "
                                               f"(known: {', '.join(PERIODS)})",
                        closest(r.cap.per, PERIODS))
        else:
            cap = Cap(r.cap.max, r.cap.per)
    if r.once and r.once_per:
        ctx.problem((*path, "once_per"), "use either `once` or `once_per`, not both")
    if r.once_per is not None:
        ctx.attribute_of((*path, "once_per"), r.on, r.once_per)
    return PointRule(r.id, r.on, award, when, tuple(multiply), cap, r.once, r.once_per,
                     r.once_per in members, None, None)


def _reversal(ctx: Context, path: tuple[Any, ...], r: s.RuleSpec,
              ids: list[str]) -> PointRule | None:
    for key in ("award", "when", "cap", "once_per"):
        if getattr(r, key) not in (None, False):
            ctx.problem((*path, key), f"a reversal rule takes no `{key}`: it claws back "
                                      "exactly what the reversed rule awarded")
    if r.multiply or r.once:
        ctx.problem(path, "a reversal rule takes no `multiply` or `once`")
    target = next((t for t in ctx.spec.points.rules if t.id == r.reverses), None) \
        if ctx.spec.points else None
    if target is None:
        ctx.problem((*path, "reverses"), f"no rule with id `{r.reverses}`",
                    closest(str(r.reverses), ids))
        return None
    if target.reverses is not None:
        ctx.problem((*path, "reverses"), f"`{r.reverses}` is itself a reversal")
        return None
    if r.match is None:
        ctx.problem(path, "a reversal rule needs `match`: the attribute that ties it to "
                          "the award it reverses (such as order_id)")
        return None
    if target.on not in ctx.events:
        return None
    if r.match in ctx.member_attrs.get(r.on, ()):
        ctx.problem((*path, "match"), f"`{r.match}` identifies another member and "
                                      "cannot tie a reversal to an award")
        return None
    ok = ctx.attribute_of((*path, "match"), r.on, r.match) is not None
    ok = ok and ctx.attribute_of((*path, "match"), target.on, r.match) is not None
    if not ok:
        return None
    # Awards are indexed by one attribute per reversed rule; a second reversal matching
    # on another attribute would silently find nothing, so it is refused here.
    other = next((o for o in ctx.spec.points.rules if o.reverses == r.reverses
                  and o.match is not None and o.match != r.match), None) \
        if ctx.spec.points else None
    if other is not None:
        ctx.problem((*path, "match"),
                    f"rule `{other.id}` already reverses `{r.reverses}` matching on "
                    f"`{other.match}`: every reversal of one rule must match on the "
                    "same attribute")
        return None
    return PointRule(r.id, r.on, reverses=r.reverses, match=r.match)


__all__ = ["compile_points"]
