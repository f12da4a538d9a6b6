"""Operator and partner keys (admin only). Member tokens are issued under /v1/members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.access import Principal
from plaudit.application.ports import KeyRow
from plaudit.domain.calendar import from_us
from plaudit.entrypoints.http.media import json_body
from plaudit.entrypoints.http.models import KeyCreate, KeyCreated, KeyOut
from plaudit.entrypoints.http.problems import responses
from plaudit.entrypoints.http.security import operator, service

router = APIRouter(tags=["keys"])
Admin = Annotated[Principal, Depends(operator("admin"))]
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


def key_out(row: KeyRow) -> KeyOut:
    return KeyOut(key_id=row.key_id, name=row.name, kind=row.kind,  # type: ignore[arg-type]
                  scopes=row.scopes.split(), partner=row.partner,
                  created_at=from_us(row.created_us).isoformat(),
                  revoked_at=from_us(row.revoked_us).isoformat() if row.revoked_us else None)


@router.post("/v1/keys", status_code=201, response_model=KeyCreated,
             responses=responses(401, 403, 415, 422, 503), summary="Create a key")
async def create_key(request: Request, body: KeyCreate, who: Admin,
                     _body: Annotated[None, Depends(json_body)]) -> KeyCreated:
    """An operator key with `scopes` (`admin`, `ingest`, `read`, `erase`), or a partner key
    for one `partner`. The token is in this response only; plaudit keeps only its hash."""
    access = service(request).access
    if body.partner is not None:
        issued = await run_in_threadpool(lambda: access.create_partner_key(
            body.name, body.partner or "", actor=who.key_id))
    else:
        assert body.scopes is not None
        issued = await run_in_threadpool(lambda: access.create_key(
            body.name, body.scopes or [], actor=who.key_id))
    return KeyCreated(**key_out(issued.row).model_dump(), token=issued.token)


@router.get("/v1/keys", response_model=list[KeyOut], responses=responses(401, 403, 503),
            summary="List keys")
def list_keys(request: Request, who: Admin) -> list[KeyOut]:
    return [key_out(r) for r in service(request).access.list_keys()]


@router.delete("/v1/keys/{key_id}", status_code=204,
               responses=responses(401, 403, 404, 422, 503), summary="Revoke a key")
def revoke_key(request: Request, key_id: KeyId, who: Admin) -> Response:
    """Revokes the key and every member token it issued: at once in this process, within
    two seconds in every other API process."""
    service(request).access.revoke(key_id, actor=who.key_id)
    return Response(status_code=204)


__all__ = ["router"]
