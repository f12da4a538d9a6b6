"""Disputes: a member objects to one of their events; the operator accepts or rejects.

A member opens a dispute with their own token (scope ``consents``: the token may act for
its member), or the operator does for them (``ingest``), and reads their disputes and
each outcome. The operator lists and reads disputes with ``read`` and decides them with
``ingest`` (deciding changes the member's points and score, as sending an event does);
the deciding key's id is kept as who decided.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.access import Principal
from plaudit.application.disputes import (
    MAX_DECISION,
    MAX_PAGE,
    REASONS,
    DisputePage,
    DisputeView,
)
from plaudit.application.wire import ID_PATTERN
from plaudit.entrypoints.http.media import json_body
from plaudit.entrypoints.http.members import Reader, Writer, json_response
from plaudit.entrypoints.http.models import _Body
from plaudit.entrypoints.http.problems import responses
from plaudit.entrypoints.http.security import MemberId, operator, service

router = APIRouter(tags=["disputes"])

DisputeId = Annotated[str, Path(pattern=r"^dsp_[0-9a-f]{16}$",
                                description="The dispute's id (from its answer).")]
Reason = Literal["not-mine", "wrong-amount", "wrong-time", "duplicate", "other"]
assert set(Reason.__args__) == set(REASONS)  # type: ignore[attr-defined]
Lister = Annotated[Principal, Depends(operator("read"))]
Decider = Annotated[Principal, Depends(operator("ingest"))]
JsonBody = Annotated[None, Depends(json_body)]


class DisputeCreate(_Body):
    event_id: Annotated[str, Field(pattern=ID_PATTERN,
                                   description="The id of one of the member's events.")]
    reason: Annotated[Reason, Field(description="Why, as a code: plaudit stores no "
                                                "member's own words.")]


class Rejection(_Body):
    reason: Annotated[str, Field(min_length=1, max_length=MAX_DECISION,
                                 description="Your explanation, shown to the member.")]


@router.post("/v1/members/{member_id}/disputes", response_model=DisputeView,
             status_code=201, responses={
                 **responses(401, 403, 409, 415, 422, 503),
                 200: {"model": DisputeView, "description": "The same open dispute, "
                                                            "opened before"}},
             summary="Dispute one of the member's events")
async def open_dispute(request: Request, member_id: MemberId, who: Writer, _body: JsonBody,
                       body: DisputeCreate) -> Response:
    """Under the program's default policy (`program.disputes: exclude`) the event is left
    out of the member's points, score, tier and the rest at once, until the operator
    decides. An unknown event and another member's event get the same 422. Opening the same
    open dispute again answers 200 with it; an event already disputed otherwise is 409."""
    view, created = await run_in_threadpool(lambda: service(request).disputes.open(
        member_id, body.event_id, body.reason, actor=who.key_id))
    return json_response(view, 201 if created else 200)


@router.get("/v1/members/{member_id}/disputes", response_model=list[DisputeView],
            responses=responses(401, 403, 404, 422, 503), summary="The member's disputes")
async def member_disputes(request: Request, member_id: MemberId, who: Reader) -> Response:
    """Oldest first: each dispute's event, reason, status and, once decided, when and (for
    a rejection) the operator's explanation."""
    return json_response(await run_in_threadpool(service(request).disputes.of_member,
                                                 member_id))


@router.get("/v1/disputes", response_model=DisputePage,
            responses=responses(401, 403, 422, 503), summary="List disputes")
async def list_disputes(
        request: Request, who: Lister,
        status: Annotated[Literal["open", "accepted", "rejected"] | None,
                          Query(description="Only disputes with this status.")] = None,
        after: Annotated[int, Query(ge=0, le=2**62, description="The `next` of the "
                                    "previous page.")] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> Response:
    """In the order they were opened, `limit` at a time; `next` is null on the last page."""
    return json_response(await run_in_threadpool(service(request).disputes.page, status,
                                                 after, limit))


@router.get("/v1/disputes/{dispute_id}", response_model=DisputeView,
            responses=responses(401, 403, 404, 422, 503), summary="One dispute")
async def get_dispute(request: Request, dispute_id: DisputeId, who: Lister) -> Response:
    return json_response(await run_in_threadpool(service(request).disputes.get, dispute_id))


@router.post("/v1/disputes/{dispute_id}/accept", response_model=DisputeView,
             responses=responses(401, 403, 404, 409, 422, 503), summary="Accept: void the event")
async def accept_dispute(request: Request, dispute_id: DisputeId, who: Decider) -> Response:
    """The event is left out of the member's fold for good, in this request's transaction
    (a purchase's points go with it). A decided dispute is 409."""
    return json_response(await run_in_threadpool(
        lambda: service(request).disputes.accept(dispute_id, actor=who.key_id)))


@router.post("/v1/disputes/{dispute_id}/reject", response_model=DisputeView,
             responses=responses(401, 403, 404, 409, 415, 422, 503),
             summary="Reject, with an explanation for the member")
async def reject_dispute(request: Request, dispute_id: DisputeId, who: Decider,
                         _body: JsonBody, body: Rejection) -> Response:
    """The event counts again. A decided dispute is 409."""
    return json_response(await run_in_threadpool(
        lambda: service(request).disputes.reject(dispute_id, body.reason,
                                                 actor=who.key_id)))


__all__ = ["router"]
