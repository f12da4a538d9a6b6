"""What every console page shares: the scope a page needs, and rendering in the console's
layout.

A page checks the same scope as the API route it stands for, with the same
:class:`~plaudit.domain.errors.Forbidden` (a 403 page), so a key can do in the console
exactly what it can do over the API; the navigation lists only the pages its scopes open.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from starlette.responses import Response

from plaudit.domain.errors import Forbidden, PlauditError
from plaudit.entrypoints.web.pages import render
from plaudit.entrypoints.web.session import FormRefused, Session, back, reason_of

_LINE = re.compile(r":(\d+)$")


def require(session: Session, scope: str) -> None:
    if not session.has(scope):
        raise Forbidden(f"this page needs an operator key with the `{scope}` scope")


def show(request: Request, template: str, session: Session, page: str,
         status_code: int = 200, **context: Any) -> Response:
    return render(request, template, status_code, area="console", page=page,
                  session=session, **context)


def refused(to: str, exc: PlauditError | ValueError) -> Response:
    """A form action the service refused: back to the page, saying why."""
    return back(to, reason_of(exc), error=True)


def line_of(where: str) -> int | None:
    """The line a problem's ``where`` names (``draft.yaml:12``), if any."""
    m = _LINE.search(where)
    return int(m.group(1)) if m else None


def field(session: Session, name: str, max_length: int, *, required: bool = True) -> str:
    """A form field, or a 422 page naming it (too long, or missing when required)."""
    value = session.form.get(name, "")
    if len(value) > max_length:
        raise FormRefused(422, f"field `{name}` is longer than {max_length} characters")
    if required and not value.strip():
        raise FormRefused(422, f"field `{name}` is required")
    return value


__all__ = ["field", "line_of", "refused", "require", "show"]
