"""The audit log (admin, as over the API): who did what to which subject, newest first,
filtered by action, and the verification of its hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.audit import ACTIONS
from plaudit.entrypoints.web.console_base import require, show
from plaudit.entrypoints.web.session import OperatorPage, service

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/audit")
async def audit(request: Request, session: OperatorPage,
                action: Annotated[str | None, Query(max_length=40)] = None,
                before: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> Response:
    require(session, "admin")
    wanted = action or None  # the form's "every action" sends an empty value
    page = await run_in_threadpool(service(request).audit_page, PAGE, before, wanted)
    return show(request, "console/audit.html", session, "audit", listing=page, action=wanted,
                actions=ACTIONS, verdict=None)


@router.get("/audit/verify")
async def verify(request: Request, session: OperatorPage) -> Response:
    """Walks the whole chain (a read: a GET, like ``GET /v1/audit/verify``)."""
    require(session, "admin")
    svc = service(request)
    verdict = await run_in_threadpool(svc.verify_audit)
    page = await run_in_threadpool(svc.audit_page, PAGE, None, None)
    return show(request, "console/audit.html", session, "audit", listing=page, action=None,
                actions=ACTIONS, verdict=verdict)


__all__ = ["router"]
