"""API fixtures: the real app over a real SQLite store, called in-process.

Keys are created through the service (as `plaudit keys create` does); every request sends
one of them as a bearer token. The clock is fixed at 2026-11-22T12:00Z so as-of reads and
token lifetimes are reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.entrypoints.http.app import create_app

from ..conftest import EXAMPLES, NOW


@dataclass
class Api:
    client: TestClient
    svc: Plaudit
    clock: FixedClock
    admin: str
    ingest: str
    read: str
    backend: str
    """An operator key with `read` and `ingest`, as a member app's backend holds."""
    rentals: str
    """Partner key of `city-rentals` (perk `deposit_free_rental`)."""
    hotels: str
    """Partner key of `partner-hotels` (perk `hotel_deposit_waiver`)."""

    def as_(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def post_events(self, events: Any, token: str | None = None) -> Any:
        body = events if isinstance(events, dict) else {"events": events}
        return self.client.post("/v1/events", json=body, headers=self.as_(token or self.ingest))

    def token_for(self, member: str, seconds: int = 900, issuer: str | None = None) -> str:
        r = self.client.post(f"/v1/members/{member}/tokens", json={"seconds": seconds},
                             headers=self.as_(issuer or self.backend))
        assert r.status_code == 201, r.text
        token: str = r.json()["token"]
        return token


def purchase(id_: str, member: str, at: str = "2026-11-01T10:00:00+08:00",
             amount: str = "120.50", category: str = "books") -> dict[str, Any]:
    return {"id": id_, "member": member, "type": "purchase", "at": at,
            "attributes": {"amount": amount, "category": category, "order_id": f"o-{id_}"}}


def make_api(url: str) -> tuple[Api, SqlStore]:
    store = SqlStore(url)
    clock = FixedClock(NOW)
    svc = Plaudit(store, clock)
    svc.publish_rulebook((EXAMPLES / "sesame-style.yaml").read_text(), "sesame-style.yaml",
                         actor="test")
    access = svc.access
    api = Api(
        client=TestClient(create_app(svc), raise_server_exceptions=False),
        svc=svc, clock=clock,
        admin=access.create_key("admin", ["admin"], actor="test").token,
        ingest=access.create_key("ingest", ["ingest"], actor="test").token,
        read=access.create_key("read", ["read"], actor="test").token,
        backend=access.create_key("backend", ["read", "ingest"], actor="test").token,
        rentals=access.create_partner_key("rentals", "city-rentals", actor="test").token,
        hotels=access.create_partner_key("hotels", "partner-hotels", actor="test").token,
    )
    return api, store


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    made, store = make_api(f"sqlite:///{(tmp_path / 'api.db').as_posix()}")
    yield made
    store.close()
