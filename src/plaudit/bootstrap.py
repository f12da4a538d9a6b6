"""The one place where adapters are wired into the use cases."""

from __future__ import annotations

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.ports import Clock
from plaudit.application.service import Plaudit
from plaudit.config import Settings


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None) -> Plaudit:
    settings = settings or Settings()
    if settings.is_sqlite:
        settings.home.mkdir(parents=True, exist_ok=True)
    store = SqlStore(settings.url)
    return Plaudit(store, clock or SystemClock(), cache_size=settings.cache_members,
                   fold_workers=settings.fold_workers,
                   snapshot_every=settings.snapshot_every)


__all__ = ["bootstrap"]
