"""The one place where adapters are wired into the use cases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.ports import Clock
from plaudit.application.service import Plaudit
from plaudit.config import Settings

if TYPE_CHECKING:
    from plaudit.adapters.nats import NatsSource


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None) -> Plaudit:
    settings = settings or Settings()
    if settings.is_sqlite:
        settings.home.mkdir(parents=True, exist_ok=True)
    store = SqlStore(settings.url, sqlite_cache_mb=settings.sqlite_cache_mb)
    return Plaudit(store, clock or SystemClock(), cache_size=settings.cache_members,
                   fold_workers=settings.fold_workers,
                   snapshot_every=settings.snapshot_every, memory_mb=settings.memory_mb)


def nats_source(url: str, **options: Any) -> NatsSource:
    """The NATS JetStream source ``plaudit consume`` reads (``adapters/nats.py``), imported
    only by the command that uses it."""
    from plaudit.adapters.nats import NatsSource

    return NatsSource(url, **options)


__all__ = ["bootstrap", "nats_source"]
