"""A member's data rights over HTTP: export, opt-out and opt-in, erasure.

Who may do what, and why:

* **export** — the member's own token, or an operator key with ``read`` (the
  ``member_reader`` guard). Not more for operators: a ``read`` key may issue the member a
  token, and that token exports, so a stricter scope would be one call away; and a token
  never reads more than the key that issued it.
* **opt-out, opt-in** — the member's own token with ``consents``, or an operator key with
  ``ingest`` (``member_writer``, as for revoking a consent). Leaving writes an event and
  withdraws every consent, so it is a write: a token from a ``read``-only key cannot,
  or every ``read`` key could opt anyone out through a token.
* **erasure** — an operator key with ``erase`` (or ``admin``), never a member token: it
  is irreversible, a token with ``consents`` is issued by any key with ``read`` and
  ``ingest``, and whether the operator must keep some records first (an open dispute,
  accounting) is the operator's call. A member stops everything at once by opting out;
  the operator's "delete my account" backend holds an ``erase`` key.

Erasure must be confirmed by repeating the member id in the ``Plaudit-Confirm-Erase``
header: a missing, different or repeated confirmation is a 422 naming the header, and
erases nothing. The answer is the tombstone, without the member id: the tombstone id is
what other members' rewritten references now name, and plaudit keeps no link between the
two.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application import export
from plaudit.application.access import Principal
from plaudit.application.disputes import DisputeView
from plaudit.application.erasure_requests import MAX_REASON
from plaudit.application.leaderboards import MemberBoard
from plaudit.application.service import CheckView
from plaudit.domain.errors import InvalidRequest, Problem
from plaudit.domain.state import LedgerEntry, MemberState
from plaudit.entrypoints.http.media import json_body
from plaudit.entrypoints.http.members import READ_ERRORS, Reader, Writer, json_response
from plaudit.entrypoints.http.models import _Body
from plaudit.entrypoints.http.problems import responses
from plaudit.entrypoints.http.security import MemberId, operator, service

router = APIRouter(tags=["member data rights"])

CONFIRM = "Plaudit-Confirm-Erase"
"""The header that must repeat the member id of the path for an erasure to run."""
Eraser = Annotated[Principal, Depends(operator("erase"))]
JsonBody = Annotated[None, Depends(json_body)]


class ExportEvent(BaseModel):
    id: str
    type: str
    at: str
    attributes: dict[str, Any] = Field(description="As stored (decimals as strings).")


class ExportEntry(BaseModel):
    board: str
    period: str
    value: str
    reached_at: str
    pseudonym: str
    rank: int


class ExportBoards(BaseModel):
    pseudonym: str | None
    boards: list[MemberBoard]
    friends: list[str]
    entries: list[ExportEntry] = Field(description="Every stored entry of the member, past "
                                                   "periods too.")


class ExportToken(BaseModel):
    id: str
    scopes: list[str]
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class ErasureRequestOut(BaseModel):
    member: str
    requested_at: str = Field(description="UTC.")
    status: Literal["pending", "declined"]
    declined_at: str | None
    reason: str | None = Field(description="Why the operator declined, for the member.")


class ExportOut(BaseModel):
    """Everything plaudit stores about the member (application/export.py)."""

    format: Literal["plaudit-export/1"]
    exported_at: str
    member: str
    rulebook_version: int
    status: Literal["active", "opted_out"]
    opted_out_at: str | None
    state: MemberState
    ledger: list[LedgerEntry]
    leaderboards: ExportBoards
    events: list[ExportEvent]
    tokens: list[ExportToken] = Field(description="Metadata only: never a secret or its "
                                                  "hash.")
    disputes: list[DisputeView]
    partner_checks: list[CheckView]
    erasure_request: ErasureRequestOut | None = Field(
        description="The member's latest erasure request and its outcome, if they asked.")


assert export.FORMAT == "plaudit-export/1"  # ExportOut.format says the same


class ParticipationOut(BaseModel):
    member: str
    status: Literal["active", "opted_out"]
    opted_out_at: str | None = Field(description="Local time the member opted out, while "
                                                 "they are out.")


class ErasureOut(BaseModel):
    tombstone: str = Field(description="The random id other members' references to the "
                                       "erased member now name; stored without the member "
                                       "id.")
    erased_at: str
    events: int = Field(description="The member's own events deleted.")
    rewritten: int = Field(description="Other members' events whose references now name "
                                       "the tombstone.")
    refolded: int = Field(description="Other members re-folded because of it.")


def _filename(member_id: str, exported_at: str) -> str:
    """A file name that is safe on every system: characters other than letters, digits,
    ``.``, ``_`` and ``-`` (``:``, ``@``) become ``_``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", member_id)
    return f"plaudit-export-{safe}-{exported_at[:10]}.json"


@router.get("/v1/members/{member_id}/export", response_model=ExportOut,
            responses=READ_ERRORS, summary="Everything stored about the member")
async def export_member(request: Request, member_id: MemberId, who: Reader) -> Response:
    """One JSON document, as an attachment: the state, the points statement, leaderboard
    standing and entries, every stored event as stored, token metadata, disputes and every
    partner check about the member. An unknown member is 404 for an operator key; a token
    of another member is 403, whether or not that member exists."""
    document = await run_in_threadpool(
        lambda: service(request).export_member(member_id, actor=who.key_id))
    response = json_response(document)
    name = _filename(member_id, document["exported_at"])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


async def _no_body(request: Request) -> None:
    """These routes take no body: one sent (a confirmation in the body, say) is refused
    rather than ignored, before anything is changed."""
    if await request.body():
        raise InvalidRequest([Problem("body", "", "this route takes no body")])


NoBody = Annotated[None, Depends(_no_body)]
WRITE_ERRORS = responses(401, 403, 413, 422, 503)


@router.post("/v1/members/{member_id}/opt-out", response_model=ParticipationOut,
             responses=WRITE_ERRORS, summary="Leave the program")
async def opt_out(request: Request, member_id: MemberId, who: Writer, _body: NoBody
                  ) -> Response:
    """From now on nothing of the member is scored: reads show no score, tier or perks
    (`status: opted_out`), every partner check is refused, every consent is withdrawn and
    the member leaves every leaderboard (their entries are deleted). Events sent for them
    are refused (409 `member-opted-out`) except withdrawals and opting in. Idempotent:
    asking again records nothing and answers the same. A member not seen yet is recorded
    as opted out, so the answer is the same whether they existed."""
    view = await run_in_threadpool(
        lambda: service(request).opt_out(member_id, actor=who.key_id))
    return json_response(view)


@router.post("/v1/members/{member_id}/opt-in", response_model=ParticipationOut,
             responses=WRITE_ERRORS, summary="Take part again")
async def opt_in(request: Request, member_id: MemberId, who: Writer, _body: NoBody
                 ) -> Response:
    """Events count again from now on; the score is computed afresh from the member's
    events. Consents, boards and friends stay withdrawn until the member grants or joins
    again. Idempotent: a member taking part already (or not seen yet) gets the same answer
    and nothing is recorded."""
    view = await run_in_threadpool(
        lambda: service(request).opt_in(member_id, actor=who.key_id))
    return json_response(view)


def _confirmed(request: Request, member_id: str) -> None:
    given = request.headers.getlist(CONFIRM)
    if not given:
        reason = ("erasure is irreversible: repeat the member id of the path in this "
                  "header to confirm")
    elif len(given) > 1:
        reason = "given more than once: send it once"
    elif given[0] != member_id:
        reason = "does not match the member id of the path: nothing was erased"
    else:
        return
    raise InvalidRequest([Problem("header", CONFIRM, reason)])


@router.delete("/v1/members/{member_id}", response_model=ErasureOut,
               responses=responses(401, 403, 404, 413, 422, 503),
               summary="Erase the member for good",
               openapi_extra={"parameters": [{
                   "name": CONFIRM, "in": "header", "required": True,
                   "description": "The member id of the path again: erasure is "
                                  "irreversible.",
                   "schema": {"type": "string"}}]})
async def erase_member(request: Request, member_id: MemberId, who: Eraser, _body: NoBody
                       ) -> Response:
    """Deletes the member's events, state, leaderboard entries, friend rows, tokens,
    disputes and partner checks in one transaction; other members' events that named
    them (a referral, a friend) now name the tombstone id, and those members keep what
    they earned. Irreversible: `Plaudit-Confirm-Erase` must repeat the member id (422
    naming the header otherwise, nothing erased). An unknown member is 404. Events sent
    later for the same id create a new member with nothing of the old one."""
    _confirmed(request, member_id)
    done = await run_in_threadpool(
        lambda: service(request).erase_member(member_id, actor=who.key_id))
    return json_response(done)


class DeclineIn(_Body):
    reason: Annotated[str, Field(min_length=1, max_length=MAX_REASON,
                                 description="Why the data must be kept; shown to the "
                                             "member.")]


@router.post("/v1/members/{member_id}/erasure-request", response_model=ErasureRequestOut,
             responses=responses(401, 403, 404, 413, 422, 503),
             summary="Ask to be erased (opts out at once)")
async def request_erasure(request: Request, member_id: MemberId, who: Writer, _body: NoBody
                          ) -> Response:
    """What a member's own token may do towards erasure: the member is opted out at once
    (as `opt-out` does) and the request waits for an operator with `erase`, who erases the
    member or declines with a reason the member sees. Idempotent while pending: asking
    again answers the same request. An unknown member is 404 for an operator key."""
    view = await run_in_threadpool(
        lambda: service(request).request_erasure(member_id, actor=who.key_id))
    return json_response(view)


@router.get("/v1/members/{member_id}/erasure-request",
            response_model=ErasureRequestOut | None, responses=READ_ERRORS,
            summary="The member's erasure request and its outcome")
async def get_erasure_request(request: Request, member_id: MemberId, who: Reader
                              ) -> Response:
    """The latest request: `pending`, or `declined` with the reason; `null` when the
    member never asked. (Once erased, there is no member to ask about.)"""
    view = await run_in_threadpool(service(request).erasure_request, member_id)
    return json_response(view)


@router.get("/v1/erasure-requests", response_model=list[ErasureRequestOut],
            responses=responses(401, 403, 503), summary="Pending erasure requests")
async def erasure_requests(request: Request, who: Eraser) -> Response:
    """The queue, oldest first: erase each member (`DELETE /v1/members/{id}`) or decline."""
    return json_response(await run_in_threadpool(service(request).erasure_requests))


@router.post("/v1/members/{member_id}/erasure-request/decline",
             response_model=ErasureRequestOut,
             responses=responses(401, 403, 404, 409, 413, 415, 422, 503),
             summary="Decline an erasure request, saying why")
async def decline_erasure(request: Request, member_id: MemberId, who: Eraser,
                          _json: JsonBody, body: DeclineIn) -> Response:
    """For data you must keep (an open dispute, accounting): the member sees the reason,
    and stays opted out until they opt in. 409 when no request is pending."""
    view = await run_in_threadpool(
        lambda: service(request).decline_erasure(member_id, body.reason, actor=who.key_id))
    return json_response(view)


__all__ = ["CONFIRM", "router"]
