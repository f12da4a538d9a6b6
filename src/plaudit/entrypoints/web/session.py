"""Signing in to the portal and the console: the credential in a cookie, and CSRF.

The web uses the API's own credentials: a member signs in with a member token (``plm_…``,
which a program's app issues, or the link ``plaudit demo`` prints), an operator with an
operator key (``plk_…``). The credential is kept in an ``HttpOnly``, ``SameSite=Strict``
cookie scoped to its area's path (``Secure`` over HTTPS), and checked on every request
exactly as a bearer token is (:meth:`Access.authenticate`): revoking the key, or the
token expiring, signs the browser out at once. Nothing else is stored server-side, so
there is no session table to erase or leak.

Every form carries a CSRF token derived from the cookie (an HMAC of a fixed label keyed
with the credential): another site cannot read the cookie, so it cannot forge the field;
``SameSite=Strict`` and the ``Origin`` check are two more locks on the same door.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from plaudit.application.access import Principal
from plaudit.application.service import Plaudit
from plaudit.domain.errors import Unauthenticated
from plaudit.entrypoints.web.pages import FLASH, render

router = APIRouter(include_in_schema=False)

AREAS = {"portal": ("member", "plaudit_member"), "console": ("operator", "plaudit_operator")}
"""area -> (the credential kind it takes, its cookie)."""
MAX_FORM_FIELDS = 64


class SignInRequired(Exception):
    """No valid credential for the area: the error handler redirects to its sign-in."""

    def __init__(self, area: str, next_path: str) -> None:
        super().__init__(area)
        self.area = area
        self.next_path = next_path


class FormRefused(Exception):
    """A form the page cannot take (CSRF, origin, shape): answered 403 or 422 as a page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Session:
    area: str
    principal: Principal
    csrf: str
    form: dict[str, str] = field(default_factory=dict)

    @property
    def member(self) -> str:
        assert self.principal.member is not None
        return self.principal.member

    @property
    def actor(self) -> str:
        """Who the audit log names: the key or token id, as over the API."""
        return self.principal.key_id

    def has(self, scope: str) -> bool:
        return self.principal.has(scope)


def service(request: Request) -> Plaudit:
    svc: Plaudit = request.app.state.plaudit
    return svc


def csrf_for(credential: str) -> str:
    return hmac.new(credential.encode(), b"plaudit-web-csrf-v1", hashlib.sha256).hexdigest()[:32]


def _authenticate(request: Request, area: str, credential: str | None) -> Principal | None:
    kind, _ = AREAS[area]
    if not credential:
        return None
    try:
        who = service(request).access.authenticate(credential)
    except Unauthenticated:
        return None
    return who if who.kind == kind else None


def _session(request: Request, area: str) -> Session:
    credential = request.cookies.get(AREAS[area][1])
    who = _authenticate(request, area, credential)
    if who is None or credential is None:
        raise SignInRequired(area, request.url.path)
    return Session(area, who, csrf_for(credential))


async def _checked_form(request: Request, session: Session) -> Session:
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise FormRefused(403, f"this form was sent from another site ({origin[:80]})")
    data: FormData = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    values: dict[str, str] = {}
    for name, value in data.multi_items():
        if not isinstance(value, str):
            raise FormRefused(422, f"field `{name[:40]}`: files are not taken here")
        if name in values:
            raise FormRefused(422, f"field `{name[:40]}` was sent twice")
        values[name] = value
    if not hmac.compare_digest(values.pop("csrf", ""), session.csrf):
        raise FormRefused(403, "this form is out of date or was not sent from this page: "
                          "reload the page and try again")
    return Session(session.area, session.principal, session.csrf, values)


async def member_page(request: Request) -> Session:
    return _session(request, "portal")


async def operator_page(request: Request) -> Session:
    return _session(request, "console")


async def member_form(request: Request) -> Session:
    return await _checked_form(request, _session(request, "portal"))


async def operator_form(request: Request) -> Session:
    return await _checked_form(request, _session(request, "console"))


MemberPage = Annotated[Session, Depends(member_page)]
MemberForm = Annotated[Session, Depends(member_form)]
OperatorPage = Annotated[Session, Depends(operator_page)]
OperatorForm = Annotated[Session, Depends(operator_form)]


def back(to: str, message: str | None = None, *, error: bool = False) -> Response:
    """Post/redirect/get: answer a form with a redirect, and say what happened once on the
    page it lands on (a short-lived cookie the next render reads and clears)."""
    response = RedirectResponse(to, status_code=303)
    if message:
        response.set_cookie(FLASH, quote(("error:" if error else "ok:") + message[:300]),
                            max_age=60, httponly=True, samesite="strict", path="/")
    return response


def _safe_next(area: str, next_path: str | None) -> str:
    """Only a path of the same area: a sign-in link must not redirect off the site."""
    home = f"/{area}"
    if next_path and (next_path == home or next_path.startswith(home + "/")) \
            and "//" not in next_path and "\\" not in next_path:
        return next_path
    return home


def _signed_in(request: Request, area: str, credential: str, next_path: str | None
               ) -> Response:
    response = RedirectResponse(_safe_next(area, next_path), status_code=303)
    response.set_cookie(AREAS[area][1], credential, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=f"/{area}")
    response.delete_cookie(FLASH, path="/")
    return response


def _signin_page(request: Request, area: str, next_path: str | None, error: str | None = None,
                 status_code: int = 200) -> Response:
    return render(request, "signin.html", status_code, area=area, next=_safe_next(
        area, next_path), error=error)


def _signin_routes(area: str) -> None:
    what = "member token" if area == "portal" else "operator key"

    @router.get(f"/{area}/signin")
    async def signin_page(request: Request, token: str | None = None,
                          next: str | None = None) -> Response:
        """``?token=…`` signs in from a link (then redirects, so the credential leaves the
        address bar and the history)."""
        if token is None:
            return _signin_page(request, area, next)
        who = await run_in_threadpool(_authenticate, request, area, token.strip())
        if who is None:
            return _signin_page(request, area, next, f"That {what} is not valid (wrong, "
                                "expired or revoked).", 401)
        return _signed_in(request, area, token.strip(), next)

    @router.post(f"/{area}/signin")
    async def signin(request: Request, token: Annotated[str, Form(max_length=200)],
                     next: Annotated[str | None, Form(max_length=300)] = None) -> Response:
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            return _signin_page(request, area, next, "Sign in from this site's own page.",
                                403)
        who = await run_in_threadpool(_authenticate, request, area, token.strip())
        if who is None:
            return _signin_page(request, area, next, f"That {what} is not valid (wrong, "
                                "expired or revoked).", 401)
        return _signed_in(request, area, token.strip(), next)

    @router.post(f"/{area}/signout")
    async def signout(request: Request) -> Response:
        response = back(f"/{area}/signin", "Signed out.")
        response.delete_cookie(AREAS[area][1], path=f"/{area}")
        return response


for _area in AREAS:
    _signin_routes(_area)

__all__ = ["MemberForm", "MemberPage", "OperatorForm", "OperatorPage", "Session", "back",
           "csrf_for", "router", "service"]
