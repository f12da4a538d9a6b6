"""Settings, read once at the edge from the environment (``PLAUDIT_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLAUDIT_", extra="ignore")

    home: Path = Field(default=Path(".plaudit"),
                       description="Data directory: the SQLite database lives here.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means SQLite in the data directory. For "
                    "PostgreSQL: postgresql+psycopg://user@host/db")
    cache_members: int = Field(default=20_000, ge=0,
                               description="Accumulators kept in memory between batches.")
    sqlite_cache_mb: int = Field(
        default=64, ge=1, le=65_536,
        description="Database pages each SQLite connection keeps in memory, in MB (a "
                    "process holds this much per connection it uses once the database is "
                    "larger); lower it to bound memory, raise it for a large database.")
    memory_mb: int | None = Field(
        default=None, ge=64,
        description="Memory budget of each process that folds (ingest, an API worker, a "
                    "fold process), in MB: while it is over it and growing, its cache of "
                    "accumulators gives up members (Linux; unset: only cache_members "
                    "bounds it).")
    snapshot_every: int = Field(
        default=64, ge=0,
        description="Write a member's fold snapshot after this many new events, so a cache "
                    "miss folds only the events after it; 0 turns snapshots off.")

    fold_workers: int | None = Field(
        default=None, ge=1, le=64,
        description="Processes that fold members when the whole program is re-folded "
                    "(publish, `plaudit replay`, backtest); unset means one per core. "
                    "Small programs are folded in-process whatever this says.")

    serve_fold_workers: int = Field(
        default=0, ge=0, le=64,
        description="Fold processes per API worker: its writes are folded there, each "
                    "owning a share of the members, and present-state reads are answered "
                    "from them; 0 folds in the API worker itself. See docs/benchmarks.md.")

    host: str = Field(default="127.0.0.1", description="Address `plaudit serve` listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `plaudit serve` uses.")
    workers: int = Field(default=1, ge=1, le=64, description="API worker processes.")
    threads: int | None = Field(
        default=None, ge=1, le=256,
        description="Threads per API worker for database work and folds; unset means 1 on "
                    "SQLite (folds are CPU-bound: more threads only queue on the GIL) and 4 "
                    "on PostgreSQL (its network waits release the GIL).")

    @property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'plaudit.db').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")
