"""`POST /v1/drafts/{draft_id}/backtest`: the CLI's JSON report over HTTP, for admins only,
with hostile input refused and nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from ..conftest import EXAMPLES
from .conftest import Api, purchase

STRICTER = (EXAMPLES / "sesame-style.yaml").read_text().replace(
    "when: score >= 650", "when: score >= 700")


@pytest.fixture
def draft(api: Api) -> int:
    events = [purchase(f"p{i}", f"m{i}", amount=str(40 * i), category="books")
              for i in range(1, 31)]
    assert api.post_events(events).status_code == 201
    r = api.client.post("/v1/drafts", content=STRICTER, headers=api.as_(api.admin))
    assert r.status_code == 201, r.text
    draft_id: int = r.json()["draft_id"]
    return draft_id


def backtest(api: Api, path: str, token: str | None = None, **params: Any) -> Any:
    headers = api.as_(api.admin if token is None else token)
    return api.client.post(path, params=params, headers=headers)


def test_a_draft_is_backtested_against_the_published_rulebook(api: Api, draft: int) -> None:
    r = backtest(api, f"/v1/drafts/{draft}/backtest", as_of="2026-11-02T00:00:00+08:00", top=2)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["schema"] == "plaudit.backtest/1" and report["members"] == 30
    assert report["as_of"] == "2026-11-02T00:00:00+08:00" and report["top"] == 2
    assert report["fairness"] is None
    assert report["rulebooks"]["after"]["label"] == f"draft {draft}"
    direct = api.svc.backtest_draft(draft, as_of_us=None, top=2)
    perk = next(p for p in report["perks"] if p["id"] == "deposit_free_rental")
    assert perk == next(p for p in direct["perks"] if p["id"] == "deposit_free_rental")
    # nothing was published
    assert [v["version"] for v in api.client.get(
        "/v1/rulebooks", headers=api.as_(api.read)).json()] == [1]


def test_only_admin_keys_may_backtest(api: Api, draft: int) -> None:
    path = f"/v1/drafts/{draft}/backtest"
    assert backtest(api, path, token="").status_code == 401
    for token in (api.read, api.ingest, api.backend, api.rentals):
        assert backtest(api, path, token=token).status_code == 403


@pytest.mark.parametrize(("path", "params", "status", "says"), [
    ("/v1/drafts/99/backtest", {}, 404, "no rulebook draft 99"),
    ("/v1/drafts/0/backtest", {}, 422, "draft_id"),
    ("/v1/drafts/abc/backtest", {}, 422, "draft_id"),
    ("/v1/drafts/99999999999/backtest", {}, 422, "draft_id"),
    ("/v1/drafts/{draft}/backtest", {"as_of": "yesterday"}, 422, "as_of"),
    ("/v1/drafts/{draft}/backtest", {"as_of": "2026-11-01T00:00:00"}, 422, "as_of"),
    ("/v1/drafts/{draft}/backtest", {"top": 0}, 422, "top"),
    ("/v1/drafts/{draft}/backtest", {"top": 101}, 422, "top"),
    ("/v1/drafts/{draft}/backtest", {"top": "x" * 5000}, 422, "top"),
    ("/v1/drafts/{draft}/backtest", {"cohorts": "a.csv"}, 422, "unknown query parameter"),
])
def test_hostile_input_is_refused_clearly(api: Api, draft: int, path: str,
                                          params: dict[str, Any], status: int,
                                          says: str) -> None:
    r = backtest(api, path.replace("{draft}", str(draft)), **params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert says in r.text


def test_repeated_parameters_and_a_body_are_refused_or_ignored(api: Api, draft: int) -> None:
    r = api.client.post(f"/v1/drafts/{draft}/backtest?top=1&top=2",
                        headers=api.as_(api.admin))
    assert r.status_code in (200, 422)  # either way the answer is whole, never a 500
    r = api.client.post(f"/v1/drafts/{draft}/backtest", content=b"x" * 10,
                        headers=api.as_(api.admin))
    assert r.status_code == 200  # the route reads no body
