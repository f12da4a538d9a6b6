"""Alembic migrations create exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from plaudit.adapters.sql.store import SqlStore
from plaudit.adapters.sql.tables import metadata


def test_migrated_schema_matches_the_tables(store_url: str) -> None:
    store = SqlStore(store_url)
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    store.close()
    assert diff == []


def test_migrating_twice_is_harmless(store_url: str) -> None:
    SqlStore(store_url).close()
    store = SqlStore(store_url)
    with store.read() as tx:
        assert tx.count_events() == 0
    store.close()
