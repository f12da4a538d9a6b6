"""Member reads (state, score, history, points, tier, perks, consents), consents and tokens.

Every read takes ``as_of`` (RFC 3339 with an offset; default now) and is a fold of the
member's events up to that instant under the current rulebook. A member token reads only
its own member; an operator key needs ``read``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.access import Principal
from plaudit.application.service import Plaudit
from plaudit.application.wire import Instant, to_json, unknown_partner
from plaudit.domain.calendar import from_us, to_us
from plaudit.domain.errors import InvalidRequest
from plaudit.domain.explain import Explanation
from plaudit.domain.state import (
    ConsentView,
    MemberState,
    PerkView,
    Points,
    ScoreView,
    TierView,
)
from plaudit.entrypoints.http.media import json_body
from plaudit.entrypoints.http.models import (
    ConsentOut,
    Partner,
    ScoreHistoryOut,
    TokenCreate,
    TokenOut,
)
from plaudit.entrypoints.http.problems import responses
from plaudit.entrypoints.http.security import (
    MemberId,
    member_reader,
    member_writer,
    operator,
    service,
)

router = APIRouter(tags=["members"])

AsOf = Annotated[Instant | None, Query(
    description="The instant to read the member at (RFC 3339 with an offset), from 1900 "
                "up to 9000. Default: now.")]
Reader = Annotated[Principal, Depends(member_reader)]
Writer = Annotated[Principal, Depends(member_writer)]
READ_ERRORS = responses(401, 403, 404, 422, 503)


def json_response(data: Any, status: int = 200) -> Response:
    """A domain value as the API's JSON (:func:`~plaudit.application.wire.to_json`)."""
    return Response(to_json(data), status_code=status, media_type="application/json")


def instant_us(as_of: datetime | None) -> int | None:
    return to_us(as_of) if as_of is not None else None


async def _state(request: Request, member_id: str, as_of: datetime | None,
                 history: bool = False) -> MemberState:
    return await run_in_threadpool(service(request).member_state, member_id,
                                   instant_us(as_of), history=history)


@router.get("/v1/members/{member_id}", response_model=MemberState, responses=READ_ERRORS,
            summary="A member's whole state")
async def get_member(request: Request, member_id: MemberId, who: Reader, as_of: AsOf = None,
                     history: Annotated[bool, Query(description="Include every award, "
                                                    "reversal and spend.")] = False
                     ) -> Response:
    """Points, features, score with factors and reasons, tier, perks and consents."""
    if as_of is None and not history:  # the present state: from a fold worker, as bytes
        return Response(await run_in_threadpool(service(request).member_json, member_id),
                        media_type="application/json")
    return json_response(await _state(request, member_id, as_of, history))


@router.get("/v1/members/{member_id}/score", response_model=ScoreView | None,
            responses=READ_ERRORS, summary="Score with factors and reason codes")
async def get_score(request: Request, member_id: MemberId, who: Reader,
                    as_of: AsOf = None) -> Response:
    """The score, its band, each factor's input and points, and up to four reasons, the
    factors that cost the most points first. `null` when the rulebook has no score."""
    state = await _state(request, member_id, as_of)
    return json_response(state.score)


@router.get("/v1/members/{member_id}/explain", response_model=Explanation | None,
            responses=READ_ERRORS, summary="Why this score, and how to reach the next band")
async def get_explanation(request: Request, member_id: MemberId, who: Reader,
                          as_of: AsOf = None) -> Response:
    """Each factor's input (and whether the member has data for it), its curve and position
    on it, the points it earns and loses; the reasons (at most four, stable ids); the ledger
    entries behind the balance; and the **improve plan**: the smallest change of factor
    inputs that reaches the next band, checked by re-scoring, with other single-factor ways.
    `null` when the rulebook has no score, or the member opted out."""
    svc = service(request)
    return json_response(await run_in_threadpool(svc.explain, member_id, instant_us(as_of)))


@router.get("/v1/members/{member_id}/score/history", response_model=ScoreHistoryOut,
            responses=READ_ERRORS, summary="One point per day the score changed")
async def get_score_history(
        request: Request, member_id: MemberId, who: Reader, as_of: AsOf = None,
        days: Annotated[int, Query(ge=1, le=3660, description="How many days back from "
                                   "as_of.")] = 365) -> Response:
    svc = service(request)
    at = to_us(as_of) if as_of is not None else svc.clock.now_us()
    points = await run_in_threadpool(svc.score_history, member_id, at, days)
    tz = svc.rulebook().calendar.tz
    return json_response({"member": member_id, "as_of": from_us(at, tz).isoformat(),
                          "points": points})


@router.get("/v1/members/{member_id}/points", response_model=Points, responses=READ_ERRORS,
            summary="Balance, lots and expiry schedule")
async def get_points(request: Request, member_id: MemberId, who: Reader,
                     as_of: AsOf = None) -> Response:
    """The balance, totals, each live lot (oldest first: spent first) and how many points
    expire on which local date."""
    return json_response((await _state(request, member_id, as_of)).points)


@router.get("/v1/members/{member_id}/tier", response_model=TierView | None,
            responses=READ_ERRORS, summary="Tier and progress to the next")
async def get_tier(request: Request, member_id: MemberId, who: Reader,
                   as_of: AsOf = None) -> Response:
    state = await _state(request, member_id, as_of)
    return json_response(state.tier)


@router.get("/v1/members/{member_id}/perks", response_model=list[PerkView],
            responses=READ_ERRORS, summary="Perks and whether the member has them")
async def get_perks(request: Request, member_id: MemberId, who: Reader,
                    as_of: AsOf = None) -> Response:
    return json_response((await _state(request, member_id, as_of)).perks)


@router.get("/v1/members/{member_id}/consents", response_model=list[ConsentView],
            responses=READ_ERRORS, summary="Partners the member granted or revoked")
async def get_consents(request: Request, member_id: MemberId, who: Reader,
                       as_of: AsOf = None) -> Response:
    return json_response((await _state(request, member_id, as_of)).consents)


def _record_consent(svc: Plaudit, member_id: str, partner: str, granted: bool
                    ) -> ConsentView:
    """A grant to a partner no perk lists is refused as the invalid path parameter it is
    (the service would refuse it too, but naming an item of an event the caller never
    sent)."""
    if granted:
        rb = svc.rulebook()
        if partner not in rb.partners:
            raise InvalidRequest([unknown_partner("path", "partner", partner, rb)])
    return svc.record_consent(member_id, partner, granted)


async def _consent(request: Request, member_id: str, partner: str, granted: bool
                   ) -> Response:
    view = await run_in_threadpool(_record_consent, service(request), member_id, partner,
                                   granted)
    return json_response({"member": member_id, "partner": view.partner, "granted": view.granted,
                          "at": view.at})


@router.put("/v1/members/{member_id}/consents/{partner}", response_model=ConsentOut,
            responses=READ_ERRORS, summary="Grant a partner consent")
async def grant_consent(request: Request, member_id: MemberId, partner: Partner,
                        who: Writer) -> Response:
    """Let `partner` ask whether this member qualifies for the partner's perks (yes/no
    only). Recorded as a `plaudit.consent` event; revocable at any time. `partner` must be
    listed by a perk of the rulebook (422 naming `partner` otherwise). A member not seen
    yet is created, as by any event of theirs: the answer is the same either way."""
    return await _consent(request, member_id, partner, True)


@router.delete("/v1/members/{member_id}/consents/{partner}", response_model=ConsentOut,
               responses=READ_ERRORS, summary="Revoke a partner's consent")
async def revoke_consent(request: Request, member_id: MemberId, partner: Partner,
                         who: Writer) -> Response:
    """From now on the partner's checks for this member are refused (403). Accepted for
    any partner id, even one the rulebook no longer lists: a member may always withdraw."""
    return await _consent(request, member_id, partner, False)


@router.post("/v1/members/{member_id}/tokens", response_model=TokenOut, status_code=201,
             responses=responses(401, 403, 404, 415, 422, 503),
             summary="Issue a short-lived member token")
async def create_token(request: Request, member_id: MemberId,
                       who: Annotated[Principal, Depends(operator("read"))],
                       _body: Annotated[None, Depends(json_body)],
                       body: Annotated[TokenCreate | None, Body()] = None) -> Response:
    """A bearer token that reads only this member, for your app to hand to the member's
    device. Issued by a key that also has `ingest`, it may grant and revoke the member's
    consents too (`scopes` says which). Default lifetime 15 minutes, at most 24 hours;
    revoking the key that issued it revokes the token too."""
    seconds = (body or TokenCreate()).seconds
    issued = await run_in_threadpool(service(request).access.issue_member_token, member_id,
                                     seconds, issued_by=who.key_id, actor=who.key_id,
                                     consents=who.has("ingest"))
    assert issued.row.expires_us is not None
    return json_response({"member": member_id, "token": issued.token,
                          "scopes": issued.row.scopes.split(),
                          "expires_at": from_us(issued.row.expires_us).isoformat()}, 201)


__all__ = ["router"]
