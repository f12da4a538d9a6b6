"""Member reads at an as-of time: state, score and its history, points, tier, perks."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import orjson

from plaudit.domain.state import to_dict

from .conftest import Api, purchase


def get(api: Api, path: str, **params: Any) -> Any:
    r = api.client.get(path, params=params, headers=api.as_(api.read))
    assert r.status_code == 200, r.text
    return r.json()


def seed(api: Api) -> None:
    api.post_events([
        purchase("e1", "m1", at="2026-06-01T10:00:00+08:00", amount="300", category="books"),
        purchase("e2", "m1", at="2026-09-01T10:00:00+08:00", amount="50", category="other"),
        {"id": "v1", "member": "m1", "type": "identity_verified",
         "at": "2026-09-02T10:00:00+08:00", "attributes": {"method": "phone"}},
    ])


def test_state_matches_the_fold_and_reads_back_in_time(api: Api) -> None:
    seed(api)
    now = get(api, "/v1/members/m1")
    assert now["events"] == 3 and now["points"]["balance"] == 600 + 50 + 100
    assert now["as_of"] == "2026-11-22T20:00:00+08:00"  # the fixed clock, program timezone
    july = get(api, "/v1/members/m1", as_of="2026-07-01T00:00:00+08:00")
    assert july["events"] == 1 and july["points"]["balance"] == 600
    assert july["awards"] is None
    assert get(api, "/v1/members/m1", history="true")["awards"][0]["rule"] == "spend"


def test_every_read_is_the_canonical_json_of_the_state(api: Api) -> None:
    """The API serialises the state with orjson directly; it must equal the domain's
    canonical form (decimals as exact strings) that replay determinism is checked on."""
    seed(api)
    state = api.svc.member_state("m1", history=True)
    canonical = orjson.loads(orjson.dumps(to_dict(state)))
    assert get(api, "/v1/members/m1", history="true") == canonical
    for part in ("score", "points", "tier", "perks", "consents"):
        assert get(api, f"/v1/members/m1/{part}") == canonical[part], part


def test_score_has_factors_and_ordered_reasons(api: Api) -> None:
    seed(api)
    score = get(api, "/v1/members/m1/score")
    assert 350 <= score["value"] <= 950
    assert score["range"] == [350, 950]
    assert {f["id"] for f in score["factors"]} >= {"identity"}
    lost = [r["points_lost"] for r in score["reasons"]]
    assert len(lost) <= 4 and lost == sorted(lost, key=float, reverse=True)
    state = get(api, "/v1/members/m1")
    assert state["score"] == score


def test_score_history_has_one_point_per_change(api: Api) -> None:
    seed(api)
    history = get(api, "/v1/members/m1/score/history", days=365)
    points = history["points"]
    assert points[0]["date"] == "2026-06-01"
    assert all(a["score"] != b["score"] or a["band"] != b["band"]
               for a, b in pairwise(points))
    assert [p["date"] for p in points] == sorted(p["date"] for p in points)
    assert points[-1]["score"] == get(api, "/v1/members/m1/score")["value"]
    short = get(api, "/v1/members/m1/score/history", days=10)["points"]
    assert short[0]["date"] == "2026-11-13"


def test_points_lots_and_expiry_schedule(api: Api) -> None:
    seed(api)
    points = get(api, "/v1/members/m1/points")
    assert [lot["remaining"] for lot in points["lots"]] == [600, 50, 100]
    assert points["expiring"][0] == {"date": "2027-06-01", "points": 600}
    later = get(api, "/v1/members/m1/points", as_of="2027-06-02T00:00:00+08:00")
    assert later["balance"] == 150 and later["expired"] == 600


def test_tier_progress_and_perks(api: Api) -> None:
    seed(api)
    tier = get(api, "/v1/members/m1/tier")
    assert tier["name"] and (tier["next"] is None or float(tier["next"]["missing"]) > 0)
    perks = get(api, "/v1/members/m1/perks")
    assert {p["id"] for p in perks} == {"deposit_free_rental", "hotel_deposit_waiver",
                                        "airport_wifi"}
    assert all(isinstance(p["eligible"], bool) for p in perks)


def test_unknown_member_and_bad_as_of(api: Api) -> None:
    r = api.client.get("/v1/members/nobody", headers=api.as_(api.read))
    assert r.status_code == 404 and r.json()["detail"] == "member `nobody` not found"
    seed(api)
    for as_of in ("2026-07-01T00:00:00", "1717200000", "0.5", "2026-07-01"):
        r = api.client.get("/v1/members/m1", params={"as_of": as_of},
                           headers=api.as_(api.read))
        assert r.status_code == 422, as_of
        assert r.json()["errors"][0]["where"] == "query"
        assert r.json()["errors"][0]["field"] == "as_of"
        assert "RFC 3339" in r.json()["errors"][0]["reason"]


def test_as_of_outside_the_supported_range_is_422_on_every_read(api: Api) -> None:
    seed(api)
    routes = ["", "/score", "/score/history", "/points", "/tier", "/perks", "/consents"]
    for as_of in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                  "1899-12-31T23:59:59Z", "9000-01-01T00:00:00Z"):
        for route in routes:
            r = api.client.get(f"/v1/members/m1{route}", params={"as_of": as_of},
                               headers=api.as_(api.read))
            assert r.status_code == 422, (route, as_of, r.text)
            error = r.json()["errors"][0]
            assert (error["where"], error["field"]) == ("query", "as_of")
            assert "1900" in error["reason"] and "9000" in error["reason"]
    r = api.client.get("/v1/members/m1", params={"as_of": "8999-12-31T23:59:59+14:00"},
                       headers=api.as_(api.read))
    assert r.status_code == 200


def test_member_tokens_have_a_bounded_lifetime(api: Api) -> None:
    seed(api)
    for seconds in (0, 86_401):
        r = api.client.post("/v1/members/m1/tokens", json={"seconds": seconds},
                            headers=api.as_(api.read))
        assert r.status_code == 422
    r = api.client.post("/v1/members/m1/tokens", headers=api.as_(api.read))
    assert r.status_code == 201
    assert r.json()["expires_at"] == "2026-11-22T12:15:00+00:00"
    r = api.client.post("/v1/members/nobody/tokens", headers=api.as_(api.read))
    assert r.status_code == 404


def test_an_unknown_query_parameter_is_refused_not_ignored(api: Api) -> None:
    """`asof` for `as_of` would otherwise be answered at now, as if it had not been sent."""
    seed(api)
    for path, query in (("/v1/members/m1", "asof=2026-07-01T00:00:00Z"),
                        ("/v1/members/m1/points", "=1"), ("/v1/rulebooks", "page=2")):
        r = api.client.get(f"{path}?{query}", headers=api.as_(api.read))
        assert r.status_code == 422, (path, r.text)
        error = r.json()["errors"][0]
        assert (error["where"], error["field"]) == ("query", query.split("=")[0])
        assert error["reason"].startswith("unknown query parameter")
        assert api.client.get(f"{path}?{query}").status_code == 401   # credentials first
    assert api.client.get("/v1/members/m1?history=true&as_of=2026-07-01T00:00:00Z",
                          headers=api.as_(api.read)).status_code == 200


def test_every_read_refuses_a_query_parameter_it_does_not_take(api: Api) -> None:
    """Every GET route (filled with ids that exist where it matters), not only a sample:
    schemathesis does not send undeclared parameters (see test_schemathesis.py)."""
    from .test_access import api_routes

    seed(api)
    values = {"member_id": "m1", "board": "good-spend-monthly", "perk_id": "airport_wifi",
              "version": "1", "draft_id": "1", "job_id": "0123456789abcdef"}
    routes = [r for r in api_routes(api.client.app)
              if "GET" in r.methods and r.path != "/healthz"]
    assert len(routes) > 20
    for route in routes:
        path = route.path
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        r = api.client.get(f"{path}?zzz=1", headers=api.as_(api.admin))
        assert r.status_code == 422, (path, r.text)
        assert r.json()["errors"][0]["field"] == "zzz", (path, r.text)
