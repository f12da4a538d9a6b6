"""The audit log of operator actions (admin only): read it, and verify its hash chain."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.access import Principal
from plaudit.application.audit import ACTIONS, MAX_PAGE, AuditPage, Verdict
from plaudit.entrypoints.http.members import json_response
from plaudit.entrypoints.http.problems import responses
from plaudit.entrypoints.http.security import operator, service

router = APIRouter(tags=["audit"])
Admin = Annotated[Principal, Depends(operator("admin"))]
Action = Literal["key.create", "key.revoke", "token.issue", "draft.upload", "rulebook.publish",
                 "dispute.open", "dispute.accept", "dispute.reject", "member.export",
                 "member.opt_out", "member.opt_in", "member.erase",
                 "member.erase_request", "member.erase_decline"]
assert Action.__args__ == ACTIONS  # type: ignore[attr-defined]


@router.get("/v1/audit", response_model=AuditPage, responses=responses(401, 403, 422, 503),
            summary="The audit log, newest first")
async def list_audit(
        request: Request, who: Admin,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        before: Annotated[int | None, Query(ge=1, le=2**62, description="The `next` of the "
                                            "previous page: only entries before this seq.")
                          ] = None,
        action: Annotated[Action | None, Query(description="Only entries of this action.")
                          ] = None) -> Response:
    """Who did what to which subject, when: `limit` entries at a time, newest first;
    `next` is null on the last page. A member is named by a random reference
    (`member:<ref>`), never by id."""
    return json_response(await run_in_threadpool(service(request).audit_page, limit, before,
                                                 action))


@router.get("/v1/audit/verify", response_model=Verdict, responses=responses(401, 403, 503),
            summary="Verify the audit log's hash chain")
async def verify_audit(request: Request, who: Admin) -> Response:
    """Walks every entry in one snapshot: `ok` when each links to the one before and hashes
    to what it holds and the head names the last; otherwise `first_bad` names the first
    entry that does not hold and the problem (`hash mismatch`, `broken link`,
    `missing` …). Note `head` elsewhere to prove later that nothing up to it was rewritten
    (`plaudit audit verify --anchor SEQ:HASH`)."""
    return json_response(await run_in_threadpool(service(request).verify_audit))


__all__ = ["router"]
