"""Leaderboards: the boards, a board's top N, a member's own standing, opt-in and opt-out,
pseudonym re-rolls, friend grants and the friends view.

A board answers pseudonyms, values and ranks, never a member id; it is read with an
operator key with ``read`` or any member token (whose own row is marked ``you``). Joining,
leaving, re-rolling and naming friends are the member's own preferences, recorded as their
events: an operator key with ``ingest``, or the member's own token with the ``consents``
scope (the scope for everything a member decides about themself).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.access import Principal
from plaudit.application.leaderboards import (
    MAX_LIMIT,
    PERIOD_PATTERN,
    BoardInfo,
    BoardPage,
    FriendChange,
    MemberBoard,
    MemberBoards,
    PseudonymChange,
)
from plaudit.application.wire import ID_PATTERN, Instant
from plaudit.domain.rulebook import MAX_SEED
from plaudit.entrypoints.http.members import instant_us, json_response
from plaudit.entrypoints.http.problems import responses
from plaudit.entrypoints.http.security import (
    MemberId,
    board_reader,
    member_reader,
    member_writer,
    service,
)

router = APIRouter(tags=["leaderboards"])

BoardId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                              description="A leaderboard id of the rulebook.")]
FriendId = Annotated[str, Path(pattern=ID_PATTERN, description="Another member's id.")]
Period = Annotated[str | None, Query(
    pattern=PERIOD_PATTERN, description="`2026-07` (a month board), `2026-W27` (a week "
    "board, ISO weeks) or `all` (an all-time board). Default: the current period.")]
AsOf = Annotated[Instant | None, Query(
    description="The instant whose period is meant when `period` is not given (RFC 3339 "
                "with an offset). Default: now.")]
BoardReader = Annotated[Principal, Depends(board_reader)]
Reader = Annotated[Principal, Depends(member_reader)]
Writer = Annotated[Principal, Depends(member_writer)]
READ_ERRORS = responses(401, 403, 404, 422, 503)


class PseudonymIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: StrictInt = Field(ge=0, le=MAX_SEED, description="Any number: the same seed always "
                      "gives the member the same pseudonym.")


@router.get("/v1/leaderboards", response_model=list[BoardInfo], responses=READ_ERRORS,
            summary="The rulebook's leaderboards")
async def list_boards(request: Request, who: BoardReader, as_of: AsOf = None) -> Response:
    """Each board with what it ranks and its current period."""
    return json_response(await run_in_threadpool(service(request).leaderboards, instant_us(as_of)))


@router.get("/v1/leaderboards/{board}", response_model=BoardPage, responses=READ_ERRORS,
            summary="A board's top members, by pseudonym")
async def get_board(request: Request, board: BoardId, who: BoardReader, period: Period = None,
                    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
                    as_of: AsOf = None) -> Response:
    """The first `limit` opted-in members of the period: rank, pseudonym and value, the
    highest value first, equal values in the order they were reached. A member token's own
    row says `"you": true`."""
    viewer = who.member if who.kind == "member" else None
    page = await run_in_threadpool(service(request).leaderboard, board, period, limit,
                                   viewer=viewer, as_of_us=instant_us(as_of))
    return json_response(page)


@router.get("/v1/members/{member_id}/leaderboards", response_model=MemberBoards,
            responses=READ_ERRORS, summary="The member's standing on every board")
async def get_member_boards(request: Request, member_id: MemberId, who: Reader,
                            as_of: AsOf = None) -> Response:
    """For each board: the member's value in the current period, whether they joined, and
    their rank among the listed members when they are listed; their pseudonym and the
    friends they named."""
    return json_response(await run_in_threadpool(service(request).member_leaderboards, member_id,
                                                 instant_us(as_of)))


async def _join(request: Request, member_id: str, board: str, joined: bool) -> Response:
    return json_response(await run_in_threadpool(service(request).join_leaderboard, member_id,
                                                 board, joined))


@router.put("/v1/members/{member_id}/leaderboards/{board}", response_model=MemberBoard,
            responses=READ_ERRORS, summary="Join a board")
async def join_board(request: Request, member_id: MemberId, board: BoardId,
                     who: Writer) -> Response:
    """From now on the member is listed on the board, under their pseudonym. Recorded as a
    `plaudit.leaderboard` event of the member."""
    return await _join(request, member_id, board, True)


@router.delete("/v1/members/{member_id}/leaderboards/{board}", response_model=MemberBoard,
               responses=READ_ERRORS, summary="Leave a board")
async def leave_board(request: Request, member_id: MemberId, board: BoardId,
                      who: Writer) -> Response:
    """The member's rows on the board, in every period, are gone when this answers."""
    return await _join(request, member_id, board, False)


@router.put("/v1/members/{member_id}/pseudonym", response_model=PseudonymChange,
            responses=READ_ERRORS, summary="Pick another pseudonym")
async def put_pseudonym(request: Request, member_id: MemberId, who: Writer,
                        body: Annotated[PseudonymIn | None, Body()] = None) -> Response:
    """Re-roll the name boards show for the member: `{"seed": N}` picks the name of that
    number (the same number, the same name), no body a random one. Every row of the member,
    past periods included, takes the new name."""
    seed = body.seed if body is not None else None
    return json_response(await run_in_threadpool(service(request).choose_pseudonym, member_id,
                                                         seed))


async def _friend(request: Request, member_id: str, friend_id: str, granted: bool
                  ) -> Response:
    return json_response(await run_in_threadpool(service(request).record_friend, member_id,
                                                 friend_id, granted))


@router.put("/v1/members/{member_id}/friends/{friend_id}", response_model=FriendChange,
            responses=READ_ERRORS, summary="Name a friend")
async def grant_friend(request: Request, member_id: MemberId, friend_id: FriendId,
                       who: Writer) -> Response:
    """Let `friend_id` see this member on their friends view, and see them on this one:
    each sees the other only once both have named each other. The answer is the same
    whether `friend_id` is a member, and whether they named this member back."""
    return await _friend(request, member_id, friend_id, True)


@router.delete("/v1/members/{member_id}/friends/{friend_id}", response_model=FriendChange,
               responses=READ_ERRORS, summary="Stop naming a friend")
async def revoke_friend(request: Request, member_id: MemberId, friend_id: FriendId,
                        who: Writer) -> Response:
    """Both friends views stop showing the other at once."""
    return await _friend(request, member_id, friend_id, False)


@router.get("/v1/members/{member_id}/leaderboards/{board}/friends", response_model=BoardPage,
            responses=READ_ERRORS, summary="The board among the member's mutual friends")
async def get_friends_board(request: Request, member_id: MemberId, board: BoardId,
                            who: Reader, period: Period = None,
                            as_of: AsOf = None) -> Response:
    """The member (when listed) and the listed friends who named each other with them,
    ranked among themselves; pseudonyms only, the member's own row marked `you`."""
    return json_response(await run_in_threadpool(service(request).leaderboard_friends, member_id,
                                                 board, period, instant_us(as_of)))


__all__ = ["router"]
