"""JSON bodies: the media type they must declare, and no key given twice.

A JSON route refuses a body labelled anything but JSON, or not labelled at all, with 415:
a client that sends ``text/plain`` or forgets the header has a bug that accepting the
body would hide (and a form post from a browser on another site is exactly such a
request). ``application/json`` and any ``application/*+json`` are JSON, with or without
parameters (``; charset=utf-8``). A request without a body is not judged here: routes
whose body is optional take none, the others say that it is missing.

A body that gives a key twice in one object is refused with 422 naming the key, rather
than silently keeping the last one as JSON parsers do.
"""

from __future__ import annotations

import orjson
from fastapi import Request

from plaudit.application.wire import REPEATED_KEY, json_path, repeated_keys
from plaudit.domain.errors import InvalidRequest, Problem, UnsupportedMediaType

JSON = "application/json"


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == JSON or (kind.startswith("application/") and kind.endswith("+json"))


def check_json_type(request: Request, body: bytes) -> None:
    """415 for a body that is not declared as JSON."""
    content_type = request.headers.get("content-type")
    if body and not is_json(content_type):
        raise UnsupportedMediaType(JSON, content_type)


async def json_body(request: Request) -> None:
    """For routes whose body FastAPI parses: declare it after the route's guard, so a
    caller without a credential hears 401 first, and it runs before the body's own
    validation errors are reported. (FastAPI parses a body without ``Content-Type`` as
    JSON and keeps the last of repeated keys: both are refused here.)"""
    body = await request.body()
    check_json_type(request, body)
    if body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return  # FastAPI reports it
        paths = repeated_keys(body, parsed)
        if paths:
            raise InvalidRequest([Problem("body", json_path(p), REPEATED_KEY) for p in paths])


__all__ = ["JSON", "check_json_type", "is_json", "json_body"]
