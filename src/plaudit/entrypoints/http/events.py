"""POST /v1/events: one event or a batch, atomic, idempotent by event id."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from plaudit.application.access import Principal
from plaudit.application.wire import REPEATED_KEY, json_path, repeated_keys, surely_unrepeated
from plaudit.domain.errors import EventRejected, Problem
from plaudit.entrypoints.http.coalesce import Coalescer
from plaudit.entrypoints.http.limits import MAX_BATCH, check_items, short
from plaudit.entrypoints.http.media import check_json_type
from plaudit.entrypoints.http.models import IngestOut
from plaudit.entrypoints.http.problems import responses
from plaudit.entrypoints.http.security import operator

router = APIRouter(tags=["events"])

_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "member", "type", "at"],
    "properties": {
        "id": {"type": "string", "description": "Your unique event id: the idempotency key."},
        "member": {"type": "string"},
        "type": {"type": "string", "description": "A type declared in the rulebook, or "
                 "`plaudit.spend` / `plaudit.consent`."},
        "at": {"type": "string", "format": "date-time",
               "description": "RFC 3339 with an offset."},
        "attributes": {"type": "object", "description": "Typed by the rulebook."},
    },
    "additionalProperties": False,
}
_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"oneOf": [
        {"$ref": "#/components/schemas/Event"},
        {"type": "object", "required": ["events"], "additionalProperties": False,
         "properties": {"events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                                   "items": {"$ref": "#/components/schemas/Event"}}}},
    ]}}},
}


@router.post(
    "/v1/events", status_code=201, response_model=IngestOut,
    summary="Send one event or a batch",
    responses={200: {"model": IngestOut, "description": "Every event was already stored "
                     "with the same body: the original result, nothing changed."},
               201: {"description": "At least one event was stored."},
               **responses(401, 403, 409, 413, 415, 422, 503)},
    openapi_extra={"requestBody": _BODY},
)
async def post_events(request: Request,
                      who: Annotated[Principal, Depends(operator("ingest"))]) -> Response:
    """Store events atomically: all of the request or none of it.

    Send one event object, or `{"events": [...]}` with up to 1,000. Re-sending an event id
    with the same body is a no-op reported as `duplicate`; with another body the whole
    request is refused with 409. Late events (older than the member's last) are accepted
    and the member is re-folded. Every bad item is named in `errors` with its index and
    field, and nothing is stored.
    """
    body = await request.body()
    check_json_type(request, body)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise EventRejected([Problem("body", "", f"not valid JSON: {e}")]) from None
    if not surely_unrepeated(body, data):
        _refuse_repeated_keys(body, data)
    if isinstance(data, dict) and "events" in data:
        if set(data) != {"events"}:
            extra = sorted(set(data) - {"events"})
            raise EventRejected([Problem("body", short(str(extra[0])),
                                         "unknown field next to `events`")])
        items = data["events"]
        if not isinstance(items, list):
            raise EventRejected([Problem("body", "events", "must be a list of events")])
        if not items:
            raise EventRejected([Problem("body", "events", "is empty: send at least one")])
    else:
        items = [data]
    check_items(items)
    coalescer: Coalescer = request.app.state.coalescer
    result = await coalescer.submit(items)
    out = {
        "stored": result.stored, "duplicates": result.duplicates,
        "items": [{"index": i, "id": it["id"], "member": it["member"],
                   "status": "duplicate" if i in result.duplicate_at else "stored"}
                  for i, it in enumerate(items)],
    }
    return Response(orjson.dumps(out), status_code=201 if result.stored else 200,
                    media_type="application/json")


def _refuse_repeated_keys(body: bytes, data: Any) -> None:
    """422 naming each key given twice, by its item (``item 3``, ``attributes.amount``)
    or, outside the events, by ``body``."""
    problems = []
    batch = isinstance(data, dict) and "events" in data
    for path in repeated_keys(body, data):
        if batch and len(path) > 2 and path[0] == "events" and isinstance(path[1], int):
            problems.append(Problem(f"item {path[1]}", json_path(path[2:]), REPEATED_KEY))
        elif batch:
            problems.append(Problem("body", json_path(path), REPEATED_KEY))
        else:
            problems.append(Problem("item 0", json_path(path), REPEATED_KEY))
    if problems:
        raise EventRejected(problems)


__all__ = ["router"]
