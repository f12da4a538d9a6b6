"""Signing in to the portal and the console: the credential in a cookie, and CSRF.

The web uses the API's own credentials: a member signs in with a member token (``plm_…``,
which a program's app issues, or the link ``plaudit demo`` prints), an operator with an
operator key (``plk_…``). The credential is kept in an ``HttpOnly``, ``SameSite=Lax``
cookie scoped to its area's path (``Secure`` over HTTPS), and checked on every request
exactly as a bearer token is (:meth:`Access.authenticate`): revoking the key, or the
token expiring, signs the browser out at once. Nothing else is stored server-side, so
there is no session table to erase or leak.

Every form carries a CSRF token derived from the cookie (an HMAC of a fixed label keyed
with the credential): another site cannot read the cookie, so it cannot forge the field;
``SameSite=Lax`` (no cookie on another site's POST) and the ``Origin`` check are two more
locks on the same door. Lax, not Strict: a sign-in link tapped in an email or another app
is a navigation from another site, and a Strict cookie would not go with the redirect
that follows it, landing the member on the sign-in form (tests/browser checks it). Pages
change nothing on GET, so Lax's top-level GETs from elsewhere only show a page.

A sign-in link never silently replaces a session of someone else: with another valid
credential in the cookie, the link asks first (anyone can send anyone a link).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qsl, quote, unquote

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from plaudit.application.access import Principal
from plaudit.application.service import Plaudit
from plaudit.domain.errors import Unauthenticated
from plaudit.entrypoints.web.pages import FLASH, render

router = APIRouter(include_in_schema=False)

AREAS = {"portal": ("member", "plaudit_member"), "console": ("operator", "plaudit_operator")}
"""area -> (the credential kind it takes, its cookie)."""
MAX_FORM_FIELDS = 64
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_TOKEN = 200
MAX_NEXT = 300


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
        # back to this page after signing in; a form's address is no page (GET it: 405)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(area, here if request.method in ("GET", "HEAD") else f"/{area}")
    return Session(area, who, csrf_for(credential))


def _foreign(request: Request) -> str | None:
    """The ``Origin`` of a request another site sent, if it is one."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return origin
    return None


def _fields(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each field once (parse_qsl has capped their number already)."""
    values: dict[str, str] = {}
    for name, value in items:
        if name in values:
            raise FormRefused(422, f"field `{name[:40]}` was sent twice")
        values[name] = value
    return values


async def read_form(request: Request) -> dict[str, str]:
    """A form's fields as a browser sends them (urlencoded UTF-8, each field once, no
    file), else :class:`FormRefused`: the page's forms send nothing else.

    Parsed here rather than by Starlette, which decodes raw bytes as Latin-1 and bad
    percent-escapes as U+FFFD, so a non-UTF-8 body would be stored as mojibake instead of
    refused."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != FORM_TYPE:
        raise FormRefused(415, "this form must be sent from its page (a plain form, "
                          "without files)")
    raw = await request.body()  # no page route takes Form() parameters: this reads it
    try:
        items = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8",
                          errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError:
        raise FormRefused(400, "this form is not valid UTF-8") from None
    except ValueError:
        raise FormRefused(422, f"this form has more than {MAX_FORM_FIELDS} fields") from None
    return _fields(items)


async def _checked_form(request: Request, session: Session) -> Session:
    origin = _foreign(request)
    if origin is not None:
        raise FormRefused(403, f"this form was sent from another site ({origin[:80]})")
    values = await read_form(request)
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


_URL_CHARS = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")
"""What a path and query may hold here: no space, control character, backslash or ``#``
(browsers drop tabs and newlines, and read ``\\`` as ``/``: ``/\\evil`` is another host)."""


def reason_of(exc: Exception) -> str:
    """What a refusal says on a page: its problems' reasons, without the batch wording the
    API's event errors carry for developers, or its message."""
    problems = getattr(exc, "problems", None)
    if problems:
        return "; ".join(str(p.reason) for p in problems)[:300]
    text = str(getattr(exc, "reason", None) or exc).strip()
    return text[:300] or "That could not be done."


def _safe_next(area: str, next_path: str | None) -> str:
    """Only a page of the same area: a sign-in link must not redirect off the site, nor
    out of its area (``/portal/../console``, also percent-encoded)."""
    home = f"/{area}"
    if not next_path or not _URL_CHARS.fullmatch(next_path):
        return home
    path = next_path.partition("?")[0]
    decoded = unquote(path)
    if (path == home or path.startswith(home + "/")) and "//" not in decoded \
            and "\\" not in decoded and not {".", ".."} & set(decoded.split("/")):
        return next_path
    return home


def _signed_in(request: Request, area: str, credential: str, next_path: str | None
               ) -> Response:
    response = RedirectResponse(_safe_next(area, next_path), status_code=303)
    response.set_cookie(AREAS[area][1], credential, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path=f"/{area}")
    response.delete_cookie(FLASH, path="/")
    return response


def _signin_page(request: Request, area: str, next_path: str | None, error: str | None = None,
                 status_code: int = 200) -> Response:
    return render(request, "signin.html", status_code, area=area, next=_safe_next(
        area, next_path), error=error)


def _name(who: Principal) -> str:
    """Who a credential signs in as: the member, or the operator key (by id too, since two
    keys may share a name)."""
    return who.member if who.member is not None else f"key “{who.name}” ({who.key_id})"


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
        current = await run_in_threadpool(_authenticate, request, area,
                                          request.cookies.get(AREAS[area][1]))
        if current is not None and _name(current) != _name(who):  # a new token: no question
            return render(request, "signin-switch.html", area=area, token=token.strip(),
                          next=_safe_next(area, next), current=_name(current),
                          new=_name(who))
        return _signed_in(request, area, token.strip(), next)

    @router.post(f"/{area}/signin")
    async def signin(request: Request) -> Response:
        if _foreign(request) is not None:
            return _signin_page(request, area, None, "Sign in from this site's own page.",
                                403)
        values = await read_form(request)  # as strict as every other form: no csrf yet
        token, next_ = values.get("token", "").strip(), values.get("next", "")[:MAX_NEXT]
        if not token or len(token) > MAX_TOKEN:
            return _signin_page(request, area, next_, f"Enter your {what} (at most "
                                f"{MAX_TOKEN} characters).", 422)
        who = await run_in_threadpool(_authenticate, request, area, token)
        if who is None:
            return _signin_page(request, area, next_, f"That {what} is not valid (wrong, "
                                "expired or revoked).", 401)
        return _signed_in(request, area, token, next_)

    @router.post(f"/{area}/signout")
    async def signout(request: Request) -> Response:
        """Checked like every form while the session is valid (a dead one has nothing to
        protect: signing it out only forgets the cookie)."""
        if _foreign(request) is not None:  # another site may not sign you out either
            raise FormRefused(403, "sign out from this site's own page")
        credential = request.cookies.get(AREAS[area][1])
        if await run_in_threadpool(_authenticate, request, area, credential) is not None:
            assert credential is not None
            values = await read_form(request)
            if not hmac.compare_digest(values.get("csrf", ""), csrf_for(credential)):
                raise FormRefused(403, "this form is out of date or was not sent from this "
                                  "page: reload the page and try again")
        response = back(f"/{area}/signin", "Signed out.")
        response.delete_cookie(AREAS[area][1], path=f"/{area}")
        return response


for _area in AREAS:
    _signin_routes(_area)

__all__ = ["MemberForm", "MemberPage", "OperatorForm", "OperatorPage", "Session", "back",
           "csrf_for", "read_form", "reason_of", "router", "service"]
