"""Size limits, enforced before any parsing: body bytes, events per batch, attributes per
event, key and string length. A request over a limit stores nothing and says which limit.

Why our own body limit rather than recent FastAPI's ``max_body_size`` (Starlette's
``RequestBodyLimitMiddleware``): that one answers a too-large ``Content-Length`` on a request
the app refuses without reading (a 401, say) with a plain-text 413, which would break the
one problem+json shape every error has, and it would raise the minimum FastAPI version a
long way for a few lines.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plaudit.domain.errors import EventRejected, Problem, TooLarge

MAX_BODY_BYTES = 2_000_000
MAX_BATCH = 1_000
MAX_ATTRIBUTES = 64
MAX_STRING = 256
MAX_KEY = 64
"""Longest field or attribute name; a longer one is refused and shown cut to this length,
so an error never echoes a huge key back."""


class BodyLimit:
    """Refuses bodies over ``limit`` bytes with 413, by Content-Length or while streaming.

    Under the ``pages`` path prefixes (the web's), an announced oversized body is refused
    while streaming too, by :class:`TooLarge` from the first read: the app's handlers then
    answer it as a page rather than this problem+json."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES,
                 pages: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        page = any(path == p or path.startswith(p + "/") for p in self.pages)
        for name, value in scope.get("headers", ()):
            if (name == b"content-length" and value.isdigit() and int(value) > self.limit
                    and not page):
                await self._refuse(scope, send)
                return
        seen = 0
        limit = self.limit

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(f"the body is larger than {limit} bytes")
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        import orjson

        body = orjson.dumps({
            "type": "urn:plaudit:problem:too-large", "title": "Request too large",
            "status": 413, "detail": f"the body is larger than {self.limit} bytes",
            "instance": scope.get("path", ""), "errors": []})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def check_items(items: list[Any]) -> None:
    """Batch size, attribute count and string length, before schema validation."""
    if len(items) > MAX_BATCH:
        raise TooLarge(f"a batch holds at most {MAX_BATCH} events; this one has {len(items)}")
    problems: list[Problem] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        problems += _check_fields(f"item {i}", "", item)
        attrs = item.get("attributes")
        if isinstance(attrs, dict):
            if len(attrs) > MAX_ATTRIBUTES:
                problems.append(Problem(f"item {i}", "attributes",
                                        f"more than {MAX_ATTRIBUTES} attributes "
                                        f"({len(attrs)})"))
                continue
            problems += _check_fields(f"item {i}", "attributes.", attrs)
    if problems:
        raise EventRejected(problems)


def _check_fields(where: str, prefix: str, fields: dict[Any, Any]) -> list[Problem]:
    found = []
    for key, value in fields.items():
        name = str(key)
        if len(name) > MAX_KEY:
            found.append(Problem(where, prefix + short(name),
                                 f"field name longer than {MAX_KEY} characters"))
        elif isinstance(value, str) and len(value) > MAX_STRING:
            found.append(Problem(where, prefix + name,
                                 f"longer than {MAX_STRING} characters"))
    return found


def short(name: str) -> str:
    """A field name as errors show it: cut to :data:`MAX_KEY` characters."""
    return name if len(name) <= MAX_KEY else name[:MAX_KEY] + "…"


__all__ = ["MAX_ATTRIBUTES", "MAX_BATCH", "MAX_BODY_BYTES", "MAX_KEY", "MAX_STRING",
           "BodyLimit", "check_items", "short"]
