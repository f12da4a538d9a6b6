"""PLAUDIT_SQLITE_CACHE_MB: the pages each SQLite connection keeps in memory, for the
store, the stores its fold workers open, and the store bootstrap builds from settings."""

from __future__ import annotations

from pathlib import Path

from plaudit.adapters.sql.store import SqlStore
from plaudit.bootstrap import bootstrap
from plaudit.config import Settings


def cache_kib(store: SqlStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())


def test_each_connection_keeps_the_configured_pages(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert cache_kib(SqlStore(url)) == -64 * 1024  # the default
    small = SqlStore(url, sqlite_cache_mb=8)
    assert cache_kib(small) == -8 * 1024
    opener = small.opener()
    assert opener is not None and cache_kib(opener()) == -8 * 1024  # a fold worker's
    svc = bootstrap(Settings(database_url=url, sqlite_cache_mb=16))
    assert cache_kib(svc.store) == -16 * 1024  # type: ignore[arg-type]
