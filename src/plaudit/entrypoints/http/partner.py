"""The partner check: a yes/no (and until when) for one perk of one consenting member."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.access import Principal
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
    nothing about the member. `valid_until` is the end of the member's program day."""
    assert who.partner is not None
    check = await run_in_threadpool(service(request).check_perk, who.partner, member_id,
                                    perk_id)
    return Response(orjson.dumps(dataclasses.asdict(check)), media_type="application/json")


__all__ = ["router"]
