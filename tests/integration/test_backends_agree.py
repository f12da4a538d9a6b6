"""SQLite and PostgreSQL give byte-identical member states for the same events."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.domain.state import to_dict
from plaudit.synthetic import generate, member_id


def test_sqlite_and_postgresql_agree(pg_url: str, tmp_path: Path, clock: FixedClock,
                                     sesame_text: str) -> None:
    path = tmp_path / "events.jsonl"
    with path.open("wb") as f:
        for e in generate(30, 200, start=date(2026, 1, 1), seed=11):
            f.write(orjson.dumps(e) + b"\n")
    states = []
    for url in (f"sqlite:///{tmp_path / 'a.db'}", pg_url):
        store = SqlStore(url)
        svc = Plaudit(store, clock)
        svc.publish_rulebook(sesame_text, actor="test")
        assert svc.ingest_file(path, batch_size=700).ok
        states.append([orjson.dumps(to_dict(svc.member_state(member_id(i))))
                       for i in range(1, 31)])
        store.close()
    assert states[0] == states[1]
