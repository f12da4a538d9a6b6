"""Rulebook drafts (validated, with line numbers), publishing as a job, and keys."""

from __future__ import annotations

import time

import pytest

from ..conftest import BILLION_LAUGHS, EXAMPLES, HANG, within
from .conftest import Api, purchase

SESAME = (EXAMPLES / "sesame-style.yaml").read_text()


def test_a_refused_draft_names_lines_and_fields(api: Api) -> None:
    bad = SESAME.replace("award: floor(amount)", "award: floor(amout)", 1)
    r = api.client.post("/v1/drafts", content=bad, headers=api.as_(api.admin))
    assert r.status_code == 422
    body = r.json()
    assert body["type"] == "urn:plaudit:problem:rulebook-invalid"
    line = next(i for i, t in enumerate(bad.splitlines(), 1) if "floor(amout)" in t)
    assert body["errors"] == [{
        "where": f"draft.yaml:{line}", "field": "points.rules[0].award",
        "reason": "`floor(amout)`: unknown name `amout` (column 7)", "suggestion": "amount"}]
    assert api.client.get("/v1/drafts", headers=api.as_(api.admin)).json() == []


@pytest.mark.parametrize("text, where, reason", [
    (BILLION_LAUGHS, "draft.yaml:2", "YAML anchors and aliases are not allowed"),
    ("program:\n" + "  [\n" * 100_000, "draft.yaml:66", "nested deeper than 64 levels"),
    ("program: " + "[" * 100_000, "draft.yaml:1", "line longer than 10000 characters"),
], ids=["alias-bomb", "deep-nest", "long-line"])
def test_a_hostile_draft_is_refused_fast_naming_the_line(api: Api, text: str, where: str,
                                                          reason: str) -> None:
    r = within(HANG, lambda: api.client.post("/v1/drafts", content=text,
                                          headers=api.as_(api.admin)))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "urn:plaudit:problem:rulebook-invalid"
    assert [(e["where"], e["reason"][:len(reason)]) for e in body["errors"]] == [
        (where, reason)]
    assert api.client.get("/v1/drafts", headers=api.as_(api.admin)).json() == []


def test_publishing_a_draft_refolds_every_member_as_a_job(api: Api) -> None:
    api.post_events([purchase("e1", "m1", amount="100", category="other"),
                     purchase("e2", "m2", amount="100", category="other")])
    doubled = SESAME.replace("      award: floor(amount)\n",
                             "      award: floor(amount) * 3\n", 1)
    draft = api.client.post("/v1/drafts", content=doubled, headers=api.as_(api.admin))
    assert draft.status_code == 201
    draft_id = draft.json()["draft_id"]
    got = api.client.get(f"/v1/drafts/{draft_id}", headers=api.as_(api.admin)).json()
    assert got["source"] == doubled and got["published_version"] is None

    r = api.client.post(f"/v1/drafts/{draft_id}/publish", headers=api.as_(api.admin))
    assert r.status_code == 202 and r.json()["status"] == "running"
    job = r.headers["location"]
    deadline = time.monotonic() + 30
    while (body := api.client.get(job, headers=api.as_(api.admin)).json())["status"] \
            == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert body["status"] == "succeeded", body
    assert body["result"] == {"version": 2, "created": True, "members": 2}
    assert (body["done"], body["total"]) == (2, 2)

    points = api.client.get("/v1/members/m1/points", headers=api.as_(api.read)).json()
    assert points["balance"] == 300
    versions = api.client.get("/v1/rulebooks", headers=api.as_(api.read)).json()
    assert [(v["version"], v["current"]) for v in versions] == [(1, False), (2, True)]
    one = api.client.get("/v1/rulebooks/2", headers=api.as_(api.read)).json()
    assert one["source"] == doubled
    assert api.client.get("/v1/rulebooks/3", headers=api.as_(api.read)).status_code == 404
    assert api.client.get(f"/v1/drafts/{draft_id}",
                          headers=api.as_(api.admin)).json()["published_version"] == 2


def test_publishing_an_unknown_draft_is_404_not_a_failed_job(api: Api) -> None:
    r = api.client.post("/v1/drafts/99/publish", headers=api.as_(api.admin))
    assert r.status_code == 404


def test_keys_are_created_with_scopes_or_a_partner(api: Api) -> None:
    admin = api.as_(api.admin)
    for body in ({"name": "x"}, {"name": "x", "scopes": ["read"], "partner": "p"},
                 {"name": "x", "scopes": ["root"]}, {"name": "x", "scopes": []},
                 {"name": "", "scopes": ["read"]}, {"name": "x", "partner": "bad partner"}):
        r = api.client.post("/v1/keys", json=body, headers=admin)
        assert r.status_code == 422, body
        assert r.headers["content-type"] == "application/problem+json"
    r = api.client.post("/v1/keys", json={"name": "loader", "scopes": ["ingest"]},
                        headers=admin)
    assert r.status_code == 201
    created = r.json()
    assert created["token"].startswith("plk_") and created["scopes"] == ["ingest"]
    listed = api.client.get("/v1/keys", headers=admin).json()
    assert created["key_id"] in {k["key_id"] for k in listed}
    loader = api.as_(created["token"])
    assert api.client.post("/v1/events", json=purchase("e1", "m1"),
                           headers=loader).status_code == 201
    assert api.client.get("/v1/members/m1", headers=loader).status_code == 403


def test_health_needs_no_credential(api: Api) -> None:
    r = api.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "rulebook_version": 1}


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    r = api.client.get("/v1/nothing")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = api.client.put("/v1/events", headers=api.as_(api.admin))
    assert r.status_code == 405 and r.json()["type"] == "urn:plaudit:problem:method-not-allowed"


def test_openapi_is_3_1_with_bearer_auth(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert api.client.get("/docs").status_code == 200


def test_a_job_whose_process_died_reads_as_failed(api: Api) -> None:
    """A publish interrupted by a crash must not read `running` for ever."""
    from plaudit.application.jobs import STALE_SECONDS
    from plaudit.application.ports import JobRow

    now = api.clock.now
    with api.svc.store.write() as tx:  # what a process that died mid-publish leaves behind
        tx.add_job(JobRow("0123456789abcdef", "publish", "running", 500, 2000, None, None,
                          now, now))
    job = "/v1/jobs/0123456789abcdef"
    assert api.client.get(job, headers=api.as_(api.admin)).json()["status"] == "running"
    api.clock.now = now + STALE_SECONDS * 1_000_000 + 1
    body = api.client.get(job, headers=api.as_(api.admin)).json()
    assert body["status"] == "failed" and (body["done"], body["total"]) == (500, 2000)
    assert "publish again" in body["error"]


def test_a_draft_that_would_mislead_members_is_kept_with_its_warnings(api: Api) -> None:
    """No `when_absent` on the rentals factor: a member who never rented would be scored
    as a late renter. The draft compiles, and the operator is told where and by how much."""
    start = SESAME.index("      when_absent: {value: 0.3")
    text = SESAME[:start] + SESAME[SESAME.index("\n", start) + 1:]
    r = api.client.post("/v1/drafts", content=text, headers=api.as_(api.admin))
    assert r.status_code == 201, r.text
    (warning,) = r.json()["warnings"]
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "- id: rentals" in t)
    assert warning["where"] == f"draft.yaml:{line}"
    assert warning["field"] == "score.factors[4]"
    assert "42.0 points lost" in warning["reason"]
    again = api.client.get(f"/v1/drafts/{r.json()['draft_id']}", headers=api.as_(api.admin))
    assert again.json()["warnings"] == [warning]
    clean = api.client.post("/v1/drafts", content=SESAME, headers=api.as_(api.admin))
    assert clean.json()["warnings"] == []
