"""A real server on loopback, 50 clients at once, on SQLite and PostgreSQL.

The server is `plaudit serve` (uvicorn) in its own process, as in production; the clients
are 50 threads released together by a barrier. With one worker, group commit already
merges requests that arrive together; with four worker processes, each with its own
group commit and fold cache, the database alone decides who stores what; with one worker
and two fold processes (PLAUDIT_SERVE_FOLD_WORKERS), the folds and the present-state reads
happen in the processes that own the members.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit

from ..conftest import EXAMPLES
from ..live_server import live_server

CLIENTS = 50


@dataclass
class Server:
    url: str
    token: str


@pytest.fixture
def server(store_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    workers, fold_workers = getattr(request, "param", (1, 0))
    store = SqlStore(store_url)
    svc = Plaudit(store, SystemClock())
    svc.publish_rulebook((EXAMPLES / "sesame-style.yaml").read_text(), "sesame-style.yaml",
                         actor="test")
    token = svc.access.create_key("load", ["ingest", "read"], actor="test").token
    store.close()
    with live_server(store_url, tmp_path, workers,
                     env={"PLAUDIT_SERVE_FOLD_WORKERS": str(fold_workers)}) as base:
        yield Server(base, token)


WORKERS = pytest.mark.parametrize("server", [(1, 0), (4, 0), (1, 2)], indirect=True,
                                  ids=["1 worker", "4 workers", "2 fold workers"])


def _together(n: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            results[i] = work(client, i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _events(ids: range, member: str = "m-1") -> list[dict[str, Any]]:
    return [{"id": f"e-{i}", "member": member, "type": "purchase",
             "at": f"2026-11-01T10:{i // 60:02d}:{i % 60:02d}+08:00",
             "attributes": {"amount": "10", "category": "other", "order_id": f"o-{i}"}}
            for i in ids]


@WORKERS
def test_fifty_clients_posting_the_same_events_store_each_once(server: Server) -> None:
    batch = {"events": _events(range(20))}
    headers = {"Authorization": f"Bearer {server.token}"}

    def post(client: httpx.Client, _: int) -> httpx.Response:
        return client.post(f"{server.url}/v1/events", json=batch, headers=headers)

    responses = _together(CLIENTS, post)
    assert {r.status_code for r in responses} <= {200, 201}, [r.text for r in responses]
    stored: dict[str, int] = {}
    for r in responses:
        for item in r.json()["items"]:
            stored[item["id"]] = stored.get(item["id"], 0) + (item["status"] == "stored")
    assert stored == {f"e-{i}": 1 for i in range(20)}
    state = httpx.get(f"{server.url}/v1/members/m-1", headers=headers).json()
    assert state["events"] == 20
    assert state["points"]["balance"] == 200


@WORKERS
def test_fifty_clients_posting_different_events_for_one_member_lose_none(
        server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}

    def post(client: httpx.Client, i: int) -> httpx.Response:
        # each client sends 3 events; times interleave, so many arrive late
        body = {"events": _events(range(i, i + 3 * CLIENTS, CLIENTS))}
        return client.post(f"{server.url}/v1/events", json=body, headers=headers)

    responses = _together(CLIENTS, post)
    assert [r.status_code for r in responses] == [201] * CLIENTS
    state = httpx.get(f"{server.url}/v1/members/m-1", headers=headers,
                      params={"history": "true"}).json()
    assert state["events"] == 3 * CLIENTS
    assert state["points"]["balance"] == 10 * 3 * CLIENTS
    assert [a["event"] for a in state["awards"]] == [f"e-{i}" for i in range(3 * CLIENTS)]


@WORKERS
def test_bad_requests_among_good_ones_fail_alone(server: Server) -> None:
    """Requests arriving together are written in one transaction when they all succeed;
    a refused one (a reused id, an overspend) must fail alone, with its own item numbers,
    and take nothing of its neighbours with it."""
    headers = {"Authorization": f"Bearer {server.token}"}
    first = httpx.post(f"{server.url}/v1/events", json={"events": _events(range(1))},
                       headers=headers)
    assert first.status_code == 201

    def own(i: int, n: int) -> list[dict[str, Any]]:
        return [{**e, "id": f"g{i}-{k}"} for k, e in enumerate(_events(range(n), f"g-{i}"))]

    def body(i: int) -> dict[str, Any]:
        if i % 10 == 3:  # e-0 again with another body (another member): 409
            return {"events": [*own(i, 1), _events(range(1), f"g-{i}")[0]]}
        if i % 10 == 7:  # more points than the member has: 422
            return {"events": [*own(i, 1),
                               {"id": f"s-{i}", "member": f"g-{i}", "type": "plaudit.spend",
                                "at": "2026-11-02T10:00:00+08:00",
                                "attributes": {"points": 10**6}}]}
        return {"events": own(i, 2)}

    def post(client: httpx.Client, i: int) -> httpx.Response:
        return client.post(f"{server.url}/v1/events", json=body(i), headers=headers)

    responses = _together(CLIENTS, post)
    for i, r in enumerate(responses):
        state = httpx.get(f"{server.url}/v1/members/g-{i}", headers=headers)
        if i % 10 in (3, 7):
            assert r.status_code == (409 if i % 10 == 3 else 422), r.text
            assert [e["where"] for e in r.json()["errors"]] == ["item 1"], r.text
            assert state.status_code == 404  # nothing of the request was stored
        else:
            assert r.status_code == 201, r.text
            assert state.json()["events"] == 2
