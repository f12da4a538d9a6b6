"""The interactive API docs, Swagger UI 5 served from this package (swagger-ui-dist).

FastAPI's own /docs page loads Swagger UI from a CDN and starts it with an inline script;
this one loads the vendored bundle from /static and starts it from ``docs.js``, so it works
offline and under the pages' Content-Security-Policy (which forbids inline scripts).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from plaudit.entrypoints.web.pages import render

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs(request: Request) -> Response:
    response = render(request, "docs.html")
    # Swagger UI styles its widgets with inline style attributes and shows images as data
    # URLs: allow those here only (scripts still only from /static).
    response.headers["Content-Security-Policy"] = response.headers[
        "Content-Security-Policy"].replace("style-src 'self'", "style-src 'self' "
                                           "'unsafe-inline'")
    return response


__all__ = ["router"]
