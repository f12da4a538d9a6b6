"""Member reads of badges and quests.

Both take ``as_of`` like every member read (RFC 3339 with an offset; default now) and are
the member's state at that instant under the current rulebook: badges held (each level
with the event that earned it), and every quest with its progress, status and deadline. A
member token reads only its own member; an operator key needs ``read``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.domain.state import BadgeView, QuestView
from plaudit.entrypoints.http.members import READ_ERRORS, AsOf, Reader, instant_us, json_response
from plaudit.entrypoints.http.security import MemberId, service

router = APIRouter(tags=["badges and quests"])


@router.get("/v1/members/{member_id}/badges", response_model=list[BadgeView],
            responses=READ_ERRORS, summary="Badges the member holds")
async def get_badges(request: Request, member_id: MemberId, who: Reader,
                     as_of: AsOf = None) -> Response:
    """In rulebook order: each badge's highest level held with the event that earned it
    (local time, rulebook version), the lower levels' records in `earlier`, and for a
    levelled badge below its top level the feature's value and the next threshold."""
    views = await run_in_threadpool(service(request).member_badges, member_id,
                                    instant_us(as_of))
    return json_response(views)


@router.get("/v1/members/{member_id}/quests", response_model=list[QuestView],
            responses=READ_ERRORS, summary="Quests with the member's progress")
async def get_quests(request: Request, member_id: MemberId, who: Reader,
                     as_of: AsOf = None) -> Response:
    """Every quest: `status` at `as_of` (`upcoming`, `active`, `completed`, `expired`),
    the goal, the progress so far (events dated within the quest's local days), the
    `deadline` (the instant the last day ends) and, once completed, the event and time
    that completed it."""
    views = await run_in_threadpool(service(request).member_quests, member_id,
                                    instant_us(as_of))
    return json_response(views)


__all__ = ["router"]
