"""The disputes queue: members' objections to their events, oldest first, and the
operator's decision (accept: the event is voided; reject: it counts again, with an
explanation the member reads). Listing needs `read`, deciding `ingest`, as over the API.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.disputes import MAX_DECISION
from plaudit.domain.errors import PlauditError
from plaudit.entrypoints.web.console_base import field, refused, require, show
from plaudit.entrypoints.web.session import OperatorForm, OperatorPage, back, service

router = APIRouter(include_in_schema=False)
DisputeId = Annotated[str, Path(pattern=r"^dsp_[0-9a-f]{16}$")]
PAGE = 50
Status = Literal["open", "accepted", "rejected"]


def _queue(status: str | None) -> str:
    return "/console/disputes" + (f"?status={status}" if status and status != "open" else "")


@router.get("/disputes")
async def disputes(request: Request, session: OperatorPage,
                   status: Annotated[Status | Literal["all"], Query()] = "open",
                   after: Annotated[int, Query(ge=0, le=2**62)] = 0) -> Response:
    require(session, "read")
    wanted = None if status == "all" else status
    page = await run_in_threadpool(service(request).disputes.page, wanted, after, PAGE)
    return show(request, "console/disputes.html", session, "disputes", listing=page,
                status=status, after=after, max_decision=MAX_DECISION)


@router.post("/disputes/{dispute_id}/accept")
async def accept(request: Request, dispute_id: DisputeId, session: OperatorForm) -> Response:
    require(session, "ingest")
    svc = service(request)
    try:
        view = await run_in_threadpool(lambda: svc.disputes.accept(dispute_id,
                                                                   actor=session.actor))
    except PlauditError as e:
        return refused("/console/disputes", e)
    return back("/console/disputes", f"Accepted: event {view.event.id} of {view.member} "
                "no longer counts.")


@router.post("/disputes/{dispute_id}/reject")
async def reject(request: Request, dispute_id: DisputeId, session: OperatorForm) -> Response:
    require(session, "ingest")
    reason = field(session, "reason", MAX_DECISION).strip()
    svc = service(request)
    try:
        view = await run_in_threadpool(lambda: svc.disputes.reject(
            dispute_id, reason, actor=session.actor))
    except PlauditError as e:
        return refused("/console/disputes", e)
    return back("/console/disputes", f"Rejected: event {view.event.id} of {view.member} "
                "counts again; the member sees your explanation.")


__all__ = ["router"]
