"""The partner check: a yes/no (and until when) for one perk of one consenting member; and
the member's log of every check made about them."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.access import Principal
from plaudit.application.service import CheckView
from plaudit.application.wire import Instant
from plaudit.entrypoints.http.members import Reader, instant_us, json_response
from plaudit.entrypoints.http.models import PerkCheckOut
from plaudit.entrypoints.http.problems import responses
from plaudit.entrypoints.http.security import MemberId, partner, service

router = APIRouter(tags=["partners"])


@router.get("/v1/partner/perks/{perk_id}/members/{member_id}", response_model=PerkCheckOut,
            responses=responses(401, 403, 422, 503), summary="Does this member have my perk?")
async def check_perk(request: Request,
                     perk_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")],
                     member_id: MemberId,
                     who: Annotated[Principal, Depends(partner)]) -> Response:
    """Answered only for a perk that lists this partner, and only while the member's latest
    word to this partner is a grant. Every other case — unknown member, unknown perk, a perk
    of another partner, no or revoked consent — is the same 403, so the answer reveals
    nothing about the member. `valid_until` is `checked_at` plus the perk's `valid_for`
    (rulebook; default one hour). Every check about an existing member is logged for that
    member to see, refusals included."""
    assert who.partner is not None
    check = await run_in_threadpool(service(request).check_perk, who.partner, member_id,
                                    perk_id)
    return Response(orjson.dumps(dataclasses.asdict(check)), media_type="application/json")


@router.get("/v1/members/{member_id}/partner-checks", response_model=list[CheckView],
            responses=responses(401, 403, 404, 422, 503),
            summary="Every partner check made about this member", tags=["members"])
async def get_partner_checks(
        request: Request, member_id: MemberId, who: Reader,
        limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
        before: Annotated[Instant | None, Query(description="Only checks before this instant "
                                      "(RFC 3339), to page back.")] = None) -> Response:
    """Newest first: which partner asked, for which perk, when, the answer (`yes`, `no`, or
    `refused` when the member had not consented) and until when it held."""
    checks = await run_in_threadpool(service(request).partner_checks, member_id, limit,
                                     instant_us(before))
    return json_response(checks)


__all__ = ["router"]
