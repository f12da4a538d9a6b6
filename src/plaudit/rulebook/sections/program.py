"""``program``: id, name, timezone (every period is cut in it), the wallet's name and
what an open dispute does to its event (``disputes``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from plaudit.domain.expressions import closest
from plaudit.domain.rulebook import Program
from plaudit.rulebook.context import ID as _ID
from plaudit.rulebook.context import Context


def compile_program(ctx: Context) -> Program:
    p = ctx.spec.program
    if not _ID.match(p.id):
        ctx.problem(("program", "id"), f"`{p.id}` must be letters, digits, `.`, `_`, `-`")
    try:
        ZoneInfo(p.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        ctx.problem(("program", "timezone"), f"unknown timezone `{p.timezone}`",
                    closest(p.timezone, sorted(available_timezones())))
    return Program(p.id, p.name, p.timezone if not ctx.problems else "UTC", p.wallet,
                   p.disputes)


__all__ = ["compile_program"]
