"""Authentication and the scope each route needs, declared once per route.

Every route depends on exactly one of the guards below; ``tests/api/test_access.py`` walks
the app's routes and fails if one has none. The guards are ``async`` so that checking a
(cached) credential does not cost a thread hop on every request.

* :func:`operator` — an operator key with the scope (``admin`` implies all);
* :func:`member_reader` — an operator key with ``read``, or a member token for exactly the
  member in the path (anything else is 403, even for a member that does not exist, so a
  token cannot probe which members exist);
* :func:`member_writer` — an operator key with ``ingest``, or that member's token if it
  was issued with the ``consents`` scope (by a key that has ``ingest``);
* :func:`board_reader` — an operator key with ``read``, or any member token (a board shows
  only opted-in members' pseudonyms);
* :func:`partner` — a partner key; what it may ask is decided by the partner check itself.

Once the caller is known, every guard also refuses query parameters the route does not
take (:func:`_known_query`): the guard is the one thing every route runs first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from plaudit.application.access import Principal
from plaudit.application.service import Plaudit
from plaudit.domain.errors import Forbidden, InvalidRequest, Problem, Unauthenticated
from plaudit.entrypoints.http.limits import short

bearer = HTTPBearer(auto_error=False, description="An operator key (`plk_…`), a partner key "
                    "(`plp_…`) or a member token (`plm_…`).")

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
MemberId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$",
                               description="The operator's member id.")]


def service(request: Request) -> Plaudit:
    svc: Plaudit = request.app.state.plaudit
    return svc


def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None
               ) -> Principal:
    if credentials is None:
        raise Unauthenticated("send a key or member token as `Authorization: Bearer …`")
    who = service(request).access.authenticate(credentials.credentials)
    _known_query(request)
    return who


def _known_query(request: Request) -> None:
    """A query parameter the route does not take is refused (422 naming it) rather than
    ignored: a misspelt `?asof=…` would otherwise be answered as if it had not been sent
    (here: at now). Checked by the guard, so that it comes after authentication."""
    names = request.query_params.keys()
    if not names:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names.get(route.unique_id)
    if known is None:
        known = _query_names[route.unique_id] = frozenset(_declared_query(route.dependant))
    unknown = sorted(set(names) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise InvalidRequest([Problem("query", short(name), "unknown query parameter "
                                      f"(this route takes: {listed})") for name in unknown])


_query_names: dict[str, frozenset[str]] = {}


def _declared_query(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared_query(sub)
    return names


def operator(scope: str) -> Callable[..., Awaitable[Principal]]:
    async def guard(request: Request, credentials: Credentials) -> Principal:
        who = _principal(request, credentials)
        if not who.has(scope):
            raise Forbidden(f"this route needs an operator key with the `{scope}` scope")
        return who

    guard.__name__ = f"operator_{scope}"
    guard.plaudit_scope = scope  # type: ignore[attr-defined]
    return guard


def _path_member(request: Request) -> str:
    """The raw member id of the path. The guard does not validate it (the route does), so
    a caller without a credential hears 401 before anything about the path."""
    member: str = request.path_params.get("member_id", "")
    return member


async def member_reader(request: Request, credentials: Credentials) -> Principal:
    who = _principal(request, credentials)
    if who.has("read") or (who.kind == "member" and who.member == _path_member(request)):
        return who
    raise Forbidden("this credential may not read this member")


async def member_writer(request: Request, credentials: Credentials) -> Principal:
    who = _principal(request, credentials)
    if who.has("ingest") or (who.kind == "member" and who.member == _path_member(request)
                             and "consents" in who.scopes):
        return who
    raise Forbidden("this credential may not change this member")


async def board_reader(request: Request, credentials: Credentials) -> Principal:
    """A leaderboard lists only opted-in members, by pseudonym, value and rank: what any
    member of the program may see in their app. So any member token reads it (not only for
    one member: no member is in the path), and so does an operator key with ``read``."""
    who = _principal(request, credentials)
    if who.has("read") or who.kind == "member":
        return who
    raise Forbidden("leaderboards are read with an operator key with `read` or a member "
                    "token")


async def partner(request: Request, credentials: Credentials) -> Principal:
    who = _principal(request, credentials)
    if who.kind != "partner":
        raise Forbidden("this route is for partner keys")
    return who


member_reader.plaudit_scope = "read or the member's own token"  # type: ignore[attr-defined]
member_writer.plaudit_scope = "ingest or the member's own token with `consents`"  # type: ignore[attr-defined]
partner.plaudit_scope = "partner key"  # type: ignore[attr-defined]
board_reader.plaudit_scope = "read or any member token"  # type: ignore[attr-defined]

__all__ = ["MemberId", "board_reader", "member_reader", "member_writer", "operator", "partner",
           "service"]
