"""The SQL store: one implementation for SQLite and PostgreSQL.

Concurrency is the database's job, never an in-process lock's:

* SQLite: write transactions start with ``BEGIN IMMEDIATE``, so writers queue on the
  database lock (WAL keeps readers unblocked) and a fold never races another writer;
* PostgreSQL: a write locks the rows of the members it touches (``SELECT … FOR UPDATE`` in
  member order, so two writers cannot deadlock), and event ids are inserted in id order.

Bulk paths go through the driver (``exec_driver_sql`` with tuples): SQLAlchemy's
dict-per-row ``insert()`` is ~3× slower there. Driver errors are translated at this
boundary into :class:`~plaudit.domain.errors.StoreError`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    create_engine,
    event,
    false,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import QueuePool

from plaudit.adapters.sql import tables as t
from plaudit.application.ports import (
    AuditRow,
    CheckRow,
    DisputeRow,
    DraftRow,
    EntryRow,
    EventRow,
    JobRow,
    KeyRow,
    RulebookRow,
    SnapshotRow,
    StateRow,
    StoredEvent,
    TombstoneRow,
)
from plaudit.domain.errors import StoreError

DAY_US = 86_400_000_000
_CHUNK = 500  # parameters per statement: below SQLite's oldest limit (999) and PostgreSQL's

ERASURE_STEPS: tuple[tuple[str, str], ...] = (
    ("leaderboard_entries", "DELETE FROM leaderboard_entries WHERE member_no = :no"),
    # the member's own grants, and other members' grants naming them (re-folded after)
    ("friendships", "DELETE FROM friendships WHERE member_no = :no OR friend_id = :id"),
    ("member_states", "DELETE FROM member_states WHERE member_no = :no"),
    ("fold_snapshots", "DELETE FROM fold_snapshots WHERE member_no = :no"),
    ("partner_checks", "DELETE FROM partner_checks WHERE member_no = :no"),
    # before events: a dispute names its event (operators' decision texts go with it)
    ("disputes", "DELETE FROM disputes WHERE member_no = :no"),
    ("events", "DELETE FROM events WHERE member_no = :no"),
    ("api_keys", "DELETE FROM api_keys WHERE kind = 'member' AND member_id = :id"),
    ("members", "DELETE FROM members WHERE member_no = :no"),
)
"""An erasure, one table a step (``:no`` the member_no, ``:id`` the member id), in an
order the foreign keys allow: a new table that holds member rows adds one line here,
before ``members``. tests/integration/test_erasure.py reads every table afterwards."""
_MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, sqlite_cache_mb: int = 64) -> Engine:
    """An engine with plaudit's connection settings (WAL and explicit BEGINs on SQLite;
    each SQLite connection caches up to ``sqlite_cache_mb`` of database pages, memory a
    process holds once the database is larger than that)."""
    if url.startswith("sqlite"):
        # A pool of open connections: opening one and running the PRAGMAs costs ~0.4 ms,
        # more than a whole single-event write. Connections move between threads only
        # through the pool, one user at a time, hence check_same_thread=False.
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False},
                               poolclass=QueuePool, pool_size=8, max_overflow=56,
                               pool_timeout=60)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute(f"PRAGMA cache_size=-{int(sqlite_cache_mb) * 1024}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            mode = "IMMEDIATE" if conn.get_execution_options().get("plaudit_write") else ""
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class SqlTransaction:
    """A :class:`~plaudit.application.ports.Transaction` on one connection."""

    def __init__(self, conn: Connection, write: bool) -> None:
        self.conn = conn
        self.write = write
        self.postgres = conn.dialect.name == "postgresql"
        self.p = "%s" if self.postgres else "?"

    # -- members -----------------------------------------------------------------------

    def ensure_members(self, member_ids: Sequence[str], now_us: int
                       ) -> tuple[dict[str, int], set[str]]:
        ids = sorted(set(member_ids))
        found = self._member_nos(ids)
        missing = [m for m in ids if m not in found]
        created: set[str] = set()
        if missing:
            p = self.p
            self.conn.exec_driver_sql(
                f"INSERT INTO members (member_id, created_us) VALUES ({p}, {p}) "
                "ON CONFLICT (member_id) DO NOTHING",
                [(m, now_us) for m in missing])
            fresh = self._member_nos(missing)
            found.update(fresh)
            created = set(fresh)
        self.lock_members(list(found.values()))
        return found, created

    def lock_members(self, member_nos: Sequence[int]) -> None:
        # SQLite: BEGIN IMMEDIATE already holds the one write lock. PostgreSQL: row locks,
        # always taken in member_no order, so writers of overlapping members cannot
        # deadlock, and a writer that waited reads what the other committed.
        if self.postgres and member_nos:
            for chunk in _chunks(sorted(member_nos)):
                self.conn.exec_driver_sql(
                    "SELECT member_no FROM members WHERE member_no = ANY(%s) "
                    "ORDER BY member_no FOR UPDATE", (list(chunk),)).fetchall()

    def _member_nos(self, ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(ids):
            rows = self.conn.exec_driver_sql(
                f"SELECT member_id, member_no FROM members WHERE member_id IN "
                f"({', '.join([self.p] * len(chunk))})", tuple(chunk))
            found.update({r[0]: r[1] for r in rows})
        return found

    def member_no(self, member_id: str) -> int | None:
        return self._member_nos([member_id]).get(member_id)

    def member_nos(self, member_ids: Sequence[str]) -> dict[str, int]:
        return self._member_nos(sorted(set(member_ids)))

    def _members(self, behind: int | None, *columns: Any) -> Select[Any]:
        query = select(*columns).select_from(t.members)
        if behind is not None:
            states = t.member_states
            query = query.outerjoin(states, states.c.member_no == t.members.c.member_no) \
                .where(or_(states.c.rulebook_version.is_(None),
                           states.c.rulebook_version != behind, states.c.consents.is_(None)))
        return query

    def granted_partners(self, member_id: str) -> frozenset[str] | None:
        row = self.conn.exec_driver_sql(
            "SELECT s.consents FROM members m JOIN member_states s ON s.member_no = m.member_no "
            f"WHERE m.member_id = {self.p}", (member_id,)).first()
        if row is None:
            return frozenset()
        return frozenset(row[0].split()) if row[0] is not None else None

    def count_members(self, behind: int | None = None) -> int:
        return int(self.conn.execute(self._members(behind, func.count())).scalar_one())

    def member_ids(self, after_no: int, limit: int, behind: int | None = None
                   ) -> list[tuple[int, str]]:
        rows = self.conn.execute(
            self._members(behind, t.members.c.member_no, t.members.c.member_id)
            .where(t.members.c.member_no > after_no)
            .order_by(t.members.c.member_no).limit(limit))
        return [(r[0], r[1]) for r in rows]

    # -- events ------------------------------------------------------------------------

    def insert_events(self, rows: Sequence[EventRow]) -> int:
        if not rows:
            return 0
        p = self.p
        ordered = sorted(rows, key=lambda r: r.event_id)
        result = self.conn.exec_driver_sql(
            "INSERT INTO events (event_id, member_no, type, at_us, at, attributes) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}) ON CONFLICT (event_id) DO NOTHING",
            [tuple(r) for r in ordered])
        return int(result.rowcount)

    def stored_events(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        found: dict[str, StoredEvent] = {}
        for chunk in _chunks(list(event_ids)):
            rows = self.conn.exec_driver_sql(
                "SELECT e.event_id, m.member_id, e.type, e.at_us, e.at, e.attributes "
                "FROM events e JOIN members m ON m.member_no = e.member_no "
                f"WHERE e.event_id IN ({', '.join([self.p] * len(chunk))})", tuple(chunk))
            found.update({r[0]: StoredEvent(*r) for r in rows})
        return found

    def member_events(self, member_no: int, until_us: int | None = None, *,
                      excluded: bool = False) -> list[StoredEvent]:
        e, m = t.events, t.members
        query = (select(e.c.event_id, m.c.member_id, e.c.type, e.c.at_us, e.c.at,
                        e.c.attributes)
                 .join(m, m.c.member_no == e.c.member_no)
                 .where(e.c.member_no == member_no))
        if not excluded:
            query = query.where(e.c.excluded == false())
        if until_us is not None:
            query = query.where(e.c.at_us <= until_us)
        return [StoredEvent(*r) for r in self.conn.execute(query.order_by(e.c.at_us))]

    def events_of_members(self, member_nos: Sequence[int]) -> list[tuple[int, StoredEvent]]:
        e, m = t.events, t.members
        out: list[tuple[int, StoredEvent]] = []
        for chunk in _chunks(list(member_nos)):
            rows = self.conn.execute(
                select(e.c.member_no, e.c.event_id, m.c.member_id, e.c.type, e.c.at_us,
                       e.c.at, e.c.attributes)
                .join(m, m.c.member_no == e.c.member_no)
                .where(e.c.member_no.in_(chunk), e.c.excluded == false()))
            out.extend((r[0], StoredEvent(*r[1:])) for r in rows)
        return out

    def count_events(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.events)).scalar_one())

    # -- derived state -----------------------------------------------------------------

    def states(self, member_nos: Sequence[int]) -> dict[int, StateRow]:
        found: dict[int, StateRow] = {}
        for chunk in _chunks(list(member_nos)):
            rows = self.conn.exec_driver_sql(
                "SELECT member_no, rulebook_version, position, last_at_us, last_event_id, "
                "balance, score, band, tier, consents, revision FROM member_states "
                "WHERE member_no IN "
                f"({', '.join([self.p] * len(chunk))})", tuple(chunk))
            found.update({r[0]: StateRow(*r) for r in rows})
        return found

    def put_states(self, rows: Sequence[StateRow], now_us: int) -> None:
        if not rows:
            return
        p = self.p
        self.conn.exec_driver_sql(
            "INSERT INTO member_states (member_no, rulebook_version, position, last_at_us, "
            "last_event_id, balance, score, band, tier, consents, updated_us) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) "
            "ON CONFLICT (member_no) DO UPDATE SET rulebook_version = excluded.rulebook_version, "
            "position = excluded.position, last_at_us = excluded.last_at_us, "
            "last_event_id = excluded.last_event_id, balance = excluded.balance, "
            "score = excluded.score, band = excluded.band, tier = excluded.tier, "
            "consents = excluded.consents, updated_us = excluded.updated_us",
            [(*r[:10], now_us) for r in rows])  # not the revision: bump_revisions

    def member_tail(self, member_no: int, from_us: int, until_us: int | None = None
                    ) -> tuple[int, list[StoredEvent]]:
        e, m = t.events, t.members
        before = self.conn.execute(
            select(func.count()).select_from(e)
            .where(e.c.member_no == member_no, e.c.excluded == false(), e.c.at_us < from_us)
        ).scalar_one()
        query = (select(e.c.event_id, m.c.member_id, e.c.type, e.c.at_us, e.c.at,
                        e.c.attributes)
                 .join(m, m.c.member_no == e.c.member_no)
                 .where(e.c.member_no == member_no, e.c.excluded == false(),
                        e.c.at_us >= from_us))
        if until_us is not None:
            query = query.where(e.c.at_us <= until_us)
        return int(before), [StoredEvent(*r) for r in self.conn.execute(
            query.order_by(e.c.at_us))]

    def member_tails(self, from_us: Mapping[int, int]
                     ) -> dict[int, tuple[int, list[StoredEvent]]]:
        found: dict[int, tuple[int, list[StoredEvent]]] = {
            no: (0, []) for no in from_us}
        p = self.p
        for chunk in _chunks(list(from_us.items()), per_item=2):
            # each member's own lower bound: a VALUES list joined on the (member, time) index
            want = ("WITH want(no, since) AS (VALUES "
                    + ", ".join([f"(CAST({p} AS BIGINT), CAST({p} AS BIGINT))"] * len(chunk))
                    + ") ")
            args = tuple(x for pair in chunk for x in pair)
            for no, count in self.conn.exec_driver_sql(
                    want + "SELECT e.member_no, count(*) FROM want JOIN events e ON "
                    "e.member_no = want.no AND e.at_us < want.since "
                    "WHERE NOT e.excluded GROUP BY e.member_no", args):
                found[no] = (int(count), found[no][1])
            for row in self.conn.exec_driver_sql(
                    want + "SELECT e.member_no, e.event_id, m.member_id, e.type, e.at_us, "
                    "e.at, e.attributes FROM want JOIN events e ON e.member_no = want.no "
                    "AND e.at_us >= want.since JOIN members m ON m.member_no = e.member_no "
                    "WHERE NOT e.excluded", args):
                found[row[0]][1].append(StoredEvent(*row[1:]))
        return found

    def snapshots(self, member_nos: Sequence[int]) -> dict[int, SnapshotRow]:
        found: dict[int, SnapshotRow] = {}
        for chunk in _chunks(list(member_nos)):
            rows = self.conn.exec_driver_sql(
                "SELECT member_no, rulebook_version, position, last_at_us, last_event_id, "
                "revision, body FROM fold_snapshots WHERE member_no IN "
                f"({', '.join([self.p] * len(chunk))})", tuple(chunk))
            found.update({r[0]: SnapshotRow(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]))
                          for r in rows})
        return found

    def put_snapshots(self, rows: Sequence[SnapshotRow]) -> None:
        if not rows:
            return
        p = self.p
        self.conn.exec_driver_sql(
            "INSERT INTO fold_snapshots (member_no, rulebook_version, position, last_at_us, "
            f"last_event_id, revision, body) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) "
            "ON CONFLICT (member_no) DO UPDATE SET "
            "rulebook_version = excluded.rulebook_version, position = excluded.position, "
            "last_at_us = excluded.last_at_us, last_event_id = excluded.last_event_id, "
            "revision = excluded.revision, body = excluded.body",
            [tuple(r) for r in sorted(rows)])  # member order: writers cannot deadlock

    def drop_snapshots(self, member_nos: Sequence[int]) -> None:
        s = t.fold_snapshots
        for chunk in _chunks(sorted(set(member_nos))):
            self.conn.execute(s.delete().where(s.c.member_no.in_(chunk)))

    def count_snapshots(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.fold_snapshots))
                   .scalar_one())

    def state_summary(self) -> dict[str, object]:
        s = t.member_states
        row = self.conn.execute(select(func.count(), func.avg(s.c.score), func.sum(s.c.balance),
                                       func.min(s.c.score), func.max(s.c.score))).one()
        bands = self.conn.execute(select(s.c.band, func.count()).group_by(s.c.band)).all()
        tiers = self.conn.execute(select(s.c.tier, func.count()).group_by(s.c.tier)).all()
        return {
            "members": row[0], "average_score": float(row[1]) if row[1] is not None else None,
            "points_outstanding": int(row[2] or 0), "min_score": row[3], "max_score": row[4],
            "bands": {b: n for b, n in bands if b is not None},
            "tiers": {tr: n for tr, n in tiers if tr is not None},
        }

    def events_per_day(self, since_us: int, offset_us: int = 0) -> dict[int, int]:
        # integer division of non-negative BIGINTs is the same on both databases; the two
        # constants are ints formatted here, never input text
        rows = self.conn.exec_driver_sql(
            f"SELECT (at_us + {int(offset_us)}) / {DAY_US}, count(*) FROM events "
            f"WHERE at_us >= {self.p} GROUP BY 1", (since_us,))
        return {int(day): int(n) for day, n in rows}

    def score_histogram(self, low: int, width: int) -> dict[int, int]:
        if width < 1:
            raise ValueError("width must be at least 1")
        rows = self.conn.exec_driver_sql(
            f"SELECT (score - {int(low)}) / {int(width)}, count(*) FROM member_states "
            f"WHERE score IS NOT NULL AND score >= {int(low)} GROUP BY 1")
        return {int(bucket): int(n) for bucket, n in rows}

    # -- rulebooks ---------------------------------------------------------------------

    def _rulebook_rows(self, *where: Any) -> list[RulebookRow]:
        r = t.rulebooks
        rows = self.conn.execute(
            select(r.c.version, r.c.program_id, r.c.digest, r.c.source, r.c.published_us,
                   r.c.published_by)
            .where(*where).order_by(r.c.version))
        return [RulebookRow(*row) for row in rows]

    def current_version(self) -> int | None:
        version = self.conn.exec_driver_sql("SELECT max(version) FROM rulebooks").scalar_one()
        return int(version) if version is not None else None

    def current_rulebook(self) -> RulebookRow | None:
        newest = self.conn.execute(select(func.max(t.rulebooks.c.version))).scalar_one()
        return self.rulebook(newest) if newest is not None else None

    def rulebook(self, version: int) -> RulebookRow | None:
        rows = self._rulebook_rows(t.rulebooks.c.version == version)
        return rows[0] if rows else None

    def rulebooks(self) -> list[RulebookRow]:
        return self._rulebook_rows()

    def lock_rulebooks(self) -> None:
        # SQLite: BEGIN IMMEDIATE already admits one writer at a time. PostgreSQL: this
        # mode conflicts with itself and with writes, not with reads.
        if self.postgres:
            self.conn.exec_driver_sql("LOCK TABLE rulebooks IN SHARE ROW EXCLUSIVE MODE")

    def add_rulebook(self, program_id: str, digest: str, source: str, now_us: int,
                     published_by: str | None = None) -> int:
        newest = self.conn.execute(select(func.max(t.rulebooks.c.version))).scalar_one()
        version = (newest or 0) + 1
        self.conn.execute(t.rulebooks.insert().values(
            version=version, program_id=program_id, digest=digest, source=source,
            published_us=now_us, published_by=published_by))
        return version


    # -- reward stock -------------------------------------------------------------------

    def change_stock(self, reward_id: str, delta: int, stock: int | None) -> bool:
        p = self.p
        self.conn.exec_driver_sql(
            f"INSERT INTO reward_stock (reward_id, redeemed) VALUES ({p}, 0) "
            "ON CONFLICT (reward_id) DO NOTHING", (reward_id,))
        if delta > 0 and stock is not None:
            result = self.conn.exec_driver_sql(
                f"UPDATE reward_stock SET redeemed = redeemed + {p} "
                f"WHERE reward_id = {p} AND redeemed + {p} <= {p}",
                (delta, reward_id, delta, stock))
        else:
            result = self.conn.exec_driver_sql(
                f"UPDATE reward_stock SET redeemed = redeemed + {p} "
                f"WHERE reward_id = {p} AND redeemed + {p} >= 0",
                (delta, reward_id, delta))
        return bool(result.rowcount)

    def redeemed(self, reward_ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(list(reward_ids)):
            rows = self.conn.exec_driver_sql(
                "SELECT reward_id, redeemed FROM reward_stock WHERE reward_id IN "
                f"({', '.join([self.p] * len(chunk))})", tuple(chunk))
            found.update({r[0]: int(r[1]) for r in rows})
        return found
    # -- leaderboards ------------------------------------------------------------------

    def put_entries(self, rows: Sequence[EntryRow]) -> None:
        if not rows:
            return
        p = self.p
        self.conn.exec_driver_sql(
            "INSERT INTO leaderboard_entries (member_no, board, period, sort_key, value, "
            f"reached_at_us, pseudonym, tag) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) "
            "ON CONFLICT (member_no, board, period) DO UPDATE SET "
            "sort_key = excluded.sort_key, value = excluded.value, "
            "reached_at_us = excluded.reached_at_us, pseudonym = excluded.pseudonym, "
            "tag = excluded.tag",
            [tuple(r) for r in sorted(rows)])

    def drop_entries(self, pairs: Sequence[tuple[int, str]]) -> None:
        if pairs:
            p = self.p
            self.conn.exec_driver_sql(
                f"DELETE FROM leaderboard_entries WHERE member_no = {p} AND board = {p}",
                sorted(pairs))

    def rename_entries(self, rows: Sequence[tuple[int, str, int]]) -> None:
        if rows:
            p = self.p
            self.conn.exec_driver_sql(
                f"UPDATE leaderboard_entries SET pseudonym = {p}, tag = {p} "
                f"WHERE member_no = {p}", [(name, tag, no) for no, name, tag in sorted(rows)])

    def drop_boards(self, keep: Sequence[str]) -> None:
        e = t.leaderboard_entries
        self.conn.execute(e.delete().where(e.c.board.not_in(list(keep))))

    def put_friends(self, rows: Sequence[tuple[int, Sequence[str]]]) -> None:
        if not rows:
            return
        p = self.p
        self.conn.exec_driver_sql(f"DELETE FROM friendships WHERE member_no = {p}",
                                  [(no,) for no, _ in sorted(rows)])
        pairs = [(no, f) for no, friends in sorted(rows) for f in friends]
        if pairs:
            self.conn.exec_driver_sql(
                f"INSERT INTO friendships (member_no, friend_id) VALUES ({p}, {p})", pairs)

    def friends_of(self, member_no: int) -> tuple[str, ...]:
        rows = self.conn.exec_driver_sql(
            f"SELECT friend_id FROM friendships WHERE member_no = {self.p}", (member_no,))
        return tuple(sorted(r[0] for r in rows))  # sorted in Python: no collation

    _ENTRY = ("member_no, board, period, sort_key, value, reached_at_us, pseudonym, tag")
    _ORDER = "ORDER BY sort_key, reached_at_us, tag, member_no"

    def top_entries(self, board: str, period: str, limit: int) -> list[EntryRow]:
        p = self.p
        rows = self.conn.exec_driver_sql(
            f"SELECT {self._ENTRY} FROM leaderboard_entries WHERE board = {p} AND "
            f"period = {p} {self._ORDER} LIMIT {p}", (board, period, limit))
        return [EntryRow(*r) for r in rows]

    def entry(self, board: str, period: str, member_no: int) -> EntryRow | None:
        p = self.p
        row = self.conn.exec_driver_sql(
            f"SELECT {self._ENTRY} FROM leaderboard_entries WHERE member_no = {p} AND "
            f"board = {p} AND period = {p}", (member_no, board, period)).first()
        return EntryRow(*row) if row is not None else None

    def rank(self, entry: EntryRow) -> int:
        # A row-value comparison is one range of the ranking index on both databases.
        p = self.p
        above = self.conn.exec_driver_sql(
            f"SELECT count(*) FROM leaderboard_entries WHERE board = {p} AND period = {p} "
            f"AND (sort_key, reached_at_us, tag, member_no) < ({p}, {p}, {p}, {p})",
            (entry.board, entry.period, entry.sort_key, entry.reached_at_us, entry.tag,
             entry.member_no)).scalar_one()
        return int(above) + 1

    def count_entries(self, board: str, period: str) -> int:
        p = self.p
        return int(self.conn.exec_driver_sql(
            f"SELECT count(*) FROM leaderboard_entries WHERE board = {p} AND period = {p}",
            (board, period)).scalar_one())

    def friend_entries(self, board: str, period: str, member_no: int, member_id: str
                       ) -> list[EntryRow]:
        p = self.p
        columns = ", ".join(f"e.{c.strip()}" for c in self._ENTRY.split(","))
        rows = self.conn.exec_driver_sql(
            f"SELECT {columns} FROM friendships mine "
            "JOIN members m ON m.member_id = mine.friend_id "
            "JOIN friendships theirs ON theirs.member_no = m.member_no "
            f"AND theirs.friend_id = {p} "
            "JOIN leaderboard_entries e ON e.member_no = m.member_no "
            f"AND e.board = {p} AND e.period = {p} "
            f"WHERE mine.member_no = {p} "
            "ORDER BY e.sort_key, e.reached_at_us, e.tag, e.member_no",
            (member_id, board, period, member_no))
        return [EntryRow(*r) for r in rows]

    # -- the audit log (application/audit.py) -------------------------------------------

    def audit_ref(self, member_no: int) -> str:
        p = self.p
        row = self.conn.exec_driver_sql(
            f"SELECT audit_ref FROM members WHERE member_no = {p}", (member_no,)).first()
        if row is None:
            raise StoreError(f"no member number {member_no}")
        if row[0] is not None:
            return str(row[0])
        # PostgreSQL: a concurrent first reference waits on the row and then finds it set
        # (the WHERE is evaluated again on the committed row), so both read the same one
        self.conn.exec_driver_sql(
            f"UPDATE members SET audit_ref = {p} WHERE member_no = {p} AND audit_ref IS NULL",
            (secrets.token_hex(8), member_no))
        ref = self.conn.exec_driver_sql(
            f"SELECT audit_ref FROM members WHERE member_no = {p}", (member_no,)).scalar_one()
        return str(ref)

    def lock_audit_head(self) -> tuple[int, str]:
        # SQLite: BEGIN IMMEDIATE already admits one writer. PostgreSQL: the head row's lock,
        # held to the end of the transaction (so the entry commits with its action).
        lock = " FOR UPDATE" if self.postgres else ""
        row = self.conn.exec_driver_sql(
            f"SELECT seq, hash FROM audit_head WHERE id = 1{lock}").first()
        if row is None:
            raise StoreError("the audit log's head row is missing: the log was tampered "
                             "with (run `plaudit audit verify`)")
        return int(row[0]), str(row[1])

    def add_audit(self, row: AuditRow) -> None:
        p = self.p
        self.conn.exec_driver_sql(
            "INSERT INTO audit_log (seq, at_us, actor, action, subject, detail, prev_hash, "
            f"hash) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})", tuple(row))
        self.conn.exec_driver_sql(f"UPDATE audit_head SET seq = {p}, hash = {p} WHERE id = 1",
                                  (row.seq, row.hash))

    def audit_head(self) -> tuple[int, str] | None:
        row = self.conn.exec_driver_sql("SELECT seq, hash FROM audit_head WHERE id = 1").first()
        return (int(row[0]), str(row[1])) if row is not None else None

    _AUDIT = "seq, at_us, actor, action, subject, detail, prev_hash, hash"

    def audit_after(self, after_seq: int, limit: int) -> list[AuditRow]:
        p = self.p
        rows = self.conn.exec_driver_sql(
            f"SELECT {self._AUDIT} FROM audit_log WHERE seq > {p} ORDER BY seq LIMIT {p}",
            (after_seq, limit))
        return [AuditRow(*r) for r in rows]

    def audit_page(self, before_seq: int | None, limit: int, action: str | None
                   ) -> list[AuditRow]:
        p = self.p
        where: list[str] = []
        params: list[object] = []
        if before_seq is not None:
            where.append(f"seq < {p}")
            params.append(before_seq)
        if action is not None:
            where.append(f"action = {p}")
            params.append(action)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self.conn.exec_driver_sql(
            f"SELECT {self._AUDIT} FROM audit_log {clause}ORDER BY seq DESC LIMIT {p}",
            (*params, limit))
        return [AuditRow(*r) for r in rows]

    def member_audit(self, actions: Sequence[str], member_no: int | None
                     ) -> list[tuple[str, AuditRow]]:
        p = self.p
        marks = ", ".join([p] * len(actions))
        cols = ", ".join(f"a.{c.strip()}" for c in self._AUDIT.split(","))
        where = f" AND m.member_no = {p}" if member_no is not None else ""
        rows = self.conn.exec_driver_sql(
            f"SELECT m.member_id, {cols} FROM audit_log a JOIN members m "
            f"ON a.subject = 'member:' || m.audit_ref WHERE a.action IN ({marks}){where} "
            "ORDER BY a.seq",
            (*actions, *([member_no] if member_no is not None else [])))
        return [(r[0], AuditRow(*r[1:])) for r in rows]

    # -- partner checks -----------------------------------------------------------------

    def add_partner_check(self, member_no: int, row: CheckRow) -> None:
        self.conn.execute(t.partner_checks.insert().values(member_no=member_no,
                                                           **row._asdict()))

    def partner_checks(self, member_no: int, limit: int, before_us: int | None = None
                       ) -> list[CheckRow]:
        c = t.partner_checks.c
        q = select(c.partner, c.perk, c.at_us, c.answer, c.valid_until_us).where(
            c.member_no == member_no)
        if before_us is not None:
            q = q.where(c.at_us < before_us)
        rows = self.conn.execute(q.order_by(c.at_us.desc(), c.check_no.desc()).limit(limit))
        return [CheckRow(*r) for r in rows]

    # -- disputes (application/disputes.py) -------------------------------------------

    def _dispute_rows(self, *where: Any, order: Any = None, limit: int | None = None
                      ) -> list[DisputeRow]:
        d, e, m = t.disputes, t.events, t.members
        query = (select(d.c.dispute_no, d.c.dispute_id, d.c.member_no, m.c.member_id,
                        d.c.event_id, e.c.type, e.c.at, d.c.reason, d.c.status,
                        d.c.opened_us, d.c.decided_us, d.c.decision_reason, d.c.decided_by,
                        e.c.excluded)
                 .join(e, e.c.event_id == d.c.event_id)
                 .join(m, m.c.member_no == d.c.member_no)
                 .where(*where).order_by(order if order is not None else d.c.dispute_no))
        if limit is not None:
            query = query.limit(limit)
        return [DisputeRow._make((*r[:-1], bool(r[-1]))) for r in self.conn.execute(query)]

    def hold_rulebooks(self) -> None:
        # SQLite: BEGIN IMMEDIATE already admits one writer at a time. PostgreSQL: SHARE
        # conflicts with the publish's SHARE ROW EXCLUSIVE and its insert, not with itself.
        if self.postgres:
            self.conn.exec_driver_sql("LOCK TABLE rulebooks IN SHARE MODE")

    def add_dispute(self, dispute_id: str, member_no: int, event_id: str, reason: str,
                    opened_us: int) -> None:
        self.conn.execute(t.disputes.insert().values(
            dispute_id=dispute_id, member_no=member_no, event_id=event_id, reason=reason,
            status="open", opened_us=opened_us))

    def dispute(self, dispute_id: str) -> DisputeRow | None:
        rows = self._dispute_rows(t.disputes.c.dispute_id == dispute_id)
        return rows[0] if rows else None

    def dispute_of_event(self, event_id: str) -> DisputeRow | None:
        rows = self._dispute_rows(t.disputes.c.event_id == event_id)
        return rows[0] if rows else None

    def disputes(self, status: str | None, after_no: int, limit: int) -> list[DisputeRow]:
        d = t.disputes
        where = [d.c.dispute_no > after_no]
        if status is not None:
            where.append(d.c.status == status)
        return self._dispute_rows(*where, limit=limit)

    def member_disputes(self, member_no: int) -> list[DisputeRow]:
        return self._dispute_rows(t.disputes.c.member_no == member_no)

    def count_open_disputes(self, member_no: int | None) -> int:
        d = t.disputes
        where = [d.c.status == "open"]
        if member_no is not None:
            where.append(d.c.member_no == member_no)
        return int(self.conn.execute(select(func.count()).select_from(d).where(*where))
                   .scalar_one())

    def decide_dispute(self, dispute_no: int, status: str, decided_us: int,
                       reason: str | None, by: str) -> bool:
        d = t.disputes
        result = self.conn.execute(d.update().where(d.c.dispute_no == dispute_no,
                                                    d.c.status == "open")
                                   .values(status=status, decided_us=decided_us,
                                           decision_reason=reason, decided_by=by))
        return bool(result.rowcount)

    def set_excluded(self, event_id: str, excluded: bool) -> None:
        e = t.events
        self.conn.execute(e.update().where(e.c.event_id == event_id).values(excluded=excluded))

    def set_open_excluded(self, excluded: bool) -> None:
        e, d = t.events, t.disputes
        opened = select(d.c.event_id).where(d.c.status == "open")
        self.conn.execute(e.update().where(e.c.event_id.in_(opened),
                                           e.c.excluded != excluded)
                          .values(excluded=excluded))

    def bump_revisions(self, member_nos: Sequence[int]) -> None:
        s = t.member_states
        for chunk in _chunks(sorted(set(member_nos))):
            self.conn.execute(s.update().where(s.c.member_no.in_(chunk))
                              .values(revision=s.c.revision + 1))

    # -- member data rights -------------------------------------------------------------

    def lock_all_members(self) -> None:
        # EXCLUSIVE conflicts with the row locks every writer takes on members (and with
        # creating one), not with plain reads: writers wait, readers go on.
        if self.postgres:
            self.conn.exec_driver_sql("LOCK TABLE members IN EXCLUSIVE MODE")

    def events_naming(self, member_id: str, member_no: int) -> list[tuple[int, str, str]]:
        # A JSON value equal to the id is `"<id>"` in the canonical text (ids need no
        # escaping). LIKE's `_` matches any character: a superset, checked by the caller.
        # One pass over the events table; no index helps a search inside JSON text.
        p = self.p
        rows = self.conn.exec_driver_sql(
            "SELECT member_no, event_id, attributes FROM events "
            f"WHERE member_no <> {p} AND attributes LIKE {p}",
            (member_no, f'%"{member_id}"%'))
        return [(r[0], r[1], r[2]) for r in rows]

    def set_attributes(self, rows: Sequence[tuple[str, str]]) -> None:
        if rows:
            p = self.p
            self.conn.exec_driver_sql(f"UPDATE events SET attributes = {p} WHERE event_id = {p}",
                                      [(attrs, event_id) for event_id, attrs in sorted(rows)])

    def erase_rows(self, member_no: int, member_id: str) -> dict[str, int]:
        return {table: int(self.conn.execute(text(sql), {"no": member_no, "id": member_id})
                           .rowcount)
                for table, sql in ERASURE_STEPS}

    def add_tombstone(self, row: TombstoneRow) -> None:
        self.conn.execute(t.tombstones.insert().values(**row._asdict()))

    def member_tokens(self, member_id: str) -> list[KeyRow]:
        k = t.api_keys
        rows = self.conn.execute(select(*k.c).where(k.c.kind == "member",
                                                    k.c.member_id == member_id)
                                 .order_by(k.c.created_us, k.c.key_id))
        return [KeyRow(*r) for r in rows]

    def member_entries(self, member_no: int) -> list[EntryRow]:
        rows = self.conn.exec_driver_sql(
            f"SELECT {self._ENTRY} FROM leaderboard_entries WHERE member_no = {self.p}",
            (member_no,))
        return sorted((EntryRow(*r) for r in rows), key=lambda e: (e.board, e.period))

    # -- keys, drafts, jobs -------------------------------------------------------------

    def add_key(self, row: KeyRow) -> None:
        self.conn.execute(t.api_keys.insert().values(**row._asdict()))

    def key(self, key_id: str) -> KeyRow | None:
        row = self.conn.execute(select(*t.api_keys.c).where(
            t.api_keys.c.key_id == key_id)).first()
        return KeyRow(*row) if row is not None else None

    def keys(self, kinds: Sequence[str]) -> list[KeyRow]:
        k = t.api_keys
        rows = self.conn.execute(select(*k.c).where(k.c.kind.in_(list(kinds)))
                                 .order_by(k.c.created_us, k.c.key_id))
        return [KeyRow(*r) for r in rows]

    def revoke_key(self, key_id: str, now_us: int) -> bool:
        k = t.api_keys
        result = self.conn.execute(k.update().where(k.c.key_id == key_id,
                                                    k.c.revoked_us.is_(None))
                                   .values(revoked_us=now_us))
        if not result.rowcount:
            return False
        self.conn.execute(k.update().where(k.c.issued_by == key_id, k.c.revoked_us.is_(None))
                          .values(revoked_us=now_us))
        return True

    def add_draft(self, program_id: str, digest: str, source: str, now_us: int) -> int:
        result = self.conn.execute(t.rulebook_drafts.insert().values(
            program_id=program_id, digest=digest, source=source, created_us=now_us))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def draft(self, draft_id: int) -> DraftRow | None:
        d = t.rulebook_drafts
        row = self.conn.execute(select(*d.c).where(d.c.draft_id == draft_id)).first()
        return DraftRow(*row) if row is not None else None

    def drafts(self) -> list[DraftRow]:
        d = t.rulebook_drafts
        return [DraftRow(*r) for r in self.conn.execute(select(*d.c).order_by(d.c.draft_id))]

    def mark_draft_published(self, draft_id: int, version: int) -> None:
        d = t.rulebook_drafts
        self.conn.execute(d.update().where(d.c.draft_id == draft_id)
                          .values(published_version=version))

    def add_job(self, row: JobRow) -> None:
        self.conn.execute(t.jobs.insert().values(**row._asdict()))

    def update_job(self, job_id: str, *, status: str, done: int, total: int,
                   result: str | None, error: str | None, now_us: int) -> None:
        j = t.jobs
        self.conn.execute(j.update().where(j.c.job_id == job_id).values(
            status=status, done=done, total=total, result=result, error=error,
            updated_us=now_us))

    def job(self, job_id: str) -> JobRow | None:
        j = t.jobs
        row = self.conn.execute(select(*j.c).where(j.c.job_id == job_id)).first()
        return JobRow(*row) if row is not None else None


class SqlStore:
    """Opens transactions on an engine; the schema is migrated on construction."""

    def __init__(self, url: str, *, migrate: bool = True, sqlite_cache_mb: int = 64) -> None:
        self.url = url
        self.sqlite_cache_mb = sqlite_cache_mb
        try:
            self.engine = make_engine(url, sqlite_cache_mb)
            if migrate:
                upgrade(self.engine)
        except OperationalError as e:
            raise StoreError(f"cannot open the database at {_safe(url)}: {e.orig}") from e

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[SqlTransaction]:
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(plaudit_write=True)
                with conn.begin():
                    yield SqlTransaction(conn, write=True)
        except DBAPIError as e:
            if e.connection_invalidated or isinstance(e, OperationalError):
                raise StoreError(f"database error: {e.orig}") from e
            raise

    @contextmanager
    def read(self) -> Iterator[SqlTransaction]:
        with self.engine.connect() as conn, conn.begin():
            yield SqlTransaction(conn, write=False)

    @contextmanager
    def snapshot(self) -> Iterator[SqlTransaction]:
        # SQLite (WAL): a read transaction keeps the snapshot of its first read. PostgreSQL:
        # READ COMMITTED takes one per statement; REPEATABLE READ one per transaction.
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield SqlTransaction(conn, write=False)

    def close(self) -> None:
        self.engine.dispose()

    def opener(self) -> SqlOpener | None:
        if self.dialect == "sqlite" and self.engine.url.database in (None, "", ":memory:"):
            return None
        return SqlOpener(self.url, self.sqlite_cache_mb)


@dataclass(frozen=True)
class SqlOpener:
    """Opens the store at ``url`` again, already migrated (a fold worker's own connection)."""

    url: str
    sqlite_cache_mb: int = 64

    def __call__(self) -> SqlStore:
        return SqlStore(self.url, migrate=False, sqlite_cache_mb=self.sqlite_cache_mb)


def _chunks(items: Sequence[Any], per_item: int = 1) -> Iterator[Sequence[Any]]:
    """Slices of ``items`` of at most :data:`_CHUNK` parameters (``per_item`` each)."""
    size = max(1, _CHUNK // per_item)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return url


__all__ = ["ERASURE_STEPS", "SqlOpener", "SqlStore", "SqlTransaction", "make_engine", "upgrade"]

