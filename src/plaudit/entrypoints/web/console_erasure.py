"""Erasure requests (scope `erase`, as over the API): the members who asked from the
portal, oldest first; erasing one, after typing their id to confirm (the page's
equivalent of ``Plaudit-Confirm-Erase``), or declining with a reason the member reads.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from plaudit.application.erasure_requests import MAX_REASON
from plaudit.domain.errors import PlauditError
from plaudit.entrypoints.http.security import MemberId
from plaudit.entrypoints.web.console_base import field, refused, require, show
from plaudit.entrypoints.web.session import OperatorForm, OperatorPage, back, service

router = APIRouter(include_in_schema=False)
QUEUE = "/console/erasure"


@router.get("/erasure")
async def queue(request: Request, session: OperatorPage,
                member: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    require(session, "erase")
    if member is not None and member.strip():  # "erase another member": to its page
        return RedirectResponse(f"{QUEUE}/{quote(member.strip(), safe='')}",
                                status_code=303)
    requests = await run_in_threadpool(service(request).erasure_requests)
    return show(request, "console/erasure.html", session, "erasure", requests=requests,
                max_reason=MAX_REASON)


@router.get("/erasure/{member_id}")
async def confirm(request: Request, member_id: MemberId, session: OperatorPage) -> Response:
    require(session, "erase")
    svc = service(request)
    state = await run_in_threadpool(lambda: svc.member_state(member_id, history=False))
    asked = await run_in_threadpool(svc.erasure_request, member_id)
    return show(request, "console/erase.html", session, "erasure", state=state,
                asked=asked, max_reason=MAX_REASON)


@router.post("/erasure/{member_id}/erase")
async def erase(request: Request, member_id: MemberId, session: OperatorForm) -> Response:
    """As ``DELETE /v1/members/{id}``: only when the typed confirmation repeats the id."""
    require(session, "erase")
    typed = field(session, "confirm", 200, required=False).strip()
    if typed != member_id:
        return back(f"{QUEUE}/{quote(member_id, safe='')}",
                    "Type the member id exactly to confirm: nothing was erased.", error=True)
    svc = service(request)
    try:
        done = await run_in_threadpool(lambda: svc.erase_member(member_id,
                                                                actor=session.actor))
    except PlauditError as e:
        return refused(QUEUE, e)
    return back(QUEUE, f"Erased {member_id}: {done.events} event(s) deleted; what others "
                f"earned through them now names {done.tombstone}.")


@router.post("/erasure/{member_id}/decline")
async def decline(request: Request, member_id: MemberId, session: OperatorForm) -> Response:
    require(session, "erase")
    reason = field(session, "reason", MAX_REASON)
    svc = service(request)
    try:
        await run_in_threadpool(lambda: svc.decline_erasure(member_id, reason,
                                                            actor=session.actor))
    except PlauditError as e:
        return refused(QUEUE, e)
    return back(QUEUE, f"Declined the erasure of {member_id}; the member sees your reason.")


__all__ = ["router"]
