"""The web pages: the member portal (``/portal``), the operator console (``/console``), the
self-hosted API docs (``/docs``) and their static files (``/static``).

Server-rendered with Jinja2 over the same :class:`~plaudit.application.service.Plaudit`
use cases as the JSON API: a page calls the service exactly as a route does, so the web
adds presentation and sign-in, never a second copy of a rule. Every asset is served from
this package (``static/vendor`` holds the npm packages, see ``tools/vendor``): nothing is
loaded from a CDN, so the pages work offline and leak no visit to a third party.
"""

from __future__ import annotations

from fastapi import FastAPI

from plaudit.entrypoints.web import console, docs, errors, portal, session
from plaudit.entrypoints.web.pages import mount_static

AREAS = errors.WEB_AREAS
"""Where errors are pages (errors.py), the API's limits answering as pages too."""


def install(app: FastAPI) -> None:
    mount_static(app)
    for module in (docs, session, portal, console):
        app.include_router(module.router)
    errors.install(app)


__all__ = ["AREAS", "install"]
