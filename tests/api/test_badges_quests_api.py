"""Badge and quest reads: the member's state at an as-of time, guarded like every member read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from plaudit.domain.calendar import to_us
from plaudit.domain.state import to_dict

from .conftest import Api, purchase


def get(api: Api, path: str, token: str | None = None, **params: Any) -> Any:
    r = api.client.get(path, params=params, headers=api.as_(token or api.read))
    assert r.status_code == 200, r.text
    return r.json()


def seed(api: Api) -> None:
    """Five books purchases: the fifth earns Bookworm level 1; the three in March 2027
    complete Spring reading on the third of them (the 2026 ones are before the quest)."""
    r = api.post_events([
        purchase("b1", "m-b", at="2026-10-01T10:00:00+08:00", amount="20"),
        purchase("b2", "m-b", at="2026-10-02T10:00:00+08:00", amount="20"),
        purchase("b3", "m-b", at="2027-03-01T00:30:00+08:00", amount="20"),
        purchase("b4", "m-b", at="2027-03-15T10:00:00+08:00", amount="20"),
        purchase("b5", "m-b", at="2027-03-31T23:59:00+08:00", amount="20"),
        purchase("b6", "m-b", at="2027-04-01T00:01:00+08:00", amount="20"),
    ])
    assert r.status_code == 201, r.text


def test_badges_and_quests_are_the_states_own(api: Api) -> None:
    seed(api)
    as_of = "2027-04-02T00:00:00+08:00"
    state = to_dict(api.svc.member_state("m-b", to_us(datetime.fromisoformat(as_of)),
                                         history=False))
    canonical = orjson.loads(orjson.dumps(state))
    assert get(api, "/v1/members/m-b/badges", as_of=as_of) == canonical["badges"]
    assert get(api, "/v1/members/m-b/quests", as_of=as_of) == canonical["quests"]


def test_worked_example_over_http(api: Api) -> None:
    seed(api)
    before = get(api, "/v1/members/m-b/quests")  # the fixed clock: 22 Nov 2026
    assert before[0]["status"] == "upcoming" and before[0]["progress"] == 0
    assert before[0]["deadline"] == "2027-04-01T00:00:00+08:00"
    assert get(api, "/v1/members/m-b/badges") == []
    quests = get(api, "/v1/members/m-b/quests", as_of="2027-04-02T00:00:00+08:00")
    q = quests[0]
    assert (q["status"], q["progress"], q["event"]) == ("completed", 3, "b5")
    assert q["completed_at"] == "2027-03-31T23:59:00+08:00"
    badges = get(api, "/v1/members/m-b/badges", as_of="2027-04-02T00:00:00+08:00")
    assert [(b["id"], b["level"], b["event"]) for b in badges] == [
        ("bookworm", 1, "b5"), ("spring-reader", 1, "b5")]
    assert badges[0]["progress"] == {"value": 6, "next_level": 2, "threshold": "25"}
    mid = get(api, "/v1/members/m-b/quests", as_of="2027-03-20T00:00:00+08:00")[0]
    assert (mid["status"], mid["progress"]) == ("active", 2)
    points = get(api, "/v1/members/m-b", history="true",
                 as_of="2027-04-02T00:00:00+08:00")["awards"]
    assert [a["points"] for a in points if a["rule"] == "quest:spring-reading"] == [300]


def test_a_member_token_reads_only_its_own_badges_and_quests(api: Api) -> None:
    seed(api)
    assert api.post_events([purchase("o1", "m-other")]).status_code == 201
    token = api.token_for("m-b")
    for part in ("badges", "quests"):
        assert api.client.get(f"/v1/members/m-b/{part}",
                              headers=api.as_(token)).status_code == 200
        for other in ("m-other", "nobody"):  # the same 403, member or not
            r = api.client.get(f"/v1/members/{other}/{part}", headers=api.as_(token))
            assert r.status_code == 403, r.text
        r = api.client.get(f"/v1/members/nobody/{part}", headers=api.as_(api.read))
        assert r.status_code == 404
        r = api.client.get(f"/v1/members/m-b/{part}", headers=api.as_(api.rentals))
        assert r.status_code == 403
