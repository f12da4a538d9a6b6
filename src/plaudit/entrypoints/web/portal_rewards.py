"""The rewards catalogue as the member sees it, redeeming, and the member's redemptions.

Each redeem form carries an idempotency key made when the page was drawn: a double click,
a resent form or the back button posting it again name the same redemption, so it is
spent once (``redeem_once``), exactly as the API's key does.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.service import Plaudit
from plaudit.domain.state import RedemptionView
from plaudit.entrypoints.web.portal_common import ID, SLUG, Field, act, fields, page
from plaudit.entrypoints.web.session import MemberForm, MemberPage, service

router = APIRouter(include_in_schema=False)

REWARDS = "/portal/rewards"


def _rewards(svc: Plaudit, member: str) -> dict[str, Any]:
    state = svc.member_state(member, history=False)
    catalogue = svc.catalogue(member)
    keys = {entry.id: f"web-{secrets.token_urlsafe(12)}" for entry in catalogue}
    return {"state": state, "catalogue": catalogue, "keys": keys,
            "redemptions": list(reversed(state.redemptions))}


@router.get("/rewards")
async def rewards(request: Request, session: MemberPage) -> Response:
    data = await run_in_threadpool(_rewards, service(request), session.member)
    return page(request, "rewards.html", session, "rewards", **data)


@router.post("/rewards/redeem")
async def redeem(request: Request, session: MemberForm) -> Response:
    values = fields(session, {"reward": Field(64, SLUG), "key": Field(128, ID)})
    svc = service(request)

    def done(result: tuple[RedemptionView, bool]) -> str:
        view, created = result
        if not created:
            return (f"{view.label} was already redeemed with this form: nothing more was "
                    "spent.")
        return f"Redeemed {view.label} for {view.points:,} points."

    return await act(REWARDS, lambda: svc.redeem_once(session.member, values["reward"],
                                                      values["key"]), done)


@router.post("/rewards/cancel")
async def cancel(request: Request, session: MemberForm) -> Response:
    values = fields(session, {"redemption": Field(128, ID)})
    svc = service(request)

    def done(view: RedemptionView) -> str:
        text = f"Cancelled {view.label}: {view.returned:,} points are back in your balance."
        if view.expired_meanwhile:
            text += f" {view.expired_meanwhile:,} had expired meanwhile and stay expired."
        return text

    return await act(REWARDS, lambda: svc.cancel_redemption(session.member,
                                                            values["redemption"]), done)


__all__ = ["router"]
