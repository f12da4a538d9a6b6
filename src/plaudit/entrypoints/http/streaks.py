"""Member streaks: current and longest runs, status and freezes at an as-of time.

``as_of`` works as in every member read (RFC 3339 with an offset; default now): a streak
is at risk or broken by that instant alone, never by the server's clock at read time.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.domain.state import StreakView
from plaudit.entrypoints.http.members import READ_ERRORS, AsOf, Reader, instant_us, json_response
from plaudit.entrypoints.http.security import MemberId, service

router = APIRouter(tags=["members"])


@router.get("/v1/members/{member_id}/streaks", response_model=list[StreakView],
            responses=READ_ERRORS, summary="Streaks: current and longest runs")
async def get_streaks(request: Request, member_id: MemberId, who: Reader,
                      as_of: AsOf = None) -> Response:
    """Each streak of the rulebook: `status` (`active`, `at_risk`, `broken`,
    `not_started`), the `current` and `longest` runs in periods, the current period and
    its qualifying events, freezes used and left in the current block, and, while the
    streak is alive, `at_risk_until` (the end of the current period, when it still lacks
    its events) and `breaks_at` (when it breaks if no period qualifies again)."""
    return json_response(await run_in_threadpool(service(request).member_streaks, member_id,
                                                 instant_us(as_of)))


__all__ = ["router"]
