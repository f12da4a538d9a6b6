"""Redemption against a real store: idempotent by key, never overspent, never oversold —
100 redemptions at once, directly through the store (threads, each its own engine) and
through a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plaudit.adapters.clock import FixedClock, SystemClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.domain.errors import (
    Conflict,
    EventRejected,
    InsufficientPoints,
    NotFound,
    RedemptionRefused,
)

from ..live_server import live_server
from .test_concurrency import run_together

BOOK = """
program: {id: shop, name: Shop, timezone: Europe/Berlin}
events:
  purchase:
    attributes:
      amount: {type: int, min: 0}
points:
  rules:
    - {id: spend, on: purchase, award: amount}
rewards:
  - {id: pass, label: Day pass, cost: 100, stock: 7}
  - {id: mug, label: Mug, cost: 30, limit: {max: 1, per: month}}
"""
REQUESTS = 100


def _buy(svc: Plaudit, member: str, amount: int, id_: str = "p1") -> None:
    svc.ingest_items([{"id": f"{member}-{id_}", "member": member, "type": "purchase",
                       "at": "2026-11-01T10:00:00+01:00", "attributes": {"amount": amount}}])


@pytest.fixture
def shop(store: SqlStore, clock: FixedClock) -> Plaudit:
    svc = Plaudit(store, clock)
    svc.publish_rulebook(BOOK, "shop.yaml", actor="test")
    return svc


def test_the_same_key_returns_the_first_redemption_and_spends_nothing_more(
        shop: Plaudit) -> None:
    _buy(shop, "m-1", 250)
    first, created = shop.redeem_once("m-1", "pass", "k-1")
    again, created_again = shop.redeem_once("m-1", "pass", "k-1")
    assert (created, created_again) == (True, False)
    assert again == first
    assert shop.member_state("m-1").points.balance == 150
    with pytest.raises(Conflict, match="already used to redeem `pass`"):
        shop.redeem("m-1", "mug", "k-1")
    with pytest.raises(NotFound, match="did you mean `pass`"):
        shop.redeem("m-1", "pas", "k-2")


def test_refusals_store_nothing(shop: Plaudit) -> None:
    _buy(shop, "m-1", 50)
    events = shop.summary()["events"]
    with pytest.raises((InsufficientPoints, EventRejected), match=r"costs 100 but the "
                                                                  r"balance .* is 50"):
        shop.redeem("m-1", "pass", "k-1")
    shop.redeem("m-1", "mug", "k-2")
    with pytest.raises(RedemptionRefused, match="limit reached"):
        shop.redeem("m-1", "mug", "k-3")
    assert shop.summary()["events"] == events + 1
    assert [r.reward for r in shop.member_state("m-1").redemptions] == ["mug"]


def test_cancelling_returns_points_and_stock_once(shop: Plaudit) -> None:
    _buy(shop, "m-1", 1000)
    r = shop.redeem("m-1", "pass", "k-1")
    assert _stock_left(shop) == 6
    assert isinstance(shop.clock, FixedClock)
    shop.clock.now += 1_000_000
    cancelled = shop.cancel_redemption("m-1", r.id)
    assert (cancelled.status, cancelled.returned) == ("cancelled", 100)
    assert shop.cancel_redemption("m-1", r.id) == cancelled  # again: nothing changes
    assert _stock_left(shop) == 7
    shop.clock.now += 1_000_000
    assert shop.member_state("m-1").points.balance == 1000
    with pytest.raises(NotFound):
        shop.cancel_redemption("m-1", "redeem-nope")


def _stock_left(svc: Plaudit) -> int | None:
    return next(e.stock_left for e in svc.catalogue() if e.id == "pass")


def test_a_batch_that_would_oversell_is_refused_whole(shop: Plaudit) -> None:
    for i in range(8):
        _buy(shop, f"m-{i}", 100)
    items = [{"id": f"r{i}", "member": f"m-{i}", "type": "plaudit.redeem",
              "at": "2026-11-02T10:00:00+01:00",
              "attributes": {"reward": "pass", "points": 100, "key": f"k{i}"}}
             for i in range(8)]
    with pytest.raises(RedemptionRefused, match="out of stock") as refused:
        shop.ingest_items(items)
    assert refused.value.problems[0].field == "attributes.reward"
    assert _stock_left(shop) == 7
    assert shop.member_state("m-0").points.balance == 100


def _check_outcome(svc: Plaudit, results: list[Any]) -> None:
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 7, refused[:3]
    odd = [e for e in refused if not isinstance(e, RedemptionRefused | EventRejected)]
    assert not odd, odd[:3]
    state = svc.member_state("m-rich", svc.clock.now_us() + 60_000_000)  # after the nudges
    assert state.points.balance == 1000 - 7 * 100
    assert len(state.redemptions) == 7
    assert _stock_left(svc) == 0


def test_100_concurrent_redemptions_through_the_store(shop: Plaudit, store_url: str,
                                                      clock: FixedClock) -> None:
    _buy(shop, "m-rich", 1000)  # covers 10; the stock is 7

    # four engines (as four processes would have), each shared by 25 threads with their
    # own service and fold cache: 100 engines would exceed PostgreSQL's connection limit
    stores = [SqlStore(store_url, migrate=False) for _ in range(4)]

    def work(i: int) -> Any:
        return Plaudit(stores[i % 4], clock).redeem("m-rich", "pass", f"key-{i}")

    try:
        results = run_together(REQUESTS, work)
    finally:
        for s in stores:
            s.close()
    _check_outcome(Plaudit(SqlStore(store_url, migrate=False), clock), results)


@pytest.fixture
def served(store_url: str, tmp_path: Path) -> Iterator[tuple[str, str, Plaudit]]:
    store = SqlStore(store_url)
    svc = Plaudit(store, SystemClock())
    svc.publish_rulebook(BOOK, "shop.yaml", actor="test")
    token = svc.access.create_key("ops", ["ingest", "read"], actor="test").token
    _buy(svc, "m-rich", 1000)
    with live_server(store_url, tmp_path) as base:
        yield base, token, svc
    store.close()


def test_100_concurrent_redemptions_through_a_real_server(
        served: tuple[str, str, Plaudit]) -> None:
    base, token, svc = served
    headers = {"Authorization": f"Bearer {token}"}

    def work(i: int) -> Any:
        with httpx.Client(timeout=60) as client:
            r = client.post(f"{base}/v1/members/m-rich/redemptions", headers=headers,
                            json={"reward": "pass", "key": f"key-{i}"})
        if r.status_code == 201:
            return r.json()
        assert r.status_code in (409, 422), r.text
        return RedemptionRefused([])

    results = run_together(REQUESTS, work)
    _check_outcome(svc, results)
    with httpx.Client(timeout=60) as client:
        again = client.post(f"{base}/v1/members/m-rich/redemptions", headers=headers,
                            json={"reward": "pass", "key": "key-0"})
        assert again.status_code in (200, 409)  # key-0 won (200, the first) or was refused
        assert svc.member_state("m-rich").points.balance == 300
        problem = client.post(f"{base}/v1/members/m-rich/redemptions", headers=headers,
                              json={"reward": "pass", "key": "key-new"}).json()
        assert problem["type"] == "urn:plaudit:problem:redemption-refused"
        assert "out of stock" in problem["errors"][0]["reason"]
