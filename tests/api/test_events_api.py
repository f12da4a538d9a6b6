"""POST /v1/events: atomic, idempotent by id, late events re-folded, every bad item named."""

from __future__ import annotations

from typing import Any

import orjson

from .conftest import Api, purchase

READ = "/v1/members/{}"


def balance(api: Api, member: str) -> int:
    r = api.client.get(READ.format(member) + "/points", headers=api.as_(api.read))
    assert r.status_code == 200, r.text
    value: int = r.json()["balance"]
    return value


def test_one_event_is_stored_and_folded(api: Api) -> None:
    r = api.post_events(purchase("e1", "m1", amount="120.50", category="books"))
    assert r.status_code == 201
    assert r.json() == {"stored": 1, "duplicates": 0, "items": [
        {"index": 0, "id": "e1", "member": "m1", "status": "stored"}]}
    assert balance(api, "m1") == 240  # floor(120.50) x2 for books


def test_resending_the_same_event_is_200_with_the_original_result(api: Api) -> None:
    first = api.post_events(purchase("e1", "m1", amount="120.50"))
    again = purchase("e1", "m1", amount="120.5", at="2026-11-01T02:00:00Z")  # same instant
    r = api.post_events(again)
    assert (first.status_code, r.status_code) == (201, 200)
    assert r.json()["items"] == [{"index": 0, "id": "e1", "member": "m1",
                                  "status": "duplicate"}]
    assert balance(api, "m1") == 240


def test_same_id_other_body_is_409_and_stores_nothing(api: Api) -> None:
    api.post_events(purchase("e1", "m1", amount="10", category="other"))
    r = api.post_events([purchase("e2", "m1", amount="5", category="other"),
                         purchase("e1", "m1", amount="11", category="other")])
    assert r.status_code == 409
    body = r.json()
    assert body["type"] == "urn:plaudit:problem:event-conflict"
    assert body["errors"] == [{"where": "item 1", "field": "id", "suggestion": None,
                               "reason": "event id `e1` is already stored with a different "
                                         "body"}]
    assert balance(api, "m1") == 10  # e2 was not stored either


def test_a_batch_with_bad_items_names_each_and_stores_nothing(api: Api) -> None:
    events = [purchase("ok", "m1"), purchase("bad1", "m1", category="cars"),
              {"id": "bad2", "member": "m1", "type": "purchse", "at": "2026-11-01T10:00:00Z"},
              {**purchase("bad3", "m1"), "at": "2026-11-01T10:00:00"}]
    r = api.post_events(events)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    errors = r.json()["errors"]
    assert [(e["where"], e["field"]) for e in errors] == [
        ("item 1", "attributes.category"), ("item 2", "type"), ("item 3", "at")]
    assert errors[1]["suggestion"] == "purchase"
    r = api.client.get(READ.format("m1"), headers=api.as_(api.read))
    assert r.status_code == 404  # not even the good event created the member


def test_a_late_event_is_accepted_and_refolds_the_member(api: Api) -> None:
    api.post_events(purchase("e2", "m1", at="2026-11-10T10:00:00+08:00", amount="10",
                             category="other"))
    r = api.post_events(purchase("e1", "m1", at="2026-11-01T10:00:00+08:00", amount="5",
                                 category="other"))
    assert r.status_code == 201
    state = api.client.get(READ.format("m1"), headers=api.as_(api.read),
                           params={"history": "true"}).json()
    assert [a["event"] for a in state["awards"]] == ["e1", "e2"]
    assert state["points"]["balance"] == 15


def test_spends_are_checked_against_the_balance(api: Api) -> None:
    api.post_events(purchase("e1", "m1", amount="100", category="other"))
    spend = {"id": "s1", "member": "m1", "type": "plaudit.spend",
             "at": "2026-11-02T10:00:00+08:00", "attributes": {"points": 150}}
    r = api.post_events([purchase("e2", "m1", at="2026-11-02T09:00:00+08:00", amount="10",
                                  category="other"), spend])
    assert r.status_code == 422
    problem = r.json()
    assert (problem["type"], problem["title"]) == ("urn:plaudit:problem:insufficient-points",
                                                   "Insufficient points")
    assert problem["errors"] == [{
        "where": "item 1", "field": "attributes.points", "suggestion": None,
        "reason": "insufficient points: spends 150 but the balance at "
                  "2026-11-02T10:00:00+08:00 is 110"}]
    assert balance(api, "m1") == 100                  # e2 was not stored either
    spend["attributes"] = {"points": 60}
    assert api.post_events(spend).status_code == 201
    assert balance(api, "m1") == 40


def test_limits_are_enforced_with_clear_messages(api: Api) -> None:
    r = api.post_events([purchase(f"e{i}", "m1") for i in range(1001)])
    assert r.status_code == 413
    assert "at most 1000 events" in r.json()["detail"]

    long_id = purchase("x" * 300, "m1")
    r = api.post_events(long_id)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "id"
    assert "longer than 256" in r.json()["errors"][0]["reason"]

    many = purchase("e1", "m1")
    many["attributes"] = {f"a{i}": 1 for i in range(65)}
    r = api.post_events(many)
    assert r.status_code == 422 and "more than 64 attributes" in r.json()["errors"][0]["reason"]

    r = api.client.post("/v1/events", content=b"[" + b"1," * 1_100_000 + b"1]",
                        headers={**api.as_(api.ingest), "content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["type"] == "urn:plaudit:problem:too-large"


def test_not_json_and_wrong_shapes_are_422(api: Api) -> None:
    headers = {**api.as_(api.ingest), "content-type": "application/json"}
    for body, field in [(b"{nope", ""), (b'{"events": {}}', "events"),
                        (b'{"events": []}', "events"),
                        (b'{"events": [], "x": 1}', "x")]:
        r = api.client.post("/v1/events", content=body, headers=headers)
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["field"] == field


def test_consent_events_can_be_sent_in_a_batch(api: Api) -> None:
    consent = {"id": "c1", "member": "m1", "type": "plaudit.consent",
               "at": "2026-11-02T10:00:00+08:00",
               "attributes": {"partner": "city-rentals", "granted": True}}
    assert api.post_events([purchase("e1", "m1"), consent]).status_code == 201
    consents = api.client.get(READ.format("m1") + "/consents", headers=api.as_(api.read))
    assert consents.json() == [{"partner": "city-rentals", "granted": True,
                                "at": "2026-11-02T10:00:00+08:00"}]


def test_event_times_outside_the_supported_range_are_named(api: Api) -> None:
    r = api.post_events([purchase("ok", "m1"),
                         {**purchase("far", "m1"), "at": "9999-12-31T23:00:00Z"},
                         {**purchase("early", "m1"), "at": "0001-01-01T10:00:00+14:00"}])
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert [(e["where"], e["field"]) for e in errors] == [("item 1", "at"), ("item 2", "at")]
    assert "9000-01-01T00:00:00Z" in errors[0]["reason"]


def test_long_field_names_are_refused_and_not_echoed(api: Api) -> None:
    huge = "k" * 100_000
    for event in ({**purchase("e1", "m1"), huge: 1},
                  {**purchase("e1", "m1"), "attributes": {huge: "1"}}):
        r = api.post_events(event)
        assert r.status_code == 422
        error = r.json()["errors"][0]
        assert error["reason"] == "field name longer than 64 characters"
        assert error["field"].endswith("k" * 64 + "…") and len(error["field"]) < 80
        assert len(r.content) < 2_000
    r = api.client.post("/v1/keys", json={"name": "k", "scopes": ["read"], huge: 1},
                        headers=api.as_(api.admin))
    assert r.status_code == 422 and len(r.content) < 2_000


def test_a_streamed_body_over_the_limit_is_413_on_every_route_with_a_body(api: Api) -> None:
    """Without Content-Length the limit is found while reading: still 413, not a parse
    error, whichever way the route reads its body."""

    def chunks() -> Any:
        yield b'{"name": "'
        for _ in range(300):
            yield b"x" * 10_000
        yield b'"}'

    for path, token in [("/v1/events", api.ingest), ("/v1/keys", api.admin),
                        ("/v1/members/m1/tokens", api.read), ("/v1/drafts", api.admin)]:
        r = api.client.post(path, content=chunks(),
                            headers={**api.as_(token), "content-type": "application/json"})
        assert r.status_code == 413, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:plaudit:problem:too-large"


def test_a_time_must_be_rfc_3339_text_with_an_offset(api: Api) -> None:
    """pydantic alone takes 1717200000 (or "1717200000") as Unix seconds, and a bare date."""
    bad = [1717200000, "1717200000", 1717200000.5, "2026-06-01", "2026-06-01T10:00:00+0800",
           "2026-06-01T10:00", "2026-06-01 10:00:00Z", True, None]
    r = api.post_events([purchase("ok", "m1")] + [{**purchase(f"b{i}", "m1"), "at": at}
                                                  for i, at in enumerate(bad)])
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert [(e["where"], e["field"]) for e in errors] == [
        (f"item {i + 1}", "at") for i in range(len(bad))]
    assert {e["reason"] for e in errors} == {
        "must be an RFC 3339 time with an offset, like 2026-06-01T10:00:00+08:00"}
    assert api.client.get(READ.format("m1"), headers=api.as_(api.read)).status_code == 404
    for i, at in enumerate(("2026-06-01t10:00:00z", "2026-06-01T10:00:00.5+08:00")):
        assert api.post_events(purchase(f"rfc{i}", "m2", at=at)).status_code == 201


def test_a_body_not_declared_as_json_is_415(api: Api) -> None:
    body = orjson.dumps(purchase("e1", "m1"))
    routes = [("/v1/events", api.ingest, body),
              ("/v1/keys", api.admin, b'{"name": "k", "scopes": ["read"]}'),
              ("/v1/members/m1/tokens", api.read, b'{"seconds": 60}')]
    api.post_events(purchase("e0", "m1"))
    keys_before = len(api.client.get("/v1/keys", headers=api.as_(api.admin)).json())
    for path, token, content in routes:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {**api.as_(token), **({"content-type": content_type}
                                            if content_type else {})}
            r = api.client.post(path, content=content, headers=headers)
            assert r.status_code == 415, (path, content_type, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            problem = r.json()
            assert problem["type"] == "urn:plaudit:problem:unsupported-media-type"
            assert problem["detail"] == "send the body as `Content-Type: application/json`"
            assert problem["errors"] == [{
                "where": "header", "field": "content-type", "suggestion": None,
                "reason": f"expected application/json, got {content_type or 'none'}"}]
            no_credential = {k: v for k, v in headers.items() if k != "Authorization"}
            assert api.client.post(path, content=content,
                                   headers=no_credential).status_code == 401
        ok = api.client.post(path, content=content, headers={
            **api.as_(token), "content-type": "application/json; charset=utf-8"})
        assert ok.status_code in (200, 201), (path, ok.text)
    assert balance(api, "m1") == 480          # e0, then e1 once: with the right type
    assert len(api.client.get("/v1/keys", headers=api.as_(api.admin)).json()) == \
        keys_before + 1


ONE = ('"member": "m1", "type": "purchase", "at": "2026-11-01T10:00:00Z", '
       '"attributes": {"amount": "1", "category": "books", "order_id": "o-1"}')


def test_a_key_given_twice_is_refused_naming_it(api: Api) -> None:
    cases = [
        ('{"id": "a", "id": "b", ' + ONE + "}", [("item 0", "id")]),
        ('{"id": "a", ' + ONE.replace('"amount": "1"', '"amount": "1", "amount" : "9"') + "}",
         [("item 0", "attributes.amount")]),
        ('{"id": "a", "\\u0069d": "b", ' + ONE + "}", [("item 0", "id")]),  # escaped: "id"
        ('{"events": [{"id": "a", ' + ONE + '}, {"id": "b", "id":"c", ' + ONE + "}]}",
         [("item 1", "id")]),
        ('{"events": [{"id": "a", ' + ONE + '}], "events": [{"id": "b", ' + ONE + "}]}",
         [("body", "events")]),
    ]
    headers = {**api.as_(api.ingest), "content-type": "application/json"}
    for body, named in cases:
        r = api.client.post("/v1/events", content=body.encode(), headers=headers)
        assert r.status_code == 422, body
        assert [(e["where"], e["field"], e["reason"]) for e in r.json()["errors"]] == [
            (where, field, "this key appears more than once in the JSON object")
            for where, field in named], body
    assert api.client.get(READ.format("m1"), headers=api.as_(api.read)).status_code == 404
    r = api.client.post("/v1/keys", content=b'{"name": "a", "name": "b", "scopes": ["read"]}',
                        headers={**api.as_(api.admin), "content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["type"] == "urn:plaudit:problem:request-invalid"
    assert [(e["where"], e["field"]) for e in r.json()["errors"]] == [("body", "name")]
    # escapes and odd spacing alone are fine
    ok = '{"id" : "e\\u002d1", ' + ONE + "}"
    assert api.client.post("/v1/events", content=ok.encode(), headers=headers).status_code \
        == 201
