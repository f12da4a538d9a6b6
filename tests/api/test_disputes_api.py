"""The dispute endpoints: a member disputes their own event with their own token and sees
the outcome; the operator lists, accepts and rejects; hostile bodies end in a clear 4xx
and store nothing."""

from __future__ import annotations

from typing import Any

from .conftest import Api, purchase

OWN, OTHER = "m-own", "m-other"


def seeded(api: Api) -> tuple[str, str]:
    r = api.post_events([purchase("a1", OWN, amount="300"), purchase("a2", OWN, amount="20"),
                         purchase("b1", OTHER, amount="300")])
    assert r.status_code == 201, r.text
    return api.token_for(OWN), api.token_for(OTHER)


def dispute(api: Api, token: str, event_id: str, reason: str = "not-mine",
            member: str = OWN) -> Any:
    return api.client.post(f"/v1/members/{member}/disputes",
                           json={"event_id": event_id, "reason": reason},
                           headers=api.as_(token))


def balance(api: Api, member: str = OWN) -> int:
    r = api.client.get(f"/v1/members/{member}/points", headers=api.as_(api.read))
    value: int = r.json()["balance"]
    return value


def test_a_member_disputes_their_event_and_sees_the_outcome(api: Api) -> None:
    own, _ = seeded(api)
    before = balance(api)
    r = dispute(api, own, "a1")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "member", "event", "reason", "status", "excluded",
                         "opened_at", "decided_at", "decision", "decided_by"}
    assert body["event"] == {"id": "a1", "type": "purchase", "at": "2026-11-01T10:00:00+08:00"}
    assert (body["status"], body["excluded"], body["reason"]) == ("open", True, "not-mine")
    assert balance(api) == before - 600                 # books earn double
    again = dispute(api, own, "a1")
    assert again.status_code == 200 and again.json() == body
    clash = dispute(api, own, "a1", "wrong-amount")
    assert clash.status_code == 409 and "already has an open dispute" in clash.json()["detail"]

    queue = api.client.get("/v1/disputes?status=open", headers=api.as_(api.read)).json()
    assert [d["id"] for d in queue["disputes"]] == [body["id"]] and queue["next"] is None
    r = api.client.post(f"/v1/disputes/{body['id']}/reject",
                        json={"reason": "The receipt carries your signature."},
                        headers=api.as_(api.ingest))
    assert r.status_code == 200, r.text
    assert r.json()["decided_by"] == api.ingest.split("_")[1]  # the deciding key's id
    assert balance(api) == before
    mine = api.client.get(f"/v1/members/{OWN}/disputes", headers=api.as_(own))
    assert mine.status_code == 200
    (seen,) = mine.json()
    assert (seen["status"], seen["excluded"], seen["decision"]) == (
        "rejected", False, "The receipt carries your signature.")
    assert seen["decided_at"] is not None and seen["decided_by"] is None
    twice = api.client.post(f"/v1/disputes/{body['id']}/accept", headers=api.as_(api.ingest))
    assert twice.status_code == 409 and twice.json()["type"] == "urn:plaudit:problem:conflict"


def test_accepting_voids_the_event(api: Api) -> None:
    own, _ = seeded(api)
    opened = dispute(api, own, "a2", "wrong-amount").json()
    r = api.client.post(f"/v1/disputes/{opened['id']}/accept", headers=api.as_(api.admin))
    assert r.status_code == 200 and (r.json()["status"], r.json()["excluded"]) == (
        "accepted", True)
    assert balance(api) == 600
    one = api.client.get(f"/v1/disputes/{opened['id']}", headers=api.as_(api.read))
    assert one.status_code == 200 and one.json() == r.json()
    state = api.client.get(f"/v1/members/{OWN}", headers=api.as_(own)).json()
    assert state["events"] == 1 and state["last_event"] == "a1"


def test_another_members_event_is_answered_as_an_unknown_one(api: Api) -> None:
    own, other = seeded(api)
    theirs = dispute(api, own, "b1")
    unknown = dispute(api, own, "zz")
    assert theirs.status_code == unknown.status_code == 422
    assert theirs.json()["errors"][0]["field"] == "event_id"
    assert theirs.json()["errors"][0]["reason"].replace("b1", "zz") == \
        unknown.json()["errors"][0]["reason"]
    assert OTHER not in theirs.text
    # and a member's token reaches neither the other member's disputes nor the queue
    assert dispute(api, own, "b1", member=OTHER).status_code == 403
    assert api.client.get(f"/v1/members/{OTHER}/disputes",
                          headers=api.as_(own)).status_code == 403
    assert api.client.get("/v1/disputes", headers=api.as_(own)).status_code == 403
    assert api.client.get(f"/v1/members/{OTHER}/disputes",
                          headers=api.as_(other)).json() == []
    assert balance(api, OTHER) == 600


def test_a_read_only_member_token_cannot_dispute(api: Api) -> None:
    seeded(api)
    issued = api.client.post(f"/v1/members/{OWN}/tokens", headers=api.as_(api.read)).json()
    assert dispute(api, issued["token"], "a1").status_code == 403


def test_the_queue_pages(api: Api) -> None:
    own, _ = seeded(api)
    ids = [dispute(api, own, e).json()["id"] for e in ("a1", "a2")]
    first = api.client.get("/v1/disputes?limit=1", headers=api.as_(api.read)).json()
    assert [d["id"] for d in first["disputes"]] == ids[:1] and first["next"] is not None
    rest = api.client.get(f"/v1/disputes?limit=1&after={first['next']}",
                          headers=api.as_(api.read)).json()
    assert [d["id"] for d in rest["disputes"]] == ids[1:] and rest["next"] is None
    assert api.client.get("/v1/disputes?status=accepted",
                          headers=api.as_(api.read)).json()["disputes"] == []


def test_hostile_input_is_refused_clearly_and_stores_nothing(api: Api) -> None:
    own, _ = seeded(api)
    path = f"/v1/members/{OWN}/disputes"
    headers = {**api.as_(own), "content-type": "application/json"}

    def post(content: bytes | str, h: dict[str, str] | None = None,
             url: str = path) -> Any:
        return api.client.post(url, content=content, headers=h or headers)

    cases: list[tuple[Any, int, str]] = [
        (post('{"event_id": "a1", "reason": "fraud"}'), 422, "reason"),
        (post('{"event_id": "a1"}'), 422, "reason"),
        (post('{"event_id": {"id": "a1"}, "reason": "other"}'), 422, "event_id"),
        (post('{"event_id": ["a1"], "reason": "other"}'), 422, "event_id"),
        (post('{"event_id": "a b", "reason": "other"}'), 422, "event_id"),
        (post('{"event_id": "' + "x" * 129 + '", "reason": "other"}'), 422, "event_id"),
        (post('{"event_id": "a1", "reason": "other", "note": "my words"}'), 422, "note"),
        (post('{"event_id": "a1", "event_id": "a2", "reason": "other"}'), 422, "event_id"),
        (post('{"event_id": "a1", "reason": "oth'), 422, ""),
        (post('[]'), 422, ""),
        (post('{"event_id": "a1", "reason": "other"}',
              {**api.as_(own), "content-type": "text/plain"}), 415, "content-type"),
        (post(b'{"event_id": "' + b"x" * 2_100_000 + b'", "reason": "other"}'), 413, ""),
    ]
    for r, status, field in cases:
        assert r.status_code == status, (status, field, r.text[:300])
        assert r.headers["content-type"] == "application/problem+json"
        if field:
            assert field in {e["field"].split(".")[-1] for e in r.json()["errors"]}, r.text

    reject = "/v1/disputes/dsp_0123456789abcdef/reject"
    ops = {**api.as_(api.ingest), "content-type": "application/json"}
    for body, field in (('{"reason": ""}', "reason"), ('{"reason": "' + "x" * 501 + '"}',
                                                       "reason"),
                        ('{}', "reason"), ('{"reason": 5}', "reason")):
        r = post(body, ops, reject)
        assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith(field), r.text
    for bad in ("/v1/disputes/42", "/v1/disputes/dsp_XYZ", "/v1/disputes/dsp_0123456789abcdeF"):
        r = api.client.get(bad, headers=api.as_(api.read))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "dispute_id"
    for query, field in (("status=closed", "status"), ("limit=0", "limit"),
                         ("limit=501", "limit"), ("after=-1", "after"), ("after=x", "after"),
                         ("sort=id", "sort")):
        r = api.client.get(f"/v1/disputes?{query}", headers=api.as_(api.read))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    missing = api.client.get("/v1/disputes/dsp_0123456789abcdef", headers=api.as_(api.read))
    assert missing.status_code == 404

    assert api.client.get(f"/v1/members/{OWN}/disputes", headers=api.as_(own)).json() == []
    assert balance(api) == 640
