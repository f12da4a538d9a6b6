"""The member's data rights in the portal: download everything stored about them, dispute
an event and follow the outcome, leave the program (and come back), and ask for erasure.

Each does what the API's member routes do, with the same credential rule: a member's
own token, and for every change one with the ``consents`` scope. Erasure itself is never
a member token's to do (see ``http/rights.py``): the portal records a *request*, which
opts the member out at once; the operator carries it out from the console.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.disputes import REASONS, DisputeView
from plaudit.application.erasure_requests import ErasureRequest
from plaudit.application.service import Participation, Plaudit
from plaudit.entrypoints.http.members import json_response
from plaudit.entrypoints.http.rights import _filename as export_filename
from plaudit.entrypoints.web.pages import HEADERS
from plaudit.entrypoints.web.portal_common import ID, Field, act, fields, page
from plaudit.entrypoints.web.session import MemberForm, MemberPage, Session, back, service

router = APIRouter(include_in_schema=False)

DATA = "/portal/data"
POINTS = "/portal/points"
CONFIRM = Field(3, required=False, choices=("yes",))


def _data(svc: Plaudit, member: str) -> dict[str, Any]:
    state = svc.member_state(member, history=False)
    return {"state": state, "disputes": list(reversed(svc.disputes.of_member(member))),
            "erasure": svc.erasure_request(member)}


@router.get("/data")
async def data(request: Request, session: MemberPage) -> Response:
    values = await run_in_threadpool(_data, service(request), session.member)
    return page(request, "data.html", session, "data", **values)


@router.get("/data/export")
async def export(request: Request, session: MemberPage) -> Response:
    """The API's export document, as a download: audited as the API's is."""
    document = await run_in_threadpool(
        lambda: service(request).export_member(session.member, actor=session.actor))
    response = json_response(document)
    response.headers.update(HEADERS)
    name = export_filename(session.member, document["exported_at"])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.post("/disputes")
async def dispute(request: Request, session: MemberForm) -> Response:
    """The API's ``POST /v1/members/{id}/disputes``: a reason code, never the member's
    own words; an unknown event and another member's get the same refusal."""
    values = fields(session, {"event_id": Field(128, ID),
                              "reason": Field(20, choices=REASONS)})
    disputes = service(request).disputes

    def done(result: tuple[DisputeView, bool]) -> str:
        view, created = result
        if not created:
            return f"You already disputed event {view.event.id}: it is still open."
        if view.excluded:
            return (f"Dispute sent for event {view.event.id}: it is left out of your points "
                    "and score until the program decides.")
        return f"Dispute sent for event {view.event.id}: the program will decide."

    return await act(POINTS, lambda: disputes.open(session.member, values["event_id"],
                                                   values["reason"], actor=session.actor),
                     done)


def _participation(request: Request, session: Session, out: bool) -> Response | None:
    """A missing tick is the member's slip, not a hostile form: say so on the page."""
    values = fields(session, {"confirm": CONFIRM})
    if values.get("confirm") != "yes":
        what = "leave the program" if out else "take part again"
        return back(DATA, f"Tick the box to confirm that you want to {what}.", error=True)
    return None


@router.post("/opt-out")
async def opt_out(request: Request, session: MemberForm) -> Response:
    refused = _participation(request, session, out=True)
    if refused is not None:
        return refused
    svc = service(request)

    def done(view: Participation) -> str:
        when = f"on {view.opted_out_at[:10]}" if view.opted_out_at else "now"
        return (f"You left the program {when}: nothing of yours "
                "is scored from now on, partners can no longer check you and you left "
                "every leaderboard.")

    return await act(DATA, lambda: svc.opt_out(session.member, actor=session.actor), done)


@router.post("/opt-in")
async def opt_in(request: Request, session: MemberForm) -> Response:
    refused = _participation(request, session, out=False)
    if refused is not None:
        return refused
    svc = service(request)

    def done(view: Participation) -> str:
        return ("Welcome back: what you do counts again from now on. Consents and "
                "leaderboards stay off until you turn them on again.")

    return await act(DATA, lambda: svc.opt_in(session.member, actor=session.actor), done)


@router.post("/erasure-request")
async def erasure_request(request: Request, session: MemberForm) -> Response:
    """The API's ``POST /v1/members/{id}/erasure-request``, confirmed by typing the member
    id (as the API's erasure repeats it in a header): a slip is said on the page, and
    nothing is asked."""
    values = fields(session, {"confirm": Field(128)})
    if values["confirm"].strip() != session.member:
        return back(DATA, f"Type your member id, {session.member}, exactly to confirm: "
                    "nothing was asked.", error=True)
    svc = service(request)

    def done(view: ErasureRequest) -> str:
        return ("Your erasure request is sent. You left the program at once; the program "
                "will erase your data, or tell you here why it must keep it.")

    return await act(DATA, lambda: svc.request_erasure(session.member, actor=session.actor),
                     done)


__all__ = ["router"]
