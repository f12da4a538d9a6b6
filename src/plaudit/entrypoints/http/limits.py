"""Size limits, enforced before any parsing: body bytes, events per batch, attributes per
event and string length. A request over a limit stores nothing and says which limit."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plaudit.domain.errors import EventRejected, Problem, TooLarge

MAX_BODY_BYTES = 2_000_000
MAX_BATCH = 1_000
MAX_ATTRIBUTES = 64
MAX_STRING = 256


class BodyLimit:
    """Refuses bodies over ``limit`` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
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
        for key, value in item.items():
            if isinstance(value, str) and len(value) > MAX_STRING:
                problems.append(Problem(f"item {i}", str(key)[:64],
                                        f"longer than {MAX_STRING} characters"))
        attrs = item.get("attributes")
        if isinstance(attrs, dict):
            if len(attrs) > MAX_ATTRIBUTES:
                problems.append(Problem(f"item {i}", "attributes",
                                        f"more than {MAX_ATTRIBUTES} attributes "
                                        f"({len(attrs)})"))
                continue
            for key, value in attrs.items():
                if isinstance(value, str) and len(value) > MAX_STRING:
                    problems.append(Problem(f"item {i}", f"attributes.{str(key)[:64]}",
                                            f"longer than {MAX_STRING} characters"))
    if problems:
        raise EventRejected(problems)


__all__ = ["MAX_ATTRIBUTES", "MAX_BATCH", "MAX_BODY_BYTES", "MAX_STRING", "BodyLimit",
           "check_items"]
