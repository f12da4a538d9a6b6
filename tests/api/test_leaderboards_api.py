"""The leaderboard endpoints: shapes, who may read a board, opt-in and opt-out, re-rolls,
friends; every board answer carries pseudonyms, never a member id."""

from __future__ import annotations

from typing import Any

from .conftest import Api, purchase

BOARD = "good-spend-monthly"


def seed(api: Api) -> None:
    r = api.post_events([purchase("a", "m-a", amount="30"), purchase("b", "m-b", amount="50"),
                         purchase("c", "m-c", amount="70", category="games")])
    assert r.status_code == 201, r.text


def join(api: Api, member: str, token: str | None = None) -> Any:
    return api.client.put(f"/v1/members/{member}/leaderboards/{BOARD}",
                          headers=api.as_(token or api.ingest))


def test_boards_are_listed_with_their_current_period(api: Api) -> None:
    r = api.client.get("/v1/leaderboards", headers=api.as_(api.read))
    assert r.status_code == 200
    assert r.json() == [{"id": BOARD, "label": "Good-for-you spend this month",
                         "period_kind": "month", "period": "2026-11",
                         "metric": 'sum of purchase.amount where category in ["books", '
                                   '"produce", "education"]'}]


def test_a_board_lists_only_opted_in_members_by_pseudonym(api: Api) -> None:
    seed(api)
    empty = api.client.get(f"/v1/leaderboards/{BOARD}", headers=api.as_(api.read)).json()
    assert empty["standings"] == []
    for m in ("m-a", "m-b"):
        assert join(api, m).status_code == 200
    r = api.client.get(f"/v1/leaderboards/{BOARD}", headers=api.as_(api.read))
    body = r.json()
    assert body["period"] == "2026-11" and len(body["standings"]) == 2
    assert [(s["rank"], s["value"], s["you"]) for s in body["standings"]] == [
        (1, "50", False), (2, "30", False)]
    assert "m-a" not in r.text and "m-b" not in r.text and "m-c" not in r.text


def test_any_member_token_reads_a_board_and_sees_itself_marked(api: Api) -> None:
    seed(api)
    join(api, "m-a")
    join(api, "m-b")
    outsider = api.token_for("m-c")  # not on the board, may still read it
    r = api.client.get(f"/v1/leaderboards/{BOARD}?limit=1", headers=api.as_(outsider))
    assert r.status_code == 200 and len(r.json()["standings"]) == 1
    own = api.token_for("m-a")
    rows = api.client.get(f"/v1/leaderboards/{BOARD}", headers=api.as_(own)).json()
    assert [s["you"] for s in rows["standings"]] == [False, True]
    assert api.client.get(f"/v1/leaderboards/{BOARD}",
                          headers=api.as_(api.rentals)).status_code == 403


def test_limits_and_periods_are_checked(api: Api) -> None:
    url = f"/v1/leaderboards/{BOARD}"
    h = api.as_(api.read)
    assert api.client.get(url + "?limit=101", headers=h).status_code == 422
    assert api.client.get(url + "?limit=0", headers=h).status_code == 422
    assert api.client.get(url + "?period=last-month", headers=h).status_code == 422
    wrong = api.client.get(url + "?period=2026-W07", headers=h)
    assert wrong.status_code == 404 and "periods are months" in wrong.json()["detail"]
    assert api.client.get(url + "?period=2026-10", headers=h).status_code == 200
    assert api.client.get("/v1/leaderboards/nope", headers=h).status_code == 404
    assert api.client.get(url + "?as_of=0.5", headers=h).status_code == 422
    typo = api.client.get(url + "?perod=2026-10", headers=h)
    assert typo.status_code == 422 and typo.json()["errors"][0]["field"] == "perod"
    assert api.client.get(url + "?perod=x").status_code == 401  # the credential first
    past = api.client.get(url, params={"as_of": "2026-10-05T00:00:00+08:00"}, headers=h)
    assert past.json()["period"] == "2026-10"


def test_the_member_view_join_leave_and_rank(api: Api) -> None:
    seed(api)
    token = api.token_for("m-b")
    mine = api.client.get("/v1/members/m-b/leaderboards", headers=api.as_(token)).json()
    assert set(mine) == {"member", "pseudonym", "boards", "friends"}
    assert mine["boards"] == [{"id": BOARD, "label": "Good-for-you spend this month",
                               "period": "2026-11", "value": "50", "joined": False,
                               "rank": None}]
    joined = join(api, "m-b", token)
    assert joined.status_code == 200
    assert (joined.json()["joined"], joined.json()["rank"]) == (True, 1)
    left = api.client.delete(f"/v1/members/m-b/leaderboards/{BOARD}", headers=api.as_(token))
    assert (left.json()["joined"], left.json()["rank"]) == (False, None)
    board = api.client.get(f"/v1/leaderboards/{BOARD}", headers=api.as_(api.read)).json()
    assert board["standings"] == []  # gone at once
    assert join(api, "m-b", token).json()["rank"] == 1
    assert api.client.put("/v1/members/m-b/leaderboards/nope",
                          headers=api.as_(token)).status_code == 404


def test_a_read_only_token_cannot_join(api: Api) -> None:
    seed(api)
    issued = api.client.post("/v1/members/m-a/tokens", headers=api.as_(api.read)).json()
    r = join(api, "m-a", issued["token"])
    assert r.status_code == 403


def test_pseudonym_re_roll_with_and_without_a_seed(api: Api) -> None:
    seed(api)
    join(api, "m-a")
    url = "/v1/members/m-a/pseudonym"
    first = api.client.put(url, json={"seed": 5}, headers=api.as_(api.ingest)).json()
    again = api.client.put(url, json={"seed": 5}, headers=api.as_(api.ingest)).json()
    assert set(first) == {"member", "pseudonym", "seed", "at"}
    assert first["pseudonym"] == again["pseudonym"] and first["seed"] == 5
    rolled = api.client.put(url, headers=api.as_(api.ingest))
    assert rolled.status_code == 200
    board = api.client.get(f"/v1/leaderboards/{BOARD}", headers=api.as_(api.read)).json()
    assert board["standings"][0]["pseudonym"] == rolled.json()["pseudonym"]
    bad = api.client.put(url, json={"seed": -1}, headers=api.as_(api.ingest))
    assert bad.status_code == 422
    assert api.client.put(url, json={"name": "x"}, headers=api.as_(api.ingest)
                          ).status_code == 422


def test_friends_answer_the_same_whether_the_friend_exists(api: Api) -> None:
    seed(api)
    token = api.token_for("m-a")
    real = api.client.put("/v1/members/m-a/friends/m-b", headers=api.as_(token))
    ghost = api.client.put("/v1/members/m-a/friends/m-ghost", headers=api.as_(token))
    assert real.status_code == ghost.status_code == 200
    assert set(real.json()) == set(ghost.json()) == {"member", "friend", "granted", "at"}
    me = api.client.put("/v1/members/m-a/friends/m-a", headers=api.as_(token))
    assert me.status_code == 422


def test_friends_view_needs_both_grants(api: Api) -> None:
    seed(api)
    join(api, "m-a")
    join(api, "m-b")
    url = f"/v1/members/m-a/leaderboards/{BOARD}/friends"
    a = api.token_for("m-a")
    api.client.put("/v1/members/m-a/friends/m-b", headers=api.as_(a))
    alone = api.client.get(url, headers=api.as_(a)).json()
    assert [s["you"] for s in alone["standings"]] == [True]
    api.client.put("/v1/members/m-b/friends/m-a", headers=api.as_(api.ingest))
    both = api.client.get(url, headers=api.as_(a))
    assert [(s["rank"], s["value"], s["you"]) for s in both.json()["standings"]] == [
        (1, "50", False), (2, "30", True)]
    assert "m-b" not in both.text
    api.client.delete("/v1/members/m-b/friends/m-a", headers=api.as_(api.ingest))
    assert len(api.client.get(url, headers=api.as_(a)).json()["standings"]) == 1
    listed = api.client.get("/v1/members/m-a/leaderboards", headers=api.as_(a)).json()
    assert listed["friends"] == ["m-b"]


def test_joining_changes_nothing_a_member_is_scored_on(api: Api) -> None:
    seed(api)
    before = api.client.get("/v1/members/m-a", headers=api.as_(api.read)).json()
    join(api, "m-a")
    api.client.put("/v1/members/m-a/pseudonym", json={"seed": 1}, headers=api.as_(api.ingest))
    api.client.put("/v1/members/m-a/friends/m-b", headers=api.as_(api.ingest))
    after = api.client.get("/v1/members/m-a", headers=api.as_(api.read)).json()
    for key in ("points", "features", "score", "tier", "perks"):
        assert before[key] == after[key]
    assert after["leaderboards"][0]["joined"] is True
