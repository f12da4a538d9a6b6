"""``tiers``: levels from qualifying points in a window, or from the score; grace."""

from __future__ import annotations

from decimal import Decimal

from plaudit.domain.rulebook import PointRule, Score, Tiers
from plaudit.rulebook.context import Context


def compile_tiers(ctx: Context, score: Score | None, rules: list[PointRule]) -> Tiers | None:
    t = ctx.spec.tiers
    if t is None:
        return None
    grace = ctx.duration(("tiers", "grace"), t.grace) or 0
    window: str | None = None
    window_days: int | None = None
    if t.basis == "score":
        if score is None:
            ctx.problem(("tiers", "basis"), "tiers based on the score need a `score` "
                                            "section")
            return None
        if t.window is not None:
            ctx.problem(("tiers", "window"), "a score basis has no window: the score "
                                             "already reads its features' windows")
        levels = ctx.levels(("tiers", "levels"), t.levels, Decimal(score.low), "tier",
                            Decimal(score.high))
    else:
        if not rules and not any(q.reward.points for q in ctx.spec.quests):
            ctx.problem(("tiers", "basis"), "tiers based on qualifying points need "
                                            "point rules (or quests that award points)")
        text = (t.window or "rolling 365d").strip().lower()
        if text in ("calendar year", "calendar_year"):
            window = "calendar_year"
        elif text == "anniversary":
            window = "anniversary"
        elif text.startswith("rolling "):
            window = "rolling"
            window_days = ctx.duration(("tiers", "window"), text[len("rolling "):])
        else:
            ctx.problem(("tiers", "window"), f"unknown window `{t.window}`: write "
                                             "`rolling 365d`, `calendar year` or "
                                             "`anniversary`")
        levels = ctx.levels(("tiers", "levels"), t.levels, Decimal(0), "tier")
    return Tiers(t.basis, window, window_days, grace, levels)


__all__ = ["compile_tiers"]
