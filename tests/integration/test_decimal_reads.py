"""A state read from this process's cache and one re-folded from stored events are the
same bytes, even when a decimal was sent with trailing zeros (``80.50``)."""

from __future__ import annotations

import orjson

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.domain.calendar import to_us
from plaudit.domain.state import to_dict

from ..conftest import EXAMPLES


def test_trailing_zeros_read_the_same_from_cache_and_from_a_fresh_process(tmp_path) -> None:
    from datetime import UTC, datetime

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    clock = FixedClock(to_us(datetime(2026, 6, 10, tzinfo=UTC)))
    first = Plaudit(SqlStore(url), clock)
    first.publish_rulebook((EXAMPLES / "sesame-style.yaml").read_text(), actor="test")
    first.ingest_items([{"id": "p1", "member": "m", "type": "purchase",
                         "at": "2026-06-01T10:00:00+08:00",
                         "attributes": {"amount": "80.50", "category": "books",
                                        "order_id": "o1"}}])
    cached = orjson.dumps(to_dict(first.member_state("m", history=False)))
    fresh = Plaudit(SqlStore(url), clock)
    refolded = orjson.dumps(to_dict(fresh.member_state("m", history=False)))
    assert cached == refolded
    assert b'"spend_12m":"80.5"' in refolded
