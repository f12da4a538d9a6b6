"""The operator console: the program at a glance, members, rulebooks, backtests, disputes,
the audit log and keys, for an operator key; what a page offers follows the key's scopes,
and every action goes through the same service call (and audit entry) as over the API.

This module holds the overview and assembles the console's pages from their modules
(``console_*.py``, one per area); :mod:`console_base` holds what they share.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.overview import Overview
from plaudit.entrypoints.web import (
    console_audit,
    console_backtests,
    console_disputes,
    console_erasure,
    console_keys,
    console_members,
    console_rulebooks,
)
from plaudit.entrypoints.web.console_base import show
from plaudit.entrypoints.web.session import OperatorPage, service

router = APIRouter(prefix="/console", include_in_schema=False)
DAYS = 90


def _charts(view: Overview) -> dict[str, dict[str, Any]]:
    """Chart specs for the `chart` macro (app.js draws them with Chart.js)."""
    return {
        "events": {"type": "bar", "labels": [d.date for d in view.events_per_day],
                   "series": [{"label": "Events", "color": "accent",
                               "data": [d.events for d in view.events_per_day]}],
                   "x_title": "Day", "y_title": "Events"},
        "histogram": {"type": "bar", "labels": [b.label for b in view.histogram],
                      "series": [{"label": "Members", "color": "accent",
                                  "data": [b.members for b in view.histogram]}],
                      "x_title": "Score", "y_title": "Members"},
        "bands": {"type": "bar", "labels": [name for name, _ in view.bands],
                  "series": [{"label": "Members", "color": "good",
                              "data": [n for _, n in view.bands]}],
                  "x_title": "Band", "y_title": "Members"},
        "tiers": {"type": "doughnut", "labels": [name for name, _ in view.tiers],
                  "series": [{"label": "Members", "data": [n for _, n in view.tiers],
                              "colors": ["muted", "accent", "warn", "good", "bad"]
                              [:max(1, len(view.tiers))]}],
                  "x_title": "Tier"},
    }


@router.get("")
async def home(request: Request, session: OperatorPage) -> Response:
    """Program numbers need `read`; a key without it (an `erase` key, say) lands here
    too, and is shown what it may do instead."""
    if not session.has("read"):
        return show(request, "console/home.html", session, "home", view=None, charts={},
                    days=DAYS)
    view = await run_in_threadpool(service(request).overview, DAYS)
    return show(request, "console/home.html", session, "home", view=view,
                charts=_charts(view), days=DAYS)


for _module in (console_members, console_rulebooks, console_backtests, console_disputes,
                console_audit, console_keys, console_erasure):
    router.include_router(_module.router)

__all__ = ["router"]
