"""Backtesting a draft from the console: the run, its progress, and the report.

A backtest folds every member twice, which can take minutes, so the console runs it as a
job (:class:`~plaudit.application.jobs.Jobs`, as publishing is): the button answers at
once, the job's page shows progress and reloads itself until the report is there, and
the report stays at its address (in the jobs table) to be shared with whoever decides on
publishing. One backtest runs at a time per process, as over the API; the others wait
their turn. The summary page draws its charts with Chart.js like every console page; the
full report is the self-contained HTML of ``plaudit rulebook backtest --html``.
"""

from __future__ import annotations

import itertools
import json
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from plaudit.application.jobs import Progress
from plaudit.application.ports import JobRow
from plaudit.domain.errors import NotFound, PlauditError
from plaudit.entrypoints import backtest_html
from plaudit.entrypoints.web.console_base import refused, require, show
from plaudit.entrypoints.web.console_rulebooks import REFRESH_SECONDS
from plaudit.entrypoints.web.pages import HEADERS
from plaudit.entrypoints.web.session import OperatorForm, OperatorPage, back, service

router = APIRouter(include_in_schema=False)
DraftId = Annotated[int, Path(ge=1, le=2**31 - 1)]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
KIND = "backtest"

REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
"""The full report's own policy: its CSS and SVG are inline (it is one file, to be saved
and mailed), and it runs no script at all."""


@router.post("/drafts/{draft_id}/backtest")
async def start(request: Request, draft_id: DraftId, session: OperatorForm) -> Response:
    """As ``POST /v1/drafts/{id}/backtest`` (admin): the draft against the published
    rulebook, at now, writing nothing."""
    require(session, "admin")
    svc = service(request)
    try:
        await run_in_threadpool(svc.draft, draft_id)  # a missing draft: said now
    except PlauditError as e:
        return refused("/console/rulebooks", e)

    def work(progress: Progress) -> dict[str, Any]:
        report = svc.backtest_draft(draft_id, progress=progress)  # one at a time: service
        # plain JSON (the job keeps it as text): Decimals as their exact strings
        return {"draft": draft_id,
                "report": json.loads(orjson.dumps(report, default=str))}

    row = await run_in_threadpool(svc.jobs.start, KIND, work)
    return back(f"/console/backtests/{row.job_id}", f"Backtesting draft {draft_id}…")


def _job(request: Request, job_id: str) -> JobRow:
    row = service(request).jobs.get(job_id)
    if row.kind != KIND:
        raise NotFound(f"no backtest `{job_id}`")
    return row


def _matrix_totals(m: dict[str, Any]) -> tuple[list[int], list[int]]:
    """Members per row (before) and per column (after) of a migration matrix."""
    before = [sum(r) for r in m["counts"]]
    after = [sum(r[i] for r in m["counts"]) for i in range(len(m["columns"]))]
    return before, after


def charts(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    h = r.get("histogram")
    if h:
        edges = h["edges"]
        out["histogram"] = {
            "type": "bar", "labels": [f"{a}–{b}" for a, b in itertools.pairwise(edges)],
            "series": [{"label": "Published", "color": "muted", "data": h["before"]},
                       {"label": "Draft", "color": "accent", "data": h["after"]}],
            "x_title": "Score", "y_title": "Members"}
    for key, title in (("bands", "Band"), ("tiers", "Tier")):
        m = r.get(key)
        if m and m["rows"] == m["columns"]:
            before, after = _matrix_totals(m)
            out[key] = {"type": "bar", "labels": m["rows"],
                        "series": [{"label": "Published", "color": "muted", "data": before},
                                   {"label": "Draft", "color": "accent", "data": after}],
                        "x_title": title, "y_title": "Members"}
    return out


@router.get("/backtests/{job_id}")
async def report(request: Request, job_id: JobId, session: OperatorPage) -> Response:
    require(session, "admin")
    row = await run_in_threadpool(_job, request, job_id)
    result = json.loads(row.result) if row.result else None
    r = result["report"] if result else None
    response = show(request, "console/backtest.html", session, "rulebooks", job=row,
                    draft=result["draft"] if result else None, r=r,
                    charts=charts(r) if r else {})
    if row.status == "running":
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@router.get("/backtests/{job_id}/report")
async def full_report(request: Request, job_id: JobId, session: OperatorPage) -> Response:
    """The whole report as one self-contained page (inline CSS and SVG, no script)."""
    require(session, "admin")
    row = await run_in_threadpool(_job, request, job_id)
    if row.status != "succeeded" or not row.result:
        return back(f"/console/backtests/{job_id}")
    html = backtest_html.render(json.loads(row.result)["report"])
    return HTMLResponse(html, headers={**HEADERS, "Content-Security-Policy": REPORT_CSP})


__all__ = ["REPORT_CSP", "charts", "router"]
