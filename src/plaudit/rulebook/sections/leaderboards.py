"""``leaderboards``: opt-in rankings over a per-member metric in a local calendar period.

A metric is a ``count`` of one event type or a ``sum`` of one of its number attributes,
optionally only over events whose ``where`` holds. It never reads a ``member`` attribute
(those identify other members), and it is the member's own value: the ranking is built
from opted-in members' values outside the fold and never read back by it.
"""

from __future__ import annotations

from typing import Any

from plaudit.domain.expressions import closest
from plaudit.domain.mechanics.leaderboards import PERIOD_KINDS
from plaudit.domain.rulebook import Leaderboard
from plaudit.rulebook import schema as s
from plaudit.rulebook.context import Context

VISIBILITIES = ("opt_in",)


def compile_leaderboards(ctx: Context) -> list[Leaderboard]:
    boards: list[Leaderboard] = []
    ids = [b.id for b in ctx.spec.leaderboards]
    for i, spec in enumerate(ctx.spec.leaderboards):
        path: tuple[Any, ...] = ("leaderboards", i)
        ok = ctx.unique_id((*path, "id"), ids, i, "leaderboard")
        board = _board(ctx, path, spec, len(boards))
        if ok and board is not None:
            boards.append(board)
    return boards


def _board(ctx: Context, path: tuple[Any, ...], spec: s.LeaderboardSpec,
           index: int) -> Leaderboard | None:
    ok = True
    if spec.period not in PERIOD_KINDS:
        ctx.problem((*path, "period"), f"unknown period `{spec.period}` (known: "
                                       f"{', '.join(PERIOD_KINDS)})",
                    closest(spec.period, PERIOD_KINDS))
        ok = False
    if spec.visibility not in VISIBILITIES:
        ctx.problem((*path, "visibility"),
                    f"visibility `{spec.visibility}` is not offered: a leaderboard lists "
                    "only members who opted in (`opt_in`)", closest(spec.visibility,
                                                                     VISIBILITIES))
        ok = False
    metric = _metric(ctx, (*path, "metric"), spec.metric)
    if metric is None or not ok:
        return None
    kind, event, attr, where, value_type = metric
    return Leaderboard(spec.id, spec.label, kind, event, attr, where, spec.period,
                       value_type, index)


def _metric(ctx: Context, path: tuple[Any, ...], spec: s.MetricSpec
            ) -> tuple[str, str, str | None, Any, str] | None:
    kinds = [k for k in ("count", "sum") if getattr(spec, k) is not None]
    if len(kinds) != 1:
        ctx.problem(path, "a metric is exactly one of count, sum"
                    + (f" (got {', '.join(kinds)})" if kinds else ""))
        return None
    kind = kinds[0]
    target = str(getattr(spec, kind))
    event, _, attr = target.partition(".")
    where_path = (*path, kind)
    if kind == "count" and attr:
        ctx.problem(where_path, "`count` takes an event type, not an attribute")
        return None
    if kind == "sum" and not attr:
        ctx.problem(where_path, "`sum` takes `event_type.attribute`, like `purchase.amount`")
        return None
    if event == "any":
        ctx.problem(where_path, "a metric reads one event type, not `any`")
        return None
    if not ctx.event_type(where_path, event):
        return None
    value_type = "int"
    if kind == "sum":
        if attr in ctx.member_attrs[event]:
            ctx.problem(where_path, f"`{target}` identifies another member: a metric may "
                                    "not read other members")
            return None
        found = ctx.attribute_of(where_path, event, attr)
        if found is None:
            return None
        if found.type not in ("int", "decimal"):
            ctx.problem(where_path, f"`sum` needs a number attribute; `{target}` is "
                                    f"{found.type}")
            return None
        value_type = found.type
    where = None
    if spec.where is not None:
        where = ctx.expr((*path, "where"), spec.where, ctx.event_names[event], "bool")
        if where is None:
            return None
    return kind, event, attr or None, where, value_type


__all__ = ["compile_leaderboards"]
