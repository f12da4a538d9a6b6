"""Looking up a member: their score, band, tier and balance, each factor with its reason,
their points statement, disputes and the partner checks made about them (scope `read`,
as the API's member reads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from plaudit.application.disputes import DisputeView
from plaudit.application.service import CheckView, Plaudit, ScorePoint
from plaudit.domain.explain import Explanation
from plaudit.domain.state import LedgerEntry, MemberState
from plaudit.entrypoints.http.security import MemberId
from plaudit.entrypoints.web.console_base import require, show
from plaudit.entrypoints.web.session import OperatorPage, service

router = APIRouter(include_in_schema=False)
LEDGER_SHOWN = 50
CHECKS_SHOWN = 50
HISTORY_DAYS = 180


@dataclass(frozen=True)
class MemberFile:
    state: MemberState
    explanation: Explanation | None
    ledger: list[LedgerEntry]
    """Newest first, at most :data:`LEDGER_SHOWN`."""
    ledger_total: int
    disputes: list[DisputeView]
    checks: list[CheckView]
    history: list[ScorePoint]


def _member(svc: Plaudit, member_id: str) -> MemberFile:
    state = svc.member_state(member_id, history=False)  # NotFound -> a 404 page
    ledger = svc.ledger(member_id)
    return MemberFile(state, svc.explain(member_id), ledger[::-1][:LEDGER_SHOWN],
                      len(ledger), svc.disputes.of_member(member_id),
                      svc.partner_checks(member_id, CHECKS_SHOWN),
                      svc.score_history(member_id, days=HISTORY_DAYS))


def _history_chart(points: list[ScorePoint], lo: int, hi: int) -> dict[str, Any]:
    return {"type": "line", "labels": [p.date for p in points],
            "series": [{"label": "Score", "color": "accent", "stepped": True,
                        "data": [p.score for p in points]}],
            "x_title": "Day", "y_title": "Score", "y_min": lo, "y_max": hi}


@router.get("/members")
async def lookup(request: Request, session: OperatorPage,
                 id: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    require(session, "read")
    if id is not None and id.strip():
        return RedirectResponse(f"/console/members/{quote(id.strip(), safe='')}",
                                status_code=303)
    return show(request, "console/members.html", session, "members")


@router.get("/members/{member_id}")
async def member(request: Request, member_id: MemberId, session: OperatorPage) -> Response:
    require(session, "read")
    file = await run_in_threadpool(_member, service(request), member_id)
    score = file.state.score
    lo, hi = score.range if score else (0, 0)
    return show(request, "console/member.html", session, "members", m=file,
                state=file.state, score=score, lo=lo, hi=hi,
                history=_history_chart(file.history, lo, hi) if score else None)


__all__ = ["router"]
