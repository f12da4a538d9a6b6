"""The FastAPI application: routes, the problem+json handlers, limits and OpenAPI.

:func:`create_app` takes a ready :class:`~plaudit.application.service.Plaudit` (tests pass
one) or builds one from settings through the one wiring point, :func:`plaudit.bootstrap`.
uvicorn workers call :func:`app_factory`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi

import plaudit
from plaudit.application.collector import FreezeAfterWrites
from plaudit.application.service import Plaudit
from plaudit.config import Settings
from plaudit.entrypoints import web
from plaudit.entrypoints.http import (
    audit,
    backtest,
    badges,
    disputes,
    events,
    keys,
    leaderboards,
    members,
    partner,
    problems,
    rewards,
    rights,
    rulebooks,
    streaks,
)
from plaudit.entrypoints.http.coalesce import Coalescer
from plaudit.entrypoints.http.limits import MAX_BODY_BYTES, BodyLimit
from plaudit.entrypoints.http.models import Health

DESCRIPTION = """\
The plaudit API: send behaviour events, read members' points, score, tier and perks, let
partners ask a consented yes/no, answer members' data rights (export, opt-out, erasure),
and manage rulebooks and keys.

Authenticate with `Authorization: Bearer <token>`: an operator key (`plk_…`, scopes
`admin`, `ingest`, `read`, `erase`), a partner key (`plp_…`) or a member token (`plm_…`).
Every error is `application/problem+json` (RFC 9457) with `type`, `title`, `status`,
`detail`, `instance` and `errors` (one entry per bad item or field).
"""


def create_app(svc: Plaudit | None = None, *, max_body_bytes: int = MAX_BODY_BYTES,
               threads: int | None = None, freeze_gc: bool = False,
               fold_workers: int | None = None) -> FastAPI:
    """``fold_workers`` (default ``PLAUDIT_SERVE_FOLD_WORKERS``): processes started with the
    server that fold its writes and answer present-state reads (see
    :meth:`Plaudit.start_folding`); stopped with it."""
    settings = Settings()
    if svc is None:
        from plaudit.bootstrap import bootstrap

        svc = bootstrap()
    if fold_workers is None:
        fold_workers = settings.serve_fold_workers
    if threads is None:
        if settings.threads is not None:
            threads = settings.threads
        else:  # the service may not come from settings (tests): ask its store
            threads = 1 if getattr(svc.store, "dialect", "sqlite") == "sqlite" else 4

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Folds are CPU-bound Python: with anyio's default of forty threads they only queued
        # on the GIL, a thread back from SQLite waiting a switch interval for it, and p99
        # grew to ~1 s under load (docs/benchmarks.md). See Settings.threads.
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        started = fold_workers > 0 and svc.start_folding(fold_workers)
        try:
            yield
        finally:
            if started:
                svc.stop_folding()

    app = FastAPI(title="plaudit", version=plaudit.__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  lifespan=lifespan)
    app.state.plaudit = svc
    app.state.coalescer = Coalescer(svc, FreezeAfterWrites() if freeze_gc else None)
    problems.install(app)
    for module in (events, members, badges, partner, rulebooks, keys, rewards, streaks,
                   leaderboards, disputes, backtest, rights, audit):
        app.include_router(module.router)
    web.install(app)  # portal, console, /docs and /static; wraps the handlers above

    @app.get("/healthz", response_model=Health, tags=["health"],
             responses=problems.responses(503), summary="Liveness and the current version")
    def healthz(request: Request) -> Health:
        """No credential needed; says only that the service and its database answer."""
        versions = svc.rulebook_versions()
        return Health(status="ok", rulebook_version=versions[-1].version if versions else None)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["Event"] = \
                events._EVENT_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, limit=max_body_bytes, pages=web.AREAS)
    return app


def app_factory() -> FastAPI:
    """For ``uvicorn --factory``: settings from the environment; the process is the
    server's own, so it may manage the cycle collector (see FreezeAfterWrites)."""
    return create_app(freeze_gc=True)


__all__ = ["app_factory", "create_app"]
