"""Play: badges, streaks and quests; and the leaderboards, where the member decides
whether they are listed, under which pseudonym, and which friends may see them.

Joining, leaving, re-rolling and naming friends are the member's own words, recorded as
their events through the same service calls as the API's leaderboard routes. Boards show
pseudonyms only; the friends view shows a friend only once both named each other.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application import leaderboards as lb
from plaudit.application.service import Plaudit
from plaudit.domain.rulebook import MAX_SEED
from plaudit.entrypoints.web.portal_common import ID, SLUG, Field, act, fields, page
from plaudit.entrypoints.web.session import MemberForm, MemberPage, back, service

router = APIRouter(include_in_schema=False)

BOARDS = "/portal/leaderboards"
TOP = 10


def _play(svc: Plaudit, member: str) -> dict[str, Any]:
    state = svc.member_state(member, history=False)
    rb = svc.rulebook()
    held = {b.id for b in state.badges}
    locked = [b for b in rb.badges if b.id not in held]
    return {"state": state, "badges": state.badges, "locked": locked,
            "streaks": state.streaks, "quests": state.quests}


@router.get("/play")
async def play(request: Request, session: MemberPage) -> Response:
    data = await run_in_threadpool(_play, service(request), session.member)
    return page(request, "play.html", session, "play", **data)


def _boards(svc: Plaudit, member: str) -> dict[str, Any]:
    mine = svc.member_leaderboards(member)
    infos = {b.id: b for b in svc.leaderboards()}
    boards = []
    for board in mine.boards:
        boards.append({"me": board, "info": infos.get(board.id),
                       "top": svc.leaderboard(board.id, limit=TOP, viewer=member),
                       "friends": svc.leaderboard_friends(member, board.id)})
    state = svc.member_state(member, history=False)
    return {"mine": mine, "boards": boards, "state": state, "max_seed": MAX_SEED}


@router.get("/leaderboards")
async def leaderboards(request: Request, session: MemberPage) -> Response:
    data = await run_in_threadpool(_boards, service(request), session.member)
    return page(request, "leaderboards.html", session, "leaderboards", **data)


@router.post("/leaderboards/join")
async def join(request: Request, session: MemberForm) -> Response:
    values = fields(session, {"board": Field(64, SLUG),
                              "joined": Field(3, choices=("yes", "no"))})
    board, joined = values["board"], values["joined"] == "yes"
    svc = service(request)

    def done(view: lb.MemberBoard) -> str:
        if view.joined:
            return f"You joined “{view.label}”: you are listed under your pseudonym."
        return f"You left “{view.label}”: you are no longer listed on it."

    return await act(BOARDS, lambda: svc.join_leaderboard(session.member, board, joined),
                     done)


@router.post("/pseudonym")
async def pseudonym(request: Request, session: MemberForm) -> Response:
    """No number re-rolls at random; a number picks that name (the same number, the same
    name), as the API's body ``{"seed": N}``."""
    values = fields(session, {"seed": Field(20, required=False)})
    typed = values.get("seed", "").strip()
    seed: int | None = None
    if typed:
        if not re.fullmatch(r"\d{1,13}", typed) or int(typed) > MAX_SEED:
            return back(BOARDS, f"A pseudonym number is a whole number from 0 to "
                        f"{MAX_SEED:,}.", error=True)
        seed = int(typed)
    svc = service(request)

    def done(change: lb.PseudonymChange) -> str:
        return f"Your pseudonym is now {change.pseudonym} (number {change.seed})."

    return await act(BOARDS, lambda: svc.choose_pseudonym(session.member, seed), done)


@router.post("/friends")
async def friend(request: Request, session: MemberForm) -> Response:
    values = fields(session, {"friend": Field(128), "granted": Field(3, choices=("yes", "no"))})
    friend_id, granted = values["friend"].strip(), values["granted"] == "yes"
    if not re.fullmatch(ID, friend_id):
        return back(BOARDS, "A member id is made of letters, digits and . _ : @ - "
                    "(up to 128).", error=True)
    svc = service(request)

    def done(change: lb.FriendChange) -> str:
        if change.granted:
            return (f"You named {change.friend} as a friend: you see each other once they "
                    "name you too.")
        return f"You no longer name {change.friend} as a friend."

    return await act(BOARDS, lambda: svc.record_friend(session.member, friend_id, granted),
                     done)


__all__ = ["router"]
