"""The member portal: a member's own state, explained, and their rights, in a browser.

Every page reads or writes through the same service calls as the API's member routes,
with the signed-in member's own id: a portal page can only ever show its member.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.entrypoints.web.pages import render
from plaudit.entrypoints.web.session import MemberPage, service

router = APIRouter(prefix="/portal", include_in_schema=False)


@router.get("")
async def home(request: Request, session: MemberPage) -> Response:
    svc = service(request)
    state = await run_in_threadpool(svc.member_state, session.member)
    lo, hi = state.score.range if state.score else (350, 950)
    return render(request, "portal/home.html", area="portal", page="home", session=session,
                  state=state, score=state.score, lo=lo, hi=hi)


__all__ = ["router"]
