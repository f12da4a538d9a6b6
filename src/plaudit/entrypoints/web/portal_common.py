"""What every portal page and form shares: rendering in the portal's layout, the write
check a member token must pass, strict form fields, and turning a service call into a
post/redirect/get answer.

A member token may change its member only when it carries the ``consents`` scope (the
API's ``member_writer`` guard): a page shows its forms disabled otherwise, and a form
posted anyway is refused here before anything is called, exactly as the API refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.application.wire import ID_PATTERN
from plaudit.domain.errors import MemberOptedOut, PlauditError, StoreError, Unauthenticated
from plaudit.entrypoints.web.pages import render, templates
from plaudit.entrypoints.web.session import FormRefused, Session, back, reason_of

T = TypeVar("T")

READ_ONLY = ("You signed in with a link that can only read: to change your settings, "
             "redeem or send a request, open the portal from your program's app again.")
"""Why a page's forms are disabled for a token without ``consents``."""


def amount(value: Any) -> str:
    """A factor input, a board value or a plan target as a member reads it: yes/no, a whole
    number with separators, or a decimal to at most two places (the shared ``number``
    filter drops the fraction of a decimal)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    try:
        d = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    if d == d.to_integral_value():
        return f"{int(d):,}"
    text = f"{d.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
    return text.rstrip("0").rstrip(".")


templates.env.filters["amount"] = amount


def can_write(session: Session) -> bool:
    """The API's rule for a member's own token (``member_writer``)."""
    return session.principal.kind == "member" and "consents" in session.principal.scopes


def page(request: Request, template: str, session: Session, name: str,
         **context: Any) -> Response:
    return render(request, f"portal/{template}", area="portal", page=name, session=session,
                  can_write=can_write(session), read_only=READ_ONLY, **context)


@dataclass(frozen=True)
class Field:
    """One field a portal form takes: everything else sent is refused."""

    max_length: int
    pattern: str | None = None
    required: bool = True
    choices: tuple[str, ...] | None = None


ID = ID_PATTERN
"""An event, member or redemption id, as the API takes it."""
SLUG = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
"""A rulebook id: reward, board, partner."""


def fields(session: Session, spec: dict[str, Field]) -> dict[str, str]:
    """The form's values, checked against ``spec``: an unknown, missing, oversized or
    malformed field is a 422 page and nothing is changed (the CSRF field is gone already).
    Also refuses a token that may not write, with the API's 403."""
    if not can_write(session):
        raise FormRefused(403, READ_ONLY)
    unknown = sorted(set(session.form) - set(spec))
    if unknown:
        raise FormRefused(422, f"field `{unknown[0][:40]}` is not part of this form")
    values: dict[str, str] = {}
    for name, f in spec.items():
        value = session.form.get(name)
        if value is None:
            if f.required:
                raise FormRefused(422, f"field `{name}` is missing")
            continue
        if len(value) > f.max_length:
            raise FormRefused(422, f"field `{name}` is longer than {f.max_length} characters")
        if f.pattern is not None and not re.fullmatch(f.pattern, value):
            raise FormRefused(422, f"field `{name}` is not valid here")
        if f.choices is not None and value not in f.choices:
            raise FormRefused(422, f"field `{name}` must be one of: {', '.join(f.choices)}")
        values[name] = value
    return values


def explain_error(exc: PlauditError) -> str:
    """A sentence for the member: what the program says, and for an opted-out member, what
    to do about it."""
    if isinstance(exc, MemberOptedOut):
        return ("You left the program: take part again (on Your data) before you allow a "
                "partner, join a leaderboard or name a friend.")
    return reason_of(exc)


async def act(to: str, call: Callable[[], T], done: Callable[[T], str]) -> Response:
    """Run a service call; come back to ``to`` saying what happened, or why it did not.
    A refusal by the program is a message on the page, never an error page; a store
    failure or a credential gone meanwhile is left to the error pages."""
    try:
        result = await run_in_threadpool(call)
    except (StoreError, Unauthenticated):
        raise
    except PlauditError as exc:
        return back(to, explain_error(exc), error=True)
    return back(to, done(result))


__all__ = ["ID", "READ_ONLY", "SLUG", "Field", "act", "can_write", "explain_error", "fields",
           "page"]
