"""Operator and partner keys (admin, as over the API): the list, creating one (its token
is shown once, on the answer to the form, and never again: only its hash is stored), and
revoking one after a confirmation (its member tokens go with it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.access import SCOPES
from plaudit.domain.errors import PlauditError
from plaudit.entrypoints.web.console_base import field, refused, require, show
from plaudit.entrypoints.web.session import OperatorForm, OperatorPage, back, service

router = APIRouter(include_in_schema=False)
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
MAX_NAME = 128
MAX_PARTNER = 64


def _page(request: Request, session: OperatorPage, status_code: int = 200,
          **context: object) -> Response:
    keys = service(request).access.list_keys()
    context.setdefault("issued", None)
    return show(request, "console/keys.html", session, "keys", status_code, keys=keys,
                scopes=SCOPES, **context)


@router.get("/keys")
async def keys(request: Request, session: OperatorPage) -> Response:
    require(session, "admin")
    return await run_in_threadpool(_page, request, session)


@router.post("/keys")
async def create(request: Request, session: OperatorForm) -> Response:
    """An operator key with the ticked scopes, or a partner key for one partner. The
    answer is a page (not a redirect) because the token must not travel in a URL or a
    cookie: it is on this one response, which is never cached."""
    require(session, "admin")
    name = field(session, "name", MAX_NAME).strip()
    kind = field(session, "kind", 10)
    access = service(request).access
    try:
        if kind == "partner":
            partner = field(session, "partner", MAX_PARTNER).strip()
            issued = await run_in_threadpool(lambda: access.create_partner_key(
                name, partner, actor=session.actor))
        elif kind == "operator":
            scopes = [s for s in SCOPES if session.form.get(f"scope_{s}") == "on"]
            if not scopes:
                return back("/console/keys", "Tick at least one scope for an operator key.",
                            error=True)
            issued = await run_in_threadpool(lambda: access.create_key(
                name, scopes, actor=session.actor))
        else:
            return back("/console/keys", "The kind of key must be operator or partner.",
                        error=True)
    except (PlauditError, ValueError) as e:
        return refused("/console/keys", e)
    return await run_in_threadpool(_page, request, session, 201, issued=issued)


@router.get("/keys/{key_id}/revoke")
async def revoke_confirm(request: Request, key_id: KeyId, session: OperatorPage) -> Response:
    require(session, "admin")
    row = await run_in_threadpool(service(request).access.key, key_id)
    return show(request, "console/revoke.html", session, "keys", row=row,
                own=row.key_id == session.actor)


@router.post("/keys/{key_id}/revoke")
async def revoke(request: Request, key_id: KeyId, session: OperatorForm) -> Response:
    require(session, "admin")
    access = service(request).access
    try:
        await run_in_threadpool(lambda: access.revoke(key_id, actor=session.actor))
    except PlauditError as e:
        return refused("/console/keys", e)
    return back("/console/keys", f"Key {key_id} revoked, with every member token it issued.")


__all__ = ["router"]
