"""Shared fixtures: a real store on SQLite always, and on PostgreSQL when configured.

PostgreSQL tests use ``PLAUDIT_TEST_DATABASE_URL`` (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets its own schema, so
tests never see each other's rows. Without the variable they are skipped with a visible
reason — unless ``PLAUDIT_REQUIRE_POSTGRES=1`` (set by CI), which turns the skip into a
failure so CI always tests both databases.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import NoReturn, TypeVar

import orjson
import pytest

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.domain.calendar import to_us
from plaudit.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PG_ENV = "PLAUDIT_TEST_DATABASE_URL"
T = TypeVar("T")


def unavailable(reason: str, required_by: str) -> NoReturn:
    """Skip the test for a missing service, with ``reason`` — or fail it when the
    environment variable ``required_by`` is ``1`` (CI sets them: a skip there would hide
    that a backend went untested)."""
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{reason}, but {required_by}=1")
    pytest.skip(reason)


def _pg_base_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        unavailable(f"PostgreSQL not configured: set {PG_ENV} to run this test",
                    "PLAUDIT_REQUIRE_POSTGRES")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections use a fresh, private schema."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = _pg_base_url()
    assert base is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as e:
        unavailable(f"PostgreSQL at {PG_ENV} is unreachable: {e}", "PLAUDIT_REQUIRE_POSTGRES")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'plaudit.db').as_posix()}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = SqlStore(store_url)
    yield s
    s.close()


BILLION_LAUGHS = "\n".join(
    ["program: {id: lol, name: lol}", "a: &a [" + ",".join(['"lol"'] * 9) + "]"]
    + [f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]"
       for a, b in zip("abcdefgh", "bcdefghi", strict=True)]) + "\n"
"""Nine levels of nine aliases: ~350 bytes that expand to 9**9 (387 million) strings."""


HANG = 30.0
"""Seconds after which :func:`within` calls a run hung. A hang guard, not a speed test
(benchmarks measure speed): the inputs it guards ran for minutes or for ever before they
were refused, and a busy 2-core machine must not fail a refusal that took 3 s."""


def within(seconds: float, fn: Callable[[], T]) -> T:
    """``fn()``, failing the test if it takes longer than ``seconds`` (it runs on a daemon
    thread, so a hang fails this test instead of stalling the suite)."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as e:
            failure.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"did not finish within {seconds} s")
    if failure:
        raise failure[0]
    return result[0]


def synthetic_file(path: Path, members: int, days: int, *, start: date, seed: int) -> Path:
    """A seeded synthetic program (``plaudit.synthetic``) as a JSON Lines file at ``path``."""
    with path.open("wb") as f:
        for e in generate(members, days, start=start, seed=seed):
            f.write(orjson.dumps(e) + b"\n")
    return path


NOW = to_us(__import__("datetime").datetime.fromisoformat("2026-11-22T12:00:00+00:00"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def sesame_text() -> str:
    return (EXAMPLES / "sesame-style.yaml").read_text(encoding="utf-8")


@pytest.fixture
def service(store: SqlStore, clock: FixedClock, sesame_text: str) -> Plaudit:
    svc = Plaudit(store, clock)
    svc.publish_rulebook(sesame_text, "sesame-style.yaml", actor="test")
    return svc
