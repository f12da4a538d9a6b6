"""Every error the API returns is RFC 9457 problem+json, with one pinned shape.

This module is the only place that turns exceptions into HTTP statuses: plaudit's own
:class:`~plaudit.domain.errors.PlauditError` tree, request validation, unknown routes and
methods, and anything unexpected (a 500 that says nothing about the internals). Every
problem has exactly these members, so clients can rely on them::

    {"type": "urn:plaudit:problem:events-rejected", "title": "Events rejected",
     "status": 422, "detail": "…", "instance": "/v1/events",
     "errors": [{"where": "item 3", "field": "attributes.amount",
                 "reason": "…", "suggestion": null}]}
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from plaudit.domain import errors as e
from plaudit.entrypoints.http.limits import short

log = logging.getLogger("plaudit.http")

MEDIA_TYPE = "application/problem+json"

# code -> (status, title)
_STATUS: dict[type[e.PlauditError], tuple[int, str]] = {
    e.EventConflict: (409, "Event id reused with another body"),
    e.RedemptionRefused: (409, "Redemption refused"),
    e.MemberOptedOut: (409, "Member opted out"),
    e.EventRejected: (422, "Events rejected"),
    e.RulebookError: (422, "Rulebook refused"),
    e.InsufficientPoints: (422, "Insufficient points"),
    e.InvalidRequest: (422, "Request invalid"),
    e.Conflict: (409, "Conflict"),
    e.NotFound: (404, "Not found"),
    e.Unauthenticated: (401, "Not authenticated"),
    e.Forbidden: (403, "Forbidden"),
    e.TooLarge: (413, "Request too large"),
    e.UnsupportedMediaType: (415, "Unsupported media type"),
    e.StoreError: (503, "Database unavailable"),
}


class ProblemItem(BaseModel):
    where: str
    field: str
    reason: str
    suggestion: str | None


class Problem(BaseModel):
    """RFC 9457 problem details, plus ``errors``: one entry per bad item or field."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemItem]


def problem_response(request: Request, status: int, code: str, title: str, detail: str,
                     errors: list[dict[str, Any]] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    body = {"type": f"urn:plaudit:problem:{code}", "title": title, "status": status,
            "detail": detail, "instance": request.url.path, "errors": errors or []}
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE,
                    headers=headers)


def _status_of(exc: e.PlauditError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400, "Bad request"


async def _plaudit_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.PlauditError)
    status, title = _status_of(exc)
    problems = getattr(exc, "problems", None) or []
    errors = [p.as_dict() for p in problems]
    detail = str(exc).split("\n", 1)[0].rstrip(":")
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        log.error("database error on %s: %s", request.url.path, exc)
    return problem_response(request, status, exc.code, title, detail, errors, headers)


def _loc(loc: tuple[Any, ...]) -> tuple[str, str]:
    where = str(loc[0]) if loc else "request"
    field = ".".join(short(str(p)) for p in loc[1:])
    return where, field


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        from plaudit.entrypoints.http.media import JSON, is_json

        content_type = request.headers.get("content-type")
        if not is_json(content_type):
            # FastAPI tried a body without Content-Type as JSON before the route's own
            # check could say 415: say it here
            return await _plaudit_error(request, e.UnsupportedMediaType(JSON, content_type))
    errors = []
    for err in exc.errors():
        where, field = _loc(tuple(err.get("loc", ())))
        errors.append({"where": where, "field": field, "reason": str(err.get("msg")),
                       "suggestion": None})
    detail = "; ".join(f"{x['where']} {x['field']}: {x['reason']}".replace("  ", " ")
                       for x in errors[:5])
    return problem_response(request, 422, "request-invalid", "Request invalid", detail, errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: ("not-found", "Not found"), 405: ("method-not-allowed", "Method not allowed"),
             413: ("too-large", "Request too large"), 401: ("unauthenticated",
                                                            "Not authenticated")}
    status = exc.status_code
    code, title = codes.get(status, ("http-error", "HTTP error"))
    detail = str(exc.detail) if exc.detail else title
    if status == 404 and detail == "Not Found":
        detail = f"no such route: {request.method} {request.url.path}"
    headers = dict(exc.headers) if exc.headers else {}
    if status == 400 and isinstance(exc.__cause__, e.TooLarge):
        # BodyLimit refused a body streamed without Content-Length while FastAPI was
        # reading it for a JSON parameter; FastAPI wraps every such failure in a 400.
        return await _plaudit_error(request, exc.__cause__)
    if status == 400 and detail == "There was an error parsing the body":
        # FastAPI's own answer to a body that is not JSON: every other bad body is a 422
        # (the events route parses its body itself and says 422 too), so this one is as well.
        status, code, title = 422, "request-invalid", "Request invalid"
        detail = "the body is not valid JSON"
    if status == 405:
        headers["Allow"] = ", ".join(_allowed(request))
    return problem_response(request, status, code, title, detail, None, headers or None)


def _allowed(request: Request) -> list[str]:
    """Every documented method on this path, from the app's own OpenAPI: Starlette's 405
    names only the first route that matched, though e.g. PUT and DELETE on a consent are
    two routes. (FastAPI routes do not answer HEAD, so it is not offered.)"""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        request.app.state, "allow_table", None)
    if table is None:
        table = [(re.compile("^" + "[^/]+".join(re.escape(part) for part in
                                                 re.split(r"\{[^/}]+\}", path)) + "$"),
                  {method.upper() for method in operations})
                 for path, operations in request.app.openapi()["paths"].items()]
        request.app.state.allow_table = table
    methods: set[str] = set()
    for pattern, found in table:
        if pattern.match(request.url.path):
            methods |= found
    return sorted(methods)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "internal", "Internal error",
                            "the server failed; nothing was changed by this request")


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.PlauditError, _plaudit_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for problem responses, so clients and schemathesis know them."""
    descriptions = {400: "Bad request", 401: "No valid credential", 403: "Not allowed",
                    404: "Not found", 409: "Conflict", 413: "Too large",
                    415: "The body is not `application/json`", 422: "Invalid input",
                    503: "Database unavailable"}
    return {s: {"model": Problem, "description": descriptions[s],
                "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for s in statuses}


__all__ = ["MEDIA_TYPE", "Problem", "install", "problem_response", "responses"]
