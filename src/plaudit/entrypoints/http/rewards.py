"""The rewards catalogue, redemptions and their cancellation.

A redemption is a command with an idempotency key: the same member and key always name
the same redemption, so a retry (or a double click) answers the first result and spends
nothing more. Members redeem with their own token (scope ``consents``: the token may act
for its member) or the operator does for them (``ingest``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.access import Principal
from plaudit.domain.state import CatalogueEntry, LedgerEntry, RedemptionView
from plaudit.entrypoints.http.members import AsOf, Reader, Writer, instant_us, json_response
from plaudit.entrypoints.http.models import _Body
from plaudit.entrypoints.http.problems import responses
from plaudit.entrypoints.http.security import MemberId, operator, service

router = APIRouter(tags=["rewards"])

RewardId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                                description="A reward id of the rulebook's catalogue.")]
RedemptionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$",
                                   description="The redemption's id (from its answer).")]


class RedemptionCreate(_Body):
    reward: RewardId
    key: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$",
                              description="Your idempotency key: the same key again "
                                          "returns the first redemption.")]


@router.get("/v1/rewards", response_model=list[CatalogueEntry],
            responses=responses(401, 403, 404, 503), summary="The rewards catalogue")
async def get_catalogue(request: Request,
                        who: Annotated[Principal, Depends(operator("read"))]) -> Response:
    """Every reward with its cost, limit, requirement and the stock left (`null`: no
    limit)."""
    return json_response(await run_in_threadpool(service(request).catalogue))


@router.get("/v1/members/{member_id}/rewards", response_model=list[CatalogueEntry],
            responses=responses(401, 403, 404, 422, 503),
            summary="The catalogue as this member sees it")
async def get_member_catalogue(request: Request, member_id: MemberId, who: Reader,
                               as_of: AsOf = None) -> Response:
    """Each reward with `redeemable` for this member at `as_of` and, when not, the first
    reason why (dates, requirement, limit, points, stock)."""
    return json_response(await run_in_threadpool(service(request).catalogue, member_id,
                                                 instant_us(as_of)))


@router.get("/v1/members/{member_id}/redemptions", response_model=list[RedemptionView],
            responses=responses(401, 403, 404, 422, 503), summary="The member's redemptions")
async def get_redemptions(request: Request, member_id: MemberId, who: Reader,
                          as_of: AsOf = None) -> Response:
    state = await run_in_threadpool(service(request).member_state, member_id,
                                    instant_us(as_of), history=False)
    return json_response(state.redemptions)


@router.get("/v1/members/{member_id}/ledger", response_model=list[LedgerEntry],
            responses=responses(401, 403, 404, 422, 503), summary="The points statement")
async def get_ledger(request: Request, member_id: MemberId, who: Reader,
                     as_of: AsOf = None) -> Response:
    """Every movement of the member's points up to `as_of`, oldest first: earned, clawed
    back (by which refund: `event`), spent, redeemed, returned and expired (when), with the
    balance after each."""
    return json_response(await run_in_threadpool(service(request).ledger, member_id,
                                                 instant_us(as_of)))


@router.post("/v1/members/{member_id}/redemptions", response_model=RedemptionView,
             status_code=201, responses=responses(401, 403, 404, 409, 422, 503),
             summary="Redeem a reward (idempotent by key)")
async def redeem(request: Request, member_id: MemberId, body: RedemptionCreate,
                 who: Writer) -> Response:
    """Spends the reward's cost from the oldest points first. Refused with 409
    `redemption-refused` (requirement, limit, dates, out of stock) or 422
    `insufficient-points`; nothing is spent then. The same key again: 200 with the first
    redemption."""
    svc = service(request)
    view, created = await run_in_threadpool(svc.redeem_once, member_id, body.reward,
                                            body.key)
    return json_response(view, 201 if created else 200)


@router.post("/v1/members/{member_id}/redemptions/{redemption_id}/cancel",
             response_model=RedemptionView, responses=responses(401, 403, 404, 409, 422, 503),
             summary="Cancel a redemption")
async def cancel(request: Request, member_id: MemberId, redemption_id: RedemptionId,
                 who: Writer) -> Response:
    """The points go back to the lots they came from (points whose lot expired meanwhile
    stay expired: `expired_meanwhile`), the stock to the catalogue. Cancelling again
    answers the same and changes nothing."""
    return json_response(await run_in_threadpool(service(request).cancel_redemption, member_id,
                                                 redemption_id))


__all__ = ["router"]
