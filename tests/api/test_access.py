"""Who may call what (OWASP API1, broken object-level authorisation).

The table below lists every route of the app with a request to make. The first test fails
when a route is added without being listed here, so no route escapes these checks:

* without a credential every route is 401 (problem+json, `WWW-Authenticate: Bearer`);
* a member token reaches only its own member: every route aimed at another member, and
  every operator route, is 403;
* a partner key reaches only the partner check: everything else is 403;
* each operator route needs its scope, and keys without it get 403.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute

from .conftest import Api, purchase

OWN = "m-own"
OTHER = "m-other"

# (method, path template) -> (path for the request, json body, scope an operator needs)
# `{member}` in a path is filled with the member under test.
ROUTES: dict[tuple[str, str], tuple[str, Any, str]] = {
    ("POST", "/v1/events"): ("/v1/events", purchase("x1", "{member}"), "ingest"),
    ("GET", "/v1/members/{member_id}"): ("/v1/members/{member}", None, "read"),
    ("GET", "/v1/members/{member_id}/score"): ("/v1/members/{member}/score", None, "read"),
    ("GET", "/v1/members/{member_id}/score/history"):
        ("/v1/members/{member}/score/history", None, "read"),
    ("GET", "/v1/members/{member_id}/partner-checks"):
        ("/v1/members/{member}/partner-checks", None, "read"),
    ("GET", "/v1/members/{member_id}/explain"):
        ("/v1/members/{member}/explain", None, "read"),
    ("GET", "/v1/members/{member_id}/points"): ("/v1/members/{member}/points", None, "read"),
    ("GET", "/v1/members/{member_id}/tier"): ("/v1/members/{member}/tier", None, "read"),
    ("GET", "/v1/members/{member_id}/perks"): ("/v1/members/{member}/perks", None, "read"),
    ("GET", "/v1/members/{member_id}/consents"):
        ("/v1/members/{member}/consents", None, "read"),
    ("GET", "/v1/members/{member_id}/streaks"):
        ("/v1/members/{member}/streaks", None, "read"),
    ("GET", "/v1/members/{member_id}/badges"): ("/v1/members/{member}/badges", None, "read"),
    ("GET", "/v1/members/{member_id}/quests"): ("/v1/members/{member}/quests", None, "read"),
    ("PUT", "/v1/members/{member_id}/consents/{partner}"):
        ("/v1/members/{member}/consents/city-rentals", None, "ingest"),
    ("DELETE", "/v1/members/{member_id}/consents/{partner}"):
        ("/v1/members/{member}/consents/city-rentals", None, "ingest"),
    ("POST", "/v1/members/{member_id}/tokens"):
        ("/v1/members/{member}/tokens", {"seconds": 60}, "read"),
    ("GET", "/v1/partner/perks/{perk_id}/members/{member_id}"):
        ("/v1/partner/perks/deposit_free_rental/members/{member}", None, "partner"),
    ("GET", "/v1/rulebooks"): ("/v1/rulebooks", None, "read"),
    ("GET", "/v1/rulebooks/{version}"): ("/v1/rulebooks/1", None, "read"),
    ("POST", "/v1/drafts"): ("/v1/drafts", "program: {id: p, name: P}\n", "admin"),
    ("GET", "/v1/drafts"): ("/v1/drafts", None, "admin"),
    ("GET", "/v1/drafts/{draft_id}"): ("/v1/drafts/1", None, "admin"),
    ("POST", "/v1/drafts/{draft_id}/publish"): ("/v1/drafts/1/publish", None, "admin"),
    ("GET", "/v1/jobs/{job_id}"): ("/v1/jobs/0123456789abcdef", None, "admin"),
    ("POST", "/v1/drafts/{draft_id}/backtest"): ("/v1/drafts/1/backtest", None, "admin"),
    ("POST", "/v1/keys"): ("/v1/keys", {"name": "k", "scopes": ["read"]}, "admin"),
    ("GET", "/v1/keys"): ("/v1/keys", None, "admin"),
    ("DELETE", "/v1/keys/{key_id}"): ("/v1/keys/0123456789abcdef", None, "admin"),
    # rewards
    ("GET", "/v1/rewards"): ("/v1/rewards", None, "read"),
    ("GET", "/v1/members/{member_id}/rewards"): ("/v1/members/{member}/rewards", None, "read"),
    ("GET", "/v1/members/{member_id}/redemptions"):
        ("/v1/members/{member}/redemptions", None, "read"),
    ("GET", "/v1/members/{member_id}/ledger"): ("/v1/members/{member}/ledger", None, "read"),
    ("POST", "/v1/members/{member_id}/redemptions"):
        ("/v1/members/{member}/redemptions", {"reward": "coffee", "key": "k1"}, "ingest"),
    ("POST", "/v1/members/{member_id}/redemptions/{redemption_id}/cancel"):
        ("/v1/members/{member}/redemptions/redeem-x/cancel", None, "ingest"),
    ("GET", "/v1/leaderboards"): ("/v1/leaderboards", None, "read"),
    ("GET", "/v1/leaderboards/{board}"): ("/v1/leaderboards/good-spend-monthly", None, "read"),
    ("GET", "/v1/members/{member_id}/leaderboards"):
        ("/v1/members/{member}/leaderboards", None, "read"),
    ("PUT", "/v1/members/{member_id}/leaderboards/{board}"):
        ("/v1/members/{member}/leaderboards/good-spend-monthly", None, "ingest"),
    ("DELETE", "/v1/members/{member_id}/leaderboards/{board}"):
        ("/v1/members/{member}/leaderboards/good-spend-monthly", None, "ingest"),
    ("PUT", "/v1/members/{member_id}/pseudonym"):
        ("/v1/members/{member}/pseudonym", {"seed": 3}, "ingest"),
    ("PUT", "/v1/members/{member_id}/friends/{friend_id}"):
        ("/v1/members/{member}/friends/m-friend", None, "ingest"),
    ("DELETE", "/v1/members/{member_id}/friends/{friend_id}"):
        ("/v1/members/{member}/friends/m-friend", None, "ingest"),
    ("GET", "/v1/members/{member_id}/leaderboards/{board}/friends"):
        ("/v1/members/{member}/leaderboards/good-spend-monthly/friends", None, "read"),
    # disputes: the member's own (a1 is OWN's event, b1 OTHER's), the operator's queue
    ("POST", "/v1/members/{member_id}/disputes"):
        ("/v1/members/{member}/disputes", {"event_id": "a1", "reason": "not-mine"}, "ingest"),
    ("GET", "/v1/members/{member_id}/disputes"):
        ("/v1/members/{member}/disputes", None, "read"),
    ("GET", "/v1/disputes"): ("/v1/disputes", None, "read"),
    ("GET", "/v1/disputes/{dispute_id}"): ("/v1/disputes/dsp_0123456789abcdef", None, "read"),
    ("POST", "/v1/disputes/{dispute_id}/accept"):
        ("/v1/disputes/dsp_0123456789abcdef/accept", None, "ingest"),
    ("POST", "/v1/disputes/{dispute_id}/reject"):
        ("/v1/disputes/dsp_0123456789abcdef/reject", {"reason": "no"}, "ingest"),
    # member data rights (erasure without its confirmation header: refused, never run)
    ("GET", "/v1/members/{member_id}/export"): ("/v1/members/{member}/export", None, "read"),
    ("POST", "/v1/members/{member_id}/opt-out"):
        ("/v1/members/{member}/opt-out", None, "ingest"),
    ("POST", "/v1/members/{member_id}/opt-in"): ("/v1/members/{member}/opt-in", None, "ingest"),
    ("DELETE", "/v1/members/{member_id}"): ("/v1/members/{member}", None, "erase"),
    ("POST", "/v1/members/{member_id}/erasure-request"):
        ("/v1/members/{member}/erasure-request", None, "ingest"),
    ("GET", "/v1/members/{member_id}/erasure-request"):
        ("/v1/members/{member}/erasure-request", None, "read"),
    ("GET", "/v1/erasure-requests"): ("/v1/erasure-requests", None, "erase"),
    ("POST", "/v1/members/{member_id}/erasure-request/decline"):
        ("/v1/members/{member}/erasure-request/decline", {"reason": "kept"}, "erase"),
    # the audit log and rulebook diffs
    ("GET", "/v1/audit"): ("/v1/audit", None, "admin"),
    ("GET", "/v1/audit/verify"): ("/v1/audit/verify", None, "admin"),
    ("GET", "/v1/rulebooks/{a}/diff/{b}"): ("/v1/rulebooks/1/diff/1", None, "read"),
}
BOARD_ROUTES = {("GET", "/v1/leaderboards"), ("GET", "/v1/leaderboards/{board}")}
"""Read by any member token too: a board shows only opted-in members' pseudonyms."""
PUBLIC = {("GET", "/healthz")}
MEMBER_ROUTES = [k for k, v in ROUTES.items() if "{member}" in v[0]]
OWN_MEMBER_OK = {k for k in MEMBER_ROUTES if k[0] == "GET" and "partner" not in k[1]} | {
    ("PUT", "/v1/members/{member_id}/consents/{partner}"),
    ("DELETE", "/v1/members/{member_id}/consents/{partner}"),
    ("POST", "/v1/members/{member_id}/redemptions"),
    ("POST", "/v1/members/{member_id}/redemptions/{redemption_id}/cancel"),
    ("POST", "/v1/members/{member_id}/disputes"),
    ("POST", "/v1/members/{member_id}/opt-out"),
    ("POST", "/v1/members/{member_id}/opt-in"),
    ("POST", "/v1/members/{member_id}/erasure-request"),
    *((m, p) for m, p in ROUTES if m in ("PUT", "DELETE") and (
        "/leaderboards/" in p or "/friends/" in p or p.endswith("/pseudonym")))}


def call(api: Api, route: tuple[str, str], token: str | None, member: str = OTHER) -> Any:
    path, body, _ = ROUTES[route]
    path = path.replace("{member}", member)
    headers = api.as_(token)
    if isinstance(body, str):
        return api.client.request(route[0], path, content=body, headers=headers)
    if isinstance(body, dict):
        body = {k: (v.replace("{member}", member) if isinstance(v, str) else v)
                for k, v in body.items()}
    return api.client.request(route[0], path, json=body, headers=headers)


@pytest.fixture
def seeded(api: Api) -> Api:
    r = api.post_events([purchase("a1", OWN), purchase("b1", OTHER)])
    assert r.status_code == 201, r.text
    return api


def api_routes(app: Any) -> list[APIRoute]:
    """The JSON API's routes: those in the OpenAPI document (the web pages' routes are
    left out of it, and are guarded by their sign-in instead: test_web_security.py)."""
    found, stack = [], list(app.routes)
    while stack:
        r = stack.pop()
        if isinstance(r, APIRoute):
            if r.include_in_schema:
                found.append(r)
        elif hasattr(r, "original_router"):  # a router included with include_router
            stack.extend(r.original_router.routes)
    return found


def test_every_route_is_listed_and_guarded(api: Api) -> None:
    app = api.client.app
    routes = {(m, r.path) for r in api_routes(app) for m in r.methods}
    assert routes - PUBLIC == set(ROUTES), "add new routes to ROUTES with their scope"
    for r in api_routes(app):
        if (next(iter(r.methods)), r.path) not in PUBLIC:
            guards = [d.call for d in r.dependant.dependencies
                      if hasattr(d.call, "plaudit_scope")]
            assert len(guards) == 1, f"{r.path} must depend on exactly one guard"


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_no_credential_is_401(seeded: Api, route: tuple[str, str]) -> None:
    for token in (None, "plk_0123456789abcdef_" + "x" * 43, "garbage"):
        r = call(seeded, route, token)
        assert r.status_code == 401, (route, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("route", sorted(MEMBER_ROUTES))
def test_no_credential_is_401_before_any_input_is_judged(seeded: Api,
                                                         route: tuple[str, str]) -> None:
    """Authentication comes first: an invalid member id in the path (a 422 for a caller
    who may ask) tells a caller without a credential nothing but 401."""
    r = call(seeded, route, None, member="not a valid id!")
    assert r.status_code == 401, (route, r.text)
    allowed = seeded.rentals if ROUTES[route][2] == "partner" else seeded.admin
    r = call(seeded, route, allowed, member="not a valid id!")
    assert r.status_code == 422, (route, r.text)
    assert r.json()["errors"][0]["field"] == "member_id"


@pytest.mark.parametrize("route", sorted(set(ROUTES) - BOARD_ROUTES))
def test_a_member_token_cannot_reach_another_member_or_operator_routes(
        seeded: Api, route: tuple[str, str]) -> None:
    token = seeded.token_for(OWN)
    r = call(seeded, route, token, member=OTHER)
    assert r.status_code == 403, (route, r.text)
    assert r.json()["type"] == "urn:plaudit:problem:forbidden"
    assert OTHER not in r.text.replace(f"/members/{OTHER}", "")  # nothing about them


@pytest.mark.parametrize("route", sorted(MEMBER_ROUTES))
def test_a_member_token_cannot_probe_which_members_exist(seeded: Api,
                                                         route: tuple[str, str]) -> None:
    token = seeded.token_for(OWN)
    existing = call(seeded, route, token, member=OTHER)
    missing = call(seeded, route, token, member="m-nobody")
    assert existing.status_code == missing.status_code == 403
    assert existing.json()["detail"] == missing.json()["detail"]


@pytest.mark.parametrize("route", sorted(OWN_MEMBER_OK))
def test_a_member_token_reads_its_own_member(seeded: Api, route: tuple[str, str]) -> None:
    token = seeded.token_for(OWN)
    r = call(seeded, route, token, member=OWN)
    if route[1].endswith("/cancel"):  # allowed, and there is no such redemption to cancel
        assert r.status_code == 404 and "no redemption" in r.json()["detail"], r.text
    else:
        assert r.status_code in (200, 201), (route, r.text)


def test_a_member_token_gets_no_more_than_its_issuer_had(seeded: Api) -> None:
    """A `read` key may issue tokens, but a token it issued cannot record a consent (a
    write): only a key that also has `ingest` issues tokens that may."""
    api = seeded
    issued = api.client.post(f"/v1/members/{OWN}/tokens", headers=api.as_(api.read))
    assert issued.json()["scopes"] == ["read"]
    read_only = issued.json()["token"]
    consent = f"/v1/members/{OWN}/consents/city-rentals"
    for method in ("PUT", "DELETE"):
        r = api.client.request(method, consent, headers=api.as_(read_only))
        assert r.status_code == 403, r.text
    assert api.client.get(f"/v1/members/{OWN}", headers=api.as_(read_only)).status_code == 200
    check = f"/v1/partner/perks/deposit_free_rental/members/{OWN}"
    assert api.client.get(check, headers=api.as_(api.rentals)).status_code == 403

    issued = api.client.post(f"/v1/members/{OWN}/tokens", headers=api.as_(api.backend))
    assert issued.json()["scopes"] == ["consents", "read"]
    r = api.client.put(consent, headers=api.as_(issued.json()["token"]))
    assert r.status_code == 200
    assert api.client.get(check, headers=api.as_(api.rentals)).status_code == 200


@pytest.mark.parametrize("route", sorted(k for k in ROUTES if ROUTES[k][2] != "partner"))
def test_a_partner_key_reaches_nothing_but_the_check(seeded: Api,
                                                     route: tuple[str, str]) -> None:
    for member in (OWN, OTHER):
        r = call(seeded, route, seeded.rentals, member=member)
        assert r.status_code == 403, (route, r.text)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_each_operator_route_needs_its_scope(seeded: Api, route: tuple[str, str]) -> None:
    scope = ROUTES[route][2]
    keys = {"ingest": seeded.ingest, "read": seeded.read}
    for name, token in keys.items():
        r = call(seeded, route, token, member=OWN)
        if scope == name:
            assert r.status_code not in (401, 403), (route, name, r.text)
        else:
            assert r.status_code == 403, (route, name, r.text)


def test_the_partner_check_needs_consent_and_a_perk_of_that_partner(seeded: Api) -> None:
    api = seeded
    check = "/v1/partner/perks/{perk}/members/{member}"

    def ask(perk: str, member: str, token: str) -> Any:
        return api.client.get(check.format(perk=perk, member=member), headers=api.as_(token))

    refusals = [
        ask("deposit_free_rental", OWN, api.rentals),    # no consent yet
        ask("deposit_free_rental", "m-nobody", api.rentals),  # no such member
        ask("hotel_deposit_waiver", OWN, api.rentals),   # another partner's perk
        ask("airport_wifi", OWN, api.rentals),           # a perk with no partners
        ask("no_such_perk", OWN, api.rentals),
    ]
    assert {r.status_code for r in refusals} == {403}
    assert len({r.json()["detail"] for r in refusals}) == 1  # one answer reveals nothing

    member = api.token_for(OWN)
    granted = api.client.put(f"/v1/members/{OWN}/consents/city-rentals",
                             headers=api.as_(member))
    assert granted.status_code == 200 and granted.json()["granted"] is True
    ok = ask("deposit_free_rental", OWN, api.rentals)
    assert ok.status_code == 200, ok.text
    assert set(ok.json()) == {"member", "perk", "eligible", "checked_at", "valid_until"}
    assert ok.json()["valid_until"] == "2026-11-22T21:00:00+08:00"  # valid_for: 1h default
    # consent to one partner is not consent to another
    assert ask("hotel_deposit_waiver", OWN, api.hotels).status_code == 403
    # another member's consent does not open this member
    assert ask("deposit_free_rental", OTHER, api.rentals).status_code == 403

    revoked = api.client.delete(f"/v1/members/{OWN}/consents/city-rentals",
                                headers=api.as_(member))
    assert revoked.status_code == 200 and revoked.json()["granted"] is False
    assert ask("deposit_free_rental", OWN, api.rentals).status_code == 403

    # the member sees every check made about them, refusals included, newest first
    log = api.client.get(f"/v1/members/{OWN}/partner-checks", headers=api.as_(member))
    assert log.status_code == 200, log.text
    seen = [(c["partner"], c["perk"], c["answer"]) for c in log.json()]
    assert seen == [
        ("city-rentals", "deposit_free_rental", "refused"),      # after revoking
        ("partner-hotels", "hotel_deposit_waiver", "refused"),   # no consent to hotels
        ("city-rentals", "deposit_free_rental",
         "yes" if ok.json()["eligible"] else "no"),
        ("city-rentals", "no_such_perk", "refused"),
        ("city-rentals", "airport_wifi", "refused"),
        ("city-rentals", "hotel_deposit_waiver", "refused"),
        ("city-rentals", "deposit_free_rental", "refused"),      # before consenting
    ]
    answered = log.json()[2]
    assert answered["valid_until"] == ok.json()["valid_until"]
    assert all(c["valid_until"] is None for c in log.json() if c["answer"] == "refused")
    # nothing is logged for a member who does not exist, and none of this is the partner's
    assert api.client.get("/v1/members/m-nobody/partner-checks",
                          headers=api.as_(api.read)).status_code == 404
    assert api.client.get(f"/v1/members/{OWN}/partner-checks",
                          headers=api.as_(api.rentals)).status_code == 403


def test_consent_changes_nothing_a_member_is_scored_on(seeded: Api) -> None:
    api = seeded
    before = api.client.get(f"/v1/members/{OWN}", headers=api.as_(api.read)).json()
    api.client.put(f"/v1/members/{OWN}/consents/city-rentals", headers=api.as_(api.ingest))
    after = api.client.get(f"/v1/members/{OWN}", headers=api.as_(api.read)).json()
    for key in ("points", "features", "score", "tier", "perks"):
        assert before[key] == after[key]
    assert [c["partner"] for c in after["consents"]] == ["city-rentals"]


def test_revoked_keys_and_expired_tokens_stop_working(seeded: Api) -> None:
    api = seeded
    created = api.client.post("/v1/keys", json={"name": "tmp", "scopes": ["read"]},
                              headers=api.as_(api.admin)).json()
    path = f"/v1/members/{OWN}"
    assert api.client.get(path, headers=api.as_(created["token"])).status_code == 200
    r = api.client.delete(f"/v1/keys/{created['key_id']}", headers=api.as_(api.admin))
    assert r.status_code == 204
    assert api.client.get(path, headers=api.as_(created["token"])).status_code == 401
    again = api.client.delete(f"/v1/keys/{created['key_id']}", headers=api.as_(api.admin))
    assert again.status_code == 404

    token = api.token_for(OWN, seconds=60)
    assert api.client.get(path, headers=api.as_(token)).status_code == 200
    api.clock.now += 61 * 1_000_000
    assert api.client.get(path, headers=api.as_(token)).status_code == 401


def test_a_tampered_secret_is_refused(seeded: Api) -> None:
    prefix, key_id, secret = seeded.read.split("_", 2)
    forged = f"{prefix}_{key_id}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    r = seeded.client.get(f"/v1/members/{OWN}", headers=seeded.as_(forged))
    assert r.status_code == 401


def test_keys_are_stored_hashed(seeded: Api) -> None:
    with seeded.svc.store.read() as tx:
        rows = tx.keys(["operator", "partner"])
    stored = " ".join(" ".join(str(v) for v in row) for row in rows)
    for token in (seeded.admin, seeded.read, seeded.rentals):
        assert token.split("_", 2)[2] not in stored
    listed = seeded.client.get("/v1/keys", headers=seeded.as_(seeded.admin)).text
    assert seeded.read.split("_", 2)[2] not in listed and "token" not in listed


def _backend_key(api: Api) -> dict[str, Any]:
    created: dict[str, Any] = api.client.post(
        "/v1/keys", json={"name": "app", "scopes": ["read", "ingest"]},
        headers=api.as_(api.admin)).json()
    return created


def test_revoking_a_key_revokes_the_member_tokens_it_issued(seeded: Api) -> None:
    api = seeded
    key = _backend_key(api)
    token = api.token_for(OWN, issuer=key["token"])
    other_issuer = api.token_for(OWN)                  # issued by another key: unaffected
    read, consent = f"/v1/members/{OWN}", f"/v1/members/{OWN}/consents/city-rentals"
    assert api.client.get(read, headers=api.as_(token)).status_code == 200
    assert api.client.put(consent, headers=api.as_(token)).status_code == 200

    assert api.client.delete(f"/v1/keys/{key['key_id']}",
                             headers=api.as_(api.admin)).status_code == 204
    for method, path in (("GET", read), ("PUT", consent), ("DELETE", consent)):
        r = api.client.request(method, path, headers=api.as_(token))
        assert r.status_code == 401, (method, r.text)
        assert r.json()["type"] == "urn:plaudit:problem:unauthenticated"
    assert api.client.get(read, headers=api.as_(other_issuer)).status_code == 200
    with api.svc.store.read() as tx:                   # and the database says so too
        row = tx.key(token.split("_")[1])
    assert row is not None and row.revoked_us is not None


def test_another_process_drops_the_tokens_within_the_cache_window(
        seeded: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second API process over the same database caches keys for CACHE_SECONDS: it may
    even issue a token from a key revoked meanwhile (it still believes the key); that
    token is refused once the issuer's cached entry expires, like every other."""
    from fastapi.testclient import TestClient

    from plaudit.application import access
    from plaudit.application.service import Plaudit
    from plaudit.entrypoints.http.app import create_app

    api = seeded
    clock = [1000.0]
    monkeypatch.setattr(access.time, "monotonic", lambda: clock[0])
    other = TestClient(create_app(Plaudit(api.svc.store, api.clock)),
                       raise_server_exceptions=False)
    key = _backend_key(api)
    read = f"/v1/members/{OWN}"
    token = api.token_for(OWN, issuer=key["token"])
    for t in (key["token"], token):                    # both now cached by the other
        assert other.get(read, headers=api.as_(t)).status_code == 200

    api.client.delete(f"/v1/keys/{key['key_id']}", headers=api.as_(api.admin))
    late = other.post(f"/v1/members/{OWN}/tokens", headers=api.as_(key["token"]))
    assert late.status_code == 201                     # the other process has not heard yet
    assert api.client.get(read, headers=api.as_(late.json()["token"])).status_code == 401
    clock[0] += access.CACHE_SECONDS + 0.01
    for t in (token, late.json()["token"]):
        assert other.get(read, headers=api.as_(t)).status_code == 401


def test_a_token_that_names_no_issuer_is_refused(seeded: Api) -> None:
    """Tokens from before migration 0004 do not say who issued them: refused, since no one
    can tell whether their issuer was revoked (they live 24 hours at most anyway)."""
    api = seeded
    issued = api.svc.access.issue_member_token(OWN, 600, issued_by="console", actor="test")
    assert api.client.get(f"/v1/members/{OWN}",
                          headers=api.as_(issued.token)).status_code == 200
    old = issued.row._replace(key_id="00000000000000aa", issued_by=None)
    with api.svc.store.write() as tx:
        tx.add_key(old)
    _, _, secret = issued.token.split("_", 2)
    r = api.client.get(f"/v1/members/{OWN}",
                       headers=api.as_(f"plm_00000000000000aa_{secret}"))
    assert r.status_code == 401


def test_a_consent_answers_alike_for_a_member_not_seen_yet(seeded: Api) -> None:
    """An ingest key may create members by sending events, so recording a consent for a
    member not seen yet creates them too: the answer cannot tell who exists."""
    api = seeded
    answers = {}
    for member in (OWN, "m-new"):
        for method in ("PUT", "DELETE"):
            r = api.client.request(method, f"/v1/members/{member}/consents/city-rentals",
                                   headers=api.as_(api.ingest))
            answers[member, method] = (r.status_code, tuple(sorted(r.json())))
    assert set(answers.values()) == {(200, ("at", "granted", "member", "partner"))}
    consents = api.client.get("/v1/members/m-new/consents", headers=api.as_(api.read))
    assert [(c["partner"], c["granted"]) for c in consents.json()] == [
        ("city-rentals", False)]


def test_a_consent_to_a_partner_no_perk_lists_is_refused(seeded: Api) -> None:
    api = seeded
    events_before = api.svc.summary()["events"]
    for token, member in ((api.ingest, OWN), (api.ingest, "m-new"),
                          (api.token_for(OWN), OWN)):
        r = api.client.put(f"/v1/members/{member}/consents/city-rentalz",
                           headers=api.as_(token))
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["type"] == "urn:plaudit:problem:request-invalid"
        assert body["errors"] == [{
            "where": "path", "field": "partner", "suggestion": "city-rentals",
            "reason": "no perk of the rulebook lists partner `city-rentalz` "
                      "(partners: city-rentals, partner-hotels)"}]
    consent = {"id": "c1", "member": OWN, "type": "plaudit.consent",
               "at": "2026-11-02T10:00:00+08:00",
               "attributes": {"partner": "someone", "granted": True}}
    r = api.post_events([purchase("p9", OWN), consent])
    assert r.status_code == 422
    assert [(e["where"], e["field"]) for e in r.json()["errors"]] == [
        ("item 1", "attributes.partner")]
    assert api.svc.summary()["events"] == events_before               # nothing stored
    assert api.client.get("/v1/members/m-new", headers=api.as_(api.read)).status_code == 404
    # withdrawing is always possible, even from a partner the rulebook no longer lists
    r = api.client.delete(f"/v1/members/{OWN}/consents/old-partner",
                          headers=api.as_(api.ingest))
    assert r.status_code == 200 and r.json()["granted"] is False
