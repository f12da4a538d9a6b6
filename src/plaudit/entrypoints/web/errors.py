"""Errors on a web page answer a page, not problem+json.

The API's handlers (:mod:`plaudit.entrypoints.http.problems`) stay the only place that
maps plaudit's errors to statuses; this wraps them for the web's paths: the same status,
with the problem's title and detail shown on a page in the site's layout, and a sign-in
redirect when the area's cookie holds no valid credential.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from plaudit.domain.errors import PlauditError
from plaudit.entrypoints.web.pages import render
from plaudit.entrypoints.web.session import AREAS, FormRefused, SignInRequired

WEB_AREAS = ("/portal", "/console")

Handler = Callable[[Request, Exception], Awaitable[Response]]


def area_of(path: str) -> str | None:
    for prefix in WEB_AREAS:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix[1:]
    return None


async def _signin(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    response = RedirectResponse(f"/{exc.area}/signin?next={quote(exc.next_path)}",
                                status_code=303)
    cookie = AREAS[exc.area][1]
    if cookie in request.cookies:  # revoked or expired: the browser drops it too
        response.delete_cookie(cookie, path=f"/{exc.area}", httponly=True,
                               samesite="lax", secure=request.url.scheme == "https")
    return response


async def _form_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FormRefused)
    return render(request, "error.html", exc.status, area=area_of(request.url.path),
                  title="Form refused", detail=exc.message, errors=[])


def _as_page(api_handler: Handler) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        response = await api_handler(request, exc)
        area = area_of(request.url.path)
        if area is None or response.status_code in (301, 302, 303, 307, 308):
            return response
        problem = orjson.loads(bytes(response.body))
        return render(request, "error.html", response.status_code, area=area,
                      title=problem["title"], detail=problem["detail"],
                      errors=problem["errors"])
    return handler


def install(app: FastAPI) -> None:
    """Call after the API's handlers are installed: it wraps them."""
    for cls in (PlauditError, RequestValidationError, StarletteHTTPException, Exception):
        api_handler = app.exception_handlers[cls]
        app.add_exception_handler(cls, _as_page(api_handler))  # type: ignore[arg-type]
    app.add_exception_handler(SignInRequired, _signin)
    app.add_exception_handler(FormRefused, _form_refused)


__all__ = ["area_of", "install"]
