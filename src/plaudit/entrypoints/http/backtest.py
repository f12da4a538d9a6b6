"""Backtest a draft against the published rulebook: the report of `plaudit rulebook
backtest --json`, for the operator console.

A backtest folds every member twice, which can take minutes on a large program, so it
runs on a thread of its own (one backtest at a time per worker process, the others wait
their turn) rather than in the small pool the API's reads and writes share: a backtest
must not make event ingestion wait. Audit cohorts are CLI-only: group files stay on the
operator's machine and never travel to, or linger in, a long-running server.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from plaudit.application import backtest as bt
from plaudit.application.access import Principal
from plaudit.application.wire import Instant
from plaudit.entrypoints.http.members import instant_us, json_response
from plaudit.entrypoints.http.problems import responses
from plaudit.entrypoints.http.security import operator, service

router = APIRouter(tags=["rulebooks"])
Admin = Annotated[Principal, Depends(operator("admin"))]
DraftId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class BacktestOut(BaseModel):
    """See docs/rulebook.md, §16 "Backtesting a rulebook", for every key."""

    schema_: str = Field(alias="schema")
    """``plaudit.backtest/1``: changes only when a key changes meaning or goes away."""
    as_of: str
    top: int
    skipped: int
    """Members with no event by ``as_of`` (not folded)."""
    members: int
    changed: int
    """Members whose score, band, tier or perks differ."""
    rulebooks: dict[str, Any]
    score: dict[str, Any]
    histogram: dict[str, Any] | None
    bands: dict[str, Any]
    tiers: dict[str, Any]
    perks: list[dict[str, Any]]
    movers: dict[str, Any]
    fairness: None
    """Always null here: adverse impact by audit cohort is computed by the CLI only."""


@router.post("/v1/drafts/{draft_id}/backtest", response_model=BacktestOut,
             responses=responses(401, 403, 404, 422, 503),
             summary="Backtest a draft against the published rulebook")
async def backtest_draft(
        request: Request, draft_id: DraftId, who: Admin,
        as_of: Annotated[Instant | None, Query(
            description="Fold both rulebooks at this instant (RFC 3339 with an offset). "
                        "Default: now.")] = None,
        top: Annotated[int, Query(ge=1, le=bt.MAX_TOP,
                                  description="Largest movers listed each way.")
                       ] = bt.DEFAULT_TOP) -> Response:
    """Fold every member's history under the draft and under the published rulebook at the
    same instant and compare: score quantiles and histogram, band and tier matrices, perk
    holders gained and lost, largest movers. Nothing is written: publishing is a separate
    step. Runs to completion before answering (one backtest at a time per process)."""
    svc = service(request)
    state = request.app.state
    if getattr(state, "backtests", None) is None:  # made in the app's own event loop
        state.backtests = anyio.CapacityLimiter(1)
    work = functools.partial(svc.backtest_draft, draft_id, as_of_us=instant_us(as_of), top=top)
    report = await anyio.to_thread.run_sync(work, limiter=state.backtests)
    return json_response(report)


__all__ = ["router"]
