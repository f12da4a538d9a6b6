"""The member portal: a member's own state, explained, and their rights, in a browser.

Every page reads or writes through the same service calls as the API's member routes,
with the signed-in member's own id: a portal page can only ever show its member. This
module holds the reading pages (overview, score, points); perks, play, rewards and the
member's data rights are in the ``portal_*`` modules, mounted under the same prefix.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.disputes import REASONS
from plaudit.application.service import Plaudit
from plaudit.domain.explain import Explanation
from plaudit.domain.state import MemberState, TierView
from plaudit.entrypoints.web import portal_perks, portal_play, portal_rewards, portal_rights
from plaudit.entrypoints.web.portal_common import page
from plaudit.entrypoints.web.session import MemberPage, service

router = APIRouter(prefix="/portal", include_in_schema=False)

HISTORY_DAYS = 365
LEDGER_ROWS = 200
"""Newest entries shown on the points page; the export has every one."""
COMMAND_KINDS = frozenset({"redeemed", "returned"})
"""Ledger entries of the member's own commands: undone their own way (cancel), not
disputed (application/disputes.py)."""
REASON_LABELS = {"not-mine": "It was not me", "wrong-amount": "The amount is wrong",
                 "wrong-time": "The date or time is wrong", "duplicate": "It is counted twice",
                 "other": "Something else"}
assert set(REASON_LABELS) == set(REASONS)


def tier_progress(tier: TierView | None, svc: Plaudit) -> dict[str, Any] | None:
    """Where the member stands between their level's start and the next level's."""
    if tier is None or tier.next is None:
        return None
    rb = svc.rulebook()
    starts = [level.start for level in rb.tiers.levels] if rb.tiers is not None else []
    below = [s for s in starts if s <= tier.value]
    low = max(below) if below else 0
    high = tier.next.start
    return {"value": float(tier.value) - float(low), "max": float(high) - float(low),
            "missing": tier.next.missing, "name": tier.next.name}


def _scale(svc: Plaudit, state: MemberState) -> tuple[int, int]:
    """The score's range as the rulebook sets it (an unscored member's gauge too)."""
    if state.score is not None:
        return state.score.range
    sc = svc.rulebook().score
    return (sc.low, sc.high) if sc is not None else (0, 0)


def _overview(svc: Plaudit, member: str) -> dict[str, Any]:
    state = svc.member_state(member, history=False)
    lo, hi = _scale(svc, state)
    return {"state": state, "score": state.score, "lo": lo, "hi": hi,
            "progress": tier_progress(state.tier, svc),
            "next_steps": _next_steps(state)}


def _next_steps(state: MemberState) -> list[str]:
    """A few concrete things to do, from what the state already says."""
    steps = [r.improve for r in (state.score.reasons if state.score else ())[:2] if r.improve]
    if state.points.expiring:
        soon = state.points.expiring[0]
        steps.append(f"{soon.points:,} points expire on {soon.date}: spend them on a reward "
                     "before then.")
    for streak in state.streaks:
        if streak.status == "at_risk":
            left = max(streak.at_least - streak.events_in_period, 1)
            steps.append(f"Keep your “{streak.label}” streak of {streak.current} going: it "
                         f"needs {left} more this period.")
    if state.tier is not None and state.tier.next is not None:
        steps.append(f"{state.tier.next.missing:,} more qualifying points reach "
                     f"{state.tier.next.name}.")
    return steps[:4]


@router.get("")
async def home(request: Request, session: MemberPage) -> Response:
    data = await run_in_threadpool(_overview, service(request), session.member)
    return page(request, "home.html", session, "home", **data)


def _score(svc: Plaudit, member: str) -> dict[str, Any]:
    state = svc.member_state(member, history=False)
    explanation: Explanation | None = svc.explain(member) if state.score else None
    history = svc.score_history(member, days=HISTORY_DAYS)
    lo, hi = _scale(svc, state)
    chart = {"type": "line", "labels": [p.date for p in history],
             "series": [{"label": "Score", "data": [p.score for p in history],
                         "color": "accent", "stepped": True}],
             "x_title": "Date", "y_title": "Score", "y_min": lo, "y_max": hi}
    return {"state": state, "x": explanation, "history": history, "history_chart": chart,
            "lo": lo, "hi": hi}


@router.get("/score")
async def score(request: Request, session: MemberPage) -> Response:
    data = await run_in_threadpool(_score, service(request), session.member)
    return page(request, "score.html", session, "score", **data)


def _points(svc: Plaudit, member: str) -> dict[str, Any]:
    state = svc.member_state(member, history=False)
    ledger = svc.ledger(member)
    disputes = {d.event.id: d for d in svc.disputes.of_member(member)}
    rows = list(reversed(ledger))[:LEDGER_ROWS]
    # the member's own commands (a redemption, its return) are undone their own way
    open_to = svc.disputes.disputable(member, [e.event for e in rows
                                               if e.kind not in COMMAND_KINDS])
    chart = {"type": "bar", "labels": [e.date for e in state.points.expiring],
             "series": [{"label": "Points expiring", "data": [e.points for e in
                                                              state.points.expiring],
                         "color": "warn"}], "x_title": "Date", "y_title": "Points"}
    return {"state": state, "points": state.points, "ledger": rows, "total": len(ledger),
            "disputes": disputes, "reasons": REASON_LABELS, "expiry_chart": chart,
            "commands": COMMAND_KINDS,
            "disputable": open_to}


@router.get("/points")
async def points(request: Request, session: MemberPage) -> Response:
    data = await run_in_threadpool(_points, service(request), session.member)
    return page(request, "points.html", session, "points", **data)


for _module in (portal_perks, portal_play, portal_rewards, portal_rights):
    router.include_router(_module.router)

__all__ = ["router"]
