"""Rendering a page: the Jinja2 environment, its filters, and the headers every page gets.

Pages set a strict Content-Security-Policy: scripts and styles only from ``/static`` (no
inline script, no inline style attribute), no frames, forms posting only here. Chart data
travels as JSON in ``<script type="application/json">`` blocks, which the policy does not
execute and Jinja's ``tojson`` escapes for HTML. ``Referrer-Policy: same-origin``: no
other site learns which page linked to it (``no-referrer`` would also make the browser send
``Origin: null`` on our own forms, defeating their origin check).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined
from starlette.responses import Response

import plaudit

HERE = Path(__file__).parent
STATIC = HERE / "static"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
       "base-uri 'none'; object-src 'none'")
HEADERS = {"Content-Security-Policy": CSP, "Referrer-Policy": "same-origin",
           "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Cache-Control": "no-store"}
"""Every page shows one person's or one operator's data: never cached, never framed."""


def _when(us: int | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if us is None:
        return "—"
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime(fmt)


def _day(value: Any) -> str:
    """A date from a time in µs, an ISO string or a date."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return _when(value, "%Y-%m-%d")
    return str(value)[:10]


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def _signed(value: Any) -> str:
    if value is None:
        return "—"
    n = float(value)
    text = f"{abs(n):,.0f}" if n == int(n) else f"{abs(n):,.1f}"
    return ("+" if n > 0 else "−" if n < 0 else "±") + text


templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters.update(when=_when, day=_day, number=_number, signed=_signed)
templates.env.globals.update(version=plaudit.__version__)
templates.env.undefined = StrictUndefined  # a misspelt name fails the page's test
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


FLASH = "plaudit_flash"
"""A message for the next page only (set by :func:`session.back`)."""


def _flash(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(FLASH)
    if not raw:
        return None
    kind, _, text = unquote(raw).partition(":")
    return {"error": kind == "error", "text": text[:300]}


def render(request: Request, template: str, status_code: int = 200,
           **context: Any) -> Response:
    """The page, with the security headers; shows (and clears) a pending flash message."""
    context.setdefault("flash", _flash(request))
    context.setdefault("area", None)
    context.setdefault("session", None)
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers.update(HEADERS)
    if FLASH in request.cookies:
        response.delete_cookie(FLASH, path="/")
    return response


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


__all__ = ["FLASH", "HEADERS", "STATIC", "mount_static", "render", "templates"]
