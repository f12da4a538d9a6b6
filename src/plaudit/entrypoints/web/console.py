"""The operator console: the program at a glance, members, rulebooks, backtests, disputes,
the audit log and keys, for an operator key; what a page offers follows the key's scopes,
and every action goes through the same service call (and audit entry) as over the API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.entrypoints.web.pages import render
from plaudit.entrypoints.web.session import OperatorPage, service

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("")
async def home(request: Request, session: OperatorPage) -> Response:
    summary = await run_in_threadpool(service(request).summary)
    return render(request, "console/home.html", area="console", page="home",
                  session=session, summary=summary)


__all__ = ["router"]
