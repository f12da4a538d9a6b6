"""``badges``: one-off (``when``), levelled (``from`` + ``levels``) or quest-only (neither).

Each compiled badge carries the event types that can change what it reads (the event
types of its features' aggregates, plus ``revoked_by``), so the fold checks it only after
those events. A quest-only badge must be granted by some quest (quests compile next and
check their side: the badge they name exists and is quest-only).
"""

from __future__ import annotations

import ast
from decimal import Decimal
from typing import Any

from plaudit.domain.expressions import closest
from plaudit.domain.rulebook import Badge
from plaudit.rulebook import schema as s
from plaudit.rulebook.context import Context
from plaudit.rulebook.sections.features import AGGREGATE_KINDS


def compile_badges(ctx: Context) -> list[Badge]:
    specs = ctx.spec.badges
    ids = [b.id for b in specs]
    granted = {q.reward.badge for q in ctx.spec.quests if q.reward.badge is not None}
    badges: list[Badge] = []
    for i, b in enumerate(specs):
        path: tuple[Any, ...] = ("badges", i)
        ok = ctx.unique_id((*path, "id"), ids, i, "badge")
        revoked_by = _event_types(ctx, (*path, "revoked_by"), b.revoked_by)
        badge = _badge(ctx, path, b, granted)
        if ok and badge is not None and revoked_by is not None:
            listens = badge.listens
            if listens is not None:
                listens = listens | revoked_by
            badges.append(Badge(badge.id, badge.label, badge.kind, badge.when,
                                badge.feature, badge.levels, listens, revoked_by,
                                _positions(ctx, badge)))
    return badges


def _positions(ctx: Context, badge: Badge) -> tuple[int, ...]:
    """Where the features a badge reads sit in the compiled rulebook's features: features
    compile in declaration order, and a rulebook compiles only when none was refused, so
    the order of ``ctx.feature_types`` is theirs."""
    names = list(ctx.feature_types)
    read = {badge.feature} if badge.feature is not None else set()
    if badge.when is not None:
        read |= badge.when.names & set(names)
    return tuple(sorted(names.index(n) for n in read))


def _badge(ctx: Context, path: tuple[Any, ...], b: s.BadgeSpec, granted: set[str]
           ) -> Badge | None:
    if b.when is not None and b.from_ is not None:
        ctx.problem(path, "a badge has `when` (one-off) or `from` with `levels` "
                          "(levelled), not both")
        return None
    if b.levels is not None and b.from_ is None:
        ctx.problem((*path, "levels"), "`levels` needs `from`: the feature the levels are "
                                       "thresholds of")
        return None
    if b.when is not None:
        if _reads_refused_feature(ctx, b.when):
            return None  # the feature's own problem is reported already
        when = ctx.expr((*path, "when"), b.when, ctx.feature_types, "bool")
        if when is None:
            return None
        if not when.names & set(ctx.feature_types):
            ctx.problem((*path, "when"), f"`{b.when}` reads no feature: no event would "
                                         "ever change it, so it is never checked")
            return None
        return Badge(b.id, b.label, "once", when=when,
                     listens=_listens(ctx, sorted(when.names & set(ctx.feature_types))))
    if b.from_ is not None:
        return _levelled(ctx, path, b)
    if b.revoked_by:
        ctx.problem((*path, "revoked_by"), f"badge `{b.id}` has no condition to re-check: "
                                           "only a badge with `when` or `from` can be revoked")
        return None
    if b.id not in granted:
        ctx.problem(path, f"badge `{b.id}` has neither `when` nor `from` and no quest "
                          "grants it: it could never be awarded")
        return None
    return Badge(b.id, b.label, "quest")


def _reads_refused_feature(ctx: Context, text: str) -> bool:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return False  # reported by the expression compiler
    refused = set(ctx.spec.features) - set(ctx.feature_types)
    return any(isinstance(n, ast.Name) and n.id in refused for n in ast.walk(tree))


def _levelled(ctx: Context, path: tuple[Any, ...], b: s.BadgeSpec) -> Badge | None:
    name = str(b.from_)
    fpath = (*path, "from")
    ftype = ctx.feature_types.get(name)
    if ftype is None:
        if name not in ctx.spec.features:  # a refused feature is reported already
            ctx.problem(fpath, f"unknown feature `{name}`",
                        closest(name, list(ctx.feature_types)))
        return None
    if ftype.kind not in ("int", "decimal"):
        ctx.problem(fpath, f"a levelled badge needs a number feature; `{name}` is "
                           f"{ftype.kind} (use `when` for a one-off badge)")
        return None
    if not b.levels:
        ctx.problem((*path, "levels") if b.levels is not None else path,
                    "a levelled badge needs `levels`: at least one threshold")
        return None
    levels: list[Decimal] = []
    good = True
    for j, raw in enumerate(b.levels):
        value = Decimal(raw)
        if value <= 0:
            ctx.problem((*path, "levels", j), f"level thresholds must be above 0 "
                                              f"(level {j + 1} is {raw})")
            good = False
        elif levels and value <= levels[-1]:
            ctx.problem((*path, "levels", j), f"levels must be strictly increasing: level "
                                              f"{j + 1} ({raw}) is not above level {j} "
                                              f"({levels[-1]})")
            good = False
        levels.append(value)
    if not good:
        return None
    return Badge(b.id, b.label, "levelled", feature=name, levels=tuple(levels),
                 listens=_listens(ctx, [name]))


def _listens(ctx: Context, features: list[str]) -> frozenset[str] | None:
    """The event types whose events can change these features; None when one of them
    reads `any` event type."""
    types: set[str] = set()
    for name in features:
        spec = ctx.spec.features[name]
        parts: list[s.AggregateSpec] = [spec]
        if spec.ratio is not None:
            parts = [spec.ratio.of, spec.ratio.to]
        targets = [getattr(p, k) for p in parts for k in AGGREGATE_KINDS]
        targets += [spec.days_since_first, spec.days_since_last]
        for target in targets:
            if target is not None:
                event = str(target).partition(".")[0]
                if event == "any":
                    return None
                types.add(event)
    return frozenset(types)


def _event_types(ctx: Context, path: tuple[Any, ...], names: list[str]
                 ) -> frozenset[str] | None:
    ok = True
    for j, name in enumerate(names):
        ok = ctx.event_type((*path, j), name) and ok
    return frozenset(names) if ok else None


__all__ = ["compile_badges"]
