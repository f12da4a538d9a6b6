"""A member's data rights over HTTP, on SQLite and PostgreSQL: the export holds everything
stored about them and nothing of anyone else; opting out takes effect on every read, the
partner check and the boards; erasure needs its confirmation, is for `erase` keys only and
leaves no row mentioning the member; hostile input erases and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from plaudit.entrypoints.http.rights import ExportOut

from ..table_scan import every_row, leaks
from .conftest import Api, make_api, purchase

M = "m-rights-5c1e"
"""The member under test: an id no other value contains, so a substring hit is a leak."""
OTHER = "m-other"
CONFIRM = "Plaudit-Confirm-Erase"
BOARD = "good-spend-monthly"
CHECK = f"/v1/partner/perks/deposit_free_rental/members/{M}"


@pytest.fixture
def api(store_url: str) -> Iterator[Api]:
    made, store = make_api(store_url)
    yield made
    store.close()


def ev(id_: str, member: str, type_: str, at: str, **attributes: Any) -> dict[str, Any]:
    return {"id": id_, "member": member, "type": type_, "at": at, "attributes": attributes}


def seed(api: Api) -> str:
    """M with events of every kind, a consent, a board, a pseudonym, a dispute and a partner
    check; OTHER naming M in a referral and as a friend. Returns M's token (`consents`)."""
    r = api.post_events([
        purchase("r1", M, "2026-11-01T10:00:00+08:00", amount="880.50"),
        purchase("r2", M, "2026-11-03T10:00:00+08:00", amount="40", category="games"),
        ev("r3", M, "identity_verified", "2026-11-04T10:00:00+08:00", method="phone"),
        ev("r4", M, "repayment", "2026-11-05T10:00:00+08:00", amount="300", days_late=0),
        purchase("o1", OTHER, "2026-11-02T10:00:00+08:00", amount="75"),
        ev("o2", OTHER, "referral", "2026-11-06T10:00:00+08:00", referred=M),
    ])
    assert r.status_code == 201, r.text
    token = api.token_for(M, seconds=86_400)
    other = api.token_for(OTHER)
    for method, path, who in (
            ("PUT", f"/v1/members/{M}/consents/city-rentals", token),
            ("PUT", f"/v1/members/{M}/leaderboards/{BOARD}", token),
            ("PUT", f"/v1/members/{M}/pseudonym", token),
            ("PUT", f"/v1/members/{OTHER}/leaderboards/{BOARD}", other),
            ("PUT", f"/v1/members/{OTHER}/friends/{M}", other)):
        r = api.client.request(method, path, headers=api.as_(who))
        assert r.status_code == 200, (path, r.text)
    r = api.client.post(f"/v1/members/{M}/disputes", headers=api.as_(token),
                        json={"event_id": "r2", "reason": "wrong-amount"})
    assert r.status_code == 201, r.text
    assert api.client.get(CHECK, headers=api.as_(api.rentals)).status_code == 200
    return token


def get(api: Api, path: str, token: str) -> Any:
    r = api.client.get(path, headers=api.as_(token))
    assert r.status_code == 200, (path, r.text)
    return r.json()


def erase(api: Api, member: str, token: str, confirm: str | None = None,
          **kwargs: Any) -> Any:
    headers = api.as_(token)
    if confirm is not None:
        headers[CONFIRM] = confirm
    return api.client.request("DELETE", f"/v1/members/{member}", headers=headers, **kwargs)


def erase_key(api: Api, name: str = "account-deletion") -> str:
    """An operator key with only the `erase` scope, made as an admin makes one."""
    r = api.client.post("/v1/keys", json={"name": name, "scopes": ["erase"]},
                        headers=api.as_(api.admin))
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def board_pseudonyms(api: Api) -> list[str]:
    page = get(api, f"/v1/leaderboards/{BOARD}?period=2026-11", api.read)
    return [s["pseudonym"] for s in page["standings"]]


# -- export -----------------------------------------------------------------------------

def test_the_export_holds_everything_stored_about_the_member(api: Api) -> None:
    token = seed(api)
    r = api.client.get(f"/v1/members/{M}/export", headers=api.as_(token))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == (
        f'attachment; filename="plaudit-export-{M}-2026-11-22.json"')
    doc = r.json()
    assert list(doc) == ["format", "exported_at", "member", "rulebook_version", "status",
                         "opted_out_at", "state", "ledger", "leaderboards", "events",
                         "tokens", "disputes", "partner_checks", "erasure_request"]
    assert (doc["format"], doc["member"], doc["status"]) == ("plaudit-export/1", M, "active")
    ExportOut.model_validate(doc)                 # what the OpenAPI document declares
    # each section says what the member's own reads say
    assert doc["state"] == get(api, f"/v1/members/{M}?history=true", token)
    assert doc["ledger"] == get(api, f"/v1/members/{M}/ledger", token)
    assert doc["disputes"] == get(api, f"/v1/members/{M}/disputes", token)
    assert doc["partner_checks"] == get(api, f"/v1/members/{M}/partner-checks", token)
    mine = get(api, f"/v1/members/{M}/leaderboards", token)
    assert doc["leaderboards"]["boards"] == mine["boards"]
    assert doc["leaderboards"]["pseudonym"] == mine["pseudonym"]
    assert [(e["board"], e["period"], e["rank"]) for e in doc["leaderboards"]["entries"]] \
        == [(BOARD, "2026-11", 1)]
    # every stored event, as stored, in the fold's order; the member's own words included
    events = doc["events"]
    assert [e["id"] for e in events][:4] == ["r1", "r2", "r3", "r4"]
    assert events[0]["attributes"] == {"amount": "880.5", "category": "books",
                                       "order_id": "o-r1"}
    assert {e["type"] for e in events[4:]} == {"plaudit.consent", "plaudit.leaderboard",
                                               "plaudit.pseudonym"}
    assert doc["disputes"][0]["event"]["id"] == "r2"
    assert [(c["partner"], c["answer"]) for c in doc["partner_checks"]] == [
        ("city-rentals", "yes")]
    # the token that asked is listed, without its secret or a hash of it
    key_id, secret = token.split("_")[1], token.split("_", 2)[2]
    assert [t["id"] for t in doc["tokens"]] == [key_id]
    assert secret not in r.text and "hash" not in r.text
    # nothing of anyone else: OTHER's events and the referral naming M are theirs
    assert not {"o1", "o2"} & {e["id"] for e in events}


def test_an_export_is_read_only_by_the_member_or_a_read_key(api: Api) -> None:
    seed(api)
    path = f"/v1/members/{M}/export"
    other = api.token_for(OTHER)
    for who in (other, api.ingest, api.rentals, erase_key(api)):
        r = api.client.get(path, headers=api.as_(who))
        assert r.status_code == 403, r.text
    # another member's token: the same 403 whether the member exists or not
    missing = api.client.get("/v1/members/m-nobody/export", headers=api.as_(other))
    assert missing.status_code == 403
    assert missing.json()["detail"] == api.client.get(path, headers=api.as_(other)).json()[
        "detail"]
    # an operator key with `read` may (a token it issues could anyway); unknown is 404
    assert get(api, path, api.read)["member"] == M
    r = api.client.get("/v1/members/m-nobody/export", headers=api.as_(api.read))
    assert r.status_code == 404 and r.json()["type"] == "urn:plaudit:problem:not-found"


# -- opt-out and opt-in -----------------------------------------------------------------

def test_opting_out_withdraws_everything_on_every_read(api: Api) -> None:
    token = seed(api)
    assert get(api, f"/v1/members/{M}/score", token) is not None
    before_boards = board_pseudonyms(api)
    pseudonym = get(api, f"/v1/members/{M}/leaderboards", token)["pseudonym"]
    assert pseudonym in before_boards

    r = api.client.post(f"/v1/members/{M}/opt-out", headers=api.as_(token))
    assert r.status_code == 200, r.text
    assert r.json() == {"member": M, "status": "opted_out",
                        "opted_out_at": "2026-11-22T20:00:00+08:00"}

    state = get(api, f"/v1/members/{M}", token)
    assert (state["status"], state["opted_out_at"]) == ("opted_out", r.json()["opted_out_at"])
    assert (state["score"], state["tier"], state["perks"]) == (None, None, [])
    assert get(api, f"/v1/members/{M}/score", token) is None
    assert get(api, f"/v1/members/{M}/tier", token) is None
    assert get(api, f"/v1/members/{M}/perks", token) == []
    assert [(c["partner"], c["granted"]) for c in get(api, f"/v1/members/{M}/consents",
                                                     token)] == [("city-rentals", False)]
    assert api.client.get(CHECK, headers=api.as_(api.rentals)).status_code == 403
    assert pseudonym not in board_pseudonyms(api)
    assert board_pseudonyms(api) == [p for p in before_boards if p != pseudonym]
    assert not any(b["joined"] for b in get(api, f"/v1/members/{M}/leaderboards",
                                             token)["boards"])
    with api.svc.store.read() as tx:
        no = tx.member_no(M)
        assert no is not None and tx.member_entries(no) == []   # the rows are gone
    # the points already earned stay the member's own record
    assert state["points"]["balance"] > 0


def test_an_opted_out_member_is_not_collected(api: Api) -> None:
    token = seed(api)
    api.client.post(f"/v1/members/{M}/opt-out", headers=api.as_(token))   # at 20:00
    api.clock.now += 3_600_000_000
    events = api.svc.summary()["events"]
    # a batch with one of their events stores nothing, not even the other member's
    r = api.post_events([purchase("o9", OTHER, "2026-11-22T20:30:00+08:00"),
                         purchase("r9", M, "2026-11-22T20:30:00+08:00")])
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "urn:plaudit:problem:member-opted-out"
    assert [(e["where"], e["field"]) for e in r.json()["errors"]] == [("item 1", "member")]
    # granting and joining are refused; withdrawing is always possible
    grant = api.client.put(f"/v1/members/{M}/consents/city-rentals", headers=api.as_(token))
    assert grant.status_code == 409
    join = api.client.put(f"/v1/members/{M}/leaderboards/{BOARD}", headers=api.as_(token))
    assert join.status_code == 409
    assert api.svc.summary()["events"] == events
    revoke = api.client.delete(f"/v1/members/{M}/consents/partner-hotels",
                               headers=api.as_(token))
    assert revoke.status_code == 200
    # asking again records nothing and answers the same
    first = get(api, f"/v1/members/{M}", api.read)["opted_out_at"]
    again = api.client.post(f"/v1/members/{M}/opt-out", headers=api.as_(api.ingest))
    assert again.status_code == 200 and again.json()["opted_out_at"] == first
    assert api.svc.summary()["events"] == events + 1         # only the revocation
    # an event dated before the opt-out happened while they took part: it is a fact
    late = api.post_events([purchase("r0", M, "2026-11-22T19:00:00+08:00")])
    assert late.status_code == 201, late.text
    assert get(api, f"/v1/members/{M}", api.read)["score"] is None  # and still not scored


def test_opting_in_scores_again_and_keeps_the_withdrawals(api: Api) -> None:
    token = seed(api)
    score = get(api, f"/v1/members/{M}/score", token)
    api.client.post(f"/v1/members/{M}/opt-out", headers=api.as_(token))
    api.clock.now += 60_000_000
    r = api.client.post(f"/v1/members/{M}/opt-in", headers=api.as_(token))
    assert r.status_code == 200, r.text
    assert r.json() == {"member": M, "status": "active", "opted_out_at": None}
    events = api.svc.summary()["events"]
    again = api.client.post(f"/v1/members/{M}/opt-in", headers=api.as_(token))
    assert again.json() == r.json() and api.svc.summary()["events"] == events

    state = get(api, f"/v1/members/{M}", token)
    assert state["status"] == "active" and state["score"] == score
    # consents and boards stay withdrawn until the member grants or joins again
    assert api.client.get(CHECK, headers=api.as_(api.rentals)).status_code == 403
    assert not any(b["joined"] for b in state["leaderboards"])
    api.client.put(f"/v1/members/{M}/consents/city-rentals", headers=api.as_(token))
    assert api.client.get(CHECK, headers=api.as_(api.rentals)).status_code == 200
    r = api.post_events([purchase("r10", M, "2026-11-22T19:00:00+08:00")])
    assert r.status_code == 201, r.text


def test_who_may_opt_a_member_out(api: Api) -> None:
    seed(api)
    read_only = api.client.post(f"/v1/members/{M}/tokens",
                                headers=api.as_(api.read)).json()["token"]
    for path in (f"/v1/members/{M}/opt-out", f"/v1/members/{M}/opt-in"):
        for who in (read_only, api.read, api.rentals, api.token_for(OTHER)):
            r = api.client.post(path, headers=api.as_(who))
            assert r.status_code == 403, (path, r.text)
    assert get(api, f"/v1/members/{M}", api.read)["status"] == "active"


def test_unknown_members_answer_alike(api: Api) -> None:
    """An `ingest` key creates members by sending events; opting one out that was not seen
    yet records them as out (their events are then refused); opting one in creates no one.
    The answers are the same as for members who exist."""
    seed(api)
    r = api.client.post("/v1/members/m-new/opt-in", headers=api.as_(api.ingest))
    assert r.json() == {"member": "m-new", "status": "active", "opted_out_at": None}
    assert api.client.get("/v1/members/m-new", headers=api.as_(api.read)).status_code == 404
    r = api.client.post("/v1/members/m-new/opt-out", headers=api.as_(api.ingest))
    assert r.status_code == 200 and r.json()["status"] == "opted_out"
    assert get(api, "/v1/members/m-new", api.read)["status"] == "opted_out"
    refused = api.post_events([purchase("n1", "m-new", "2026-11-22T21:00:00+08:00")])
    assert refused.status_code == 409


# -- erasure ----------------------------------------------------------------------------

def test_erasure_without_its_confirmation_erases_nothing(api: Api) -> None:
    seed(api)
    before = every_row(api.svc.store.engine)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({}, "header", CONFIRM),
        ({"confirm": OTHER}, "header", CONFIRM),
        ({"confirm": M.upper()}, "header", CONFIRM),
        ({"confirm": f" {M}x"}, "header", CONFIRM),
        ({"confirm": M, "content": b'{"confirm": "' + M.encode() + b'"}',
          "extra": {"Content-Type": "application/json"}}, "body", ""),
    ]
    for case, where, field in cases:
        headers = {**api.as_(api.admin), **case.get("extra", {})}
        if "confirm" in case:
            headers[CONFIRM] = case["confirm"]
        r = api.client.request("DELETE", f"/v1/members/{M}", headers=headers,
                               content=case.get("content"))
        assert r.status_code == 422, (case, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert [(e["where"], e["field"]) for e in r.json()["errors"]] == [(where, field)]
    # the header twice, and a confirmation in the query instead
    twice = api.client.request("DELETE", f"/v1/members/{M}", headers=[
        ("Authorization", f"Bearer {api.admin}"), (CONFIRM, M), (CONFIRM, M)])
    assert twice.status_code == 422 and "more than once" in twice.json()["detail"]
    query = api.client.delete(f"/v1/members/{M}?confirm={M}", headers=api.as_(api.admin))
    assert query.status_code == 422 and query.json()["errors"][0]["field"] == "confirm"
    assert every_row(api.svc.store.engine) == before
    assert get(api, f"/v1/members/{M}", api.read)["member"] == M


def test_only_an_erase_or_admin_key_may_erase(api: Api) -> None:
    own = seed(api)
    for who in (own, api.token_for(OTHER), api.read, api.ingest, api.backend, api.rentals):
        r = erase(api, M, who, confirm=M)
        assert r.status_code == 403, r.text
    eraser = erase_key(api)
    assert api.client.get(f"/v1/members/{M}", headers=api.as_(eraser)).status_code == 403
    assert erase(api, M, eraser, confirm=M).status_code == 200
    assert erase(api, OTHER, api.admin, confirm=OTHER).status_code == 200   # admin implies it
    assert erase(api, M, eraser, confirm=M).status_code == 404             # gone already


def test_erasure_leaves_no_row_mentioning_the_member(api: Api) -> None:
    token = seed(api)
    with api.svc.store.read() as tx:
        no = tx.member_no(M)
    assert no is not None
    assert leaks(every_row(api.svc.store.engine), M, no), "the scan must see them first"
    other_before = get(api, f"/v1/members/{OTHER}", api.read)

    r = erase(api, M, api.admin, confirm=M)
    assert r.status_code == 200, r.text
    done = r.json()
    assert set(done) == {"tombstone", "erased_at", "events", "rewritten", "refolded"}
    assert done["tombstone"].startswith("erased-") and M not in r.text
    assert (done["events"], done["rewritten"], done["refolded"]) == (7, 2, 1)

    rows = every_row(api.svc.store.engine)
    assert leaks(rows, M, no) == []
    assert [t["tombstone_id"] for t in rows["tombstones"]] == [done["tombstone"]]
    # the member is gone for every caller, their token with them
    for path in (f"/v1/members/{M}", f"/v1/members/{M}/export"):
        assert api.client.get(path, headers=api.as_(api.read)).status_code == 404
    assert api.client.get(f"/v1/members/{M}", headers=api.as_(token)).status_code == 401
    assert erase(api, M, api.admin, confirm=M).status_code == 404
    # the others keep what they earned; the referral now names the tombstone
    assert get(api, f"/v1/members/{OTHER}", api.read)["points"] == other_before["points"]
    # the same id sent again is a new member with nothing of the old one
    r = api.post_events([purchase("n1", M, "2026-11-22T19:00:00+08:00", amount="10")])
    assert r.status_code == 201, r.text
    again = get(api, f"/v1/members/{M}/export", api.read)
    assert [e["id"] for e in again["events"]] == ["n1"]
    assert again["disputes"] == again["partner_checks"] == again["tokens"] == []


def test_hostile_member_ids_and_bodies_store_nothing(api: Api) -> None:
    seed(api)
    before = every_row(api.svc.store.engine)
    bad_ids = ["x" * 129, "a b", "-lead", "m%2F..%2Fx", "m\u00e9", "m%00"]
    for bad in bad_ids:
        for method, path in (("GET", f"/v1/members/{bad}/export"),
                             ("POST", f"/v1/members/{bad}/opt-out"),
                             ("POST", f"/v1/members/{bad}/opt-in"),
                             ("DELETE", f"/v1/members/{bad}")):
            headers = {**api.as_(api.admin), CONFIRM: "x"}
            r = api.client.request(method, path, headers=headers)
            assert r.status_code in (404, 422), (bad, method, r.text)
            if r.status_code == 422:
                assert r.json()["errors"][0]["field"] == "member_id", (bad, r.text)
            else:  # a path with a slash in it is no route at all
                assert "no such route" in r.json()["detail"], (bad, r.text)
    # a body where none is taken is refused, a huge one before it is read
    r = api.client.post(f"/v1/members/{M}/opt-out", headers=api.as_(api.admin),
                        json={"opted_out": True})
    assert r.status_code == 422 and r.json()["errors"][0]["where"] == "body"
    r = erase(api, M, api.admin, confirm=M, content=b"x" * 2_000_001)
    assert r.status_code == 413
    r = erase(api, M, api.admin, confirm="y" * 100_000)
    assert r.status_code in (422, 431) and "y" * 300 not in r.text
    assert every_row(api.svc.store.engine) == before


# -- erasure requests: what a member's own token may do towards erasure -------------------

def test_a_member_asks_to_be_erased_and_is_opted_out_at_once(api: Api) -> None:
    token = seed(api)
    assert get(api, f"/v1/members/{M}/erasure-request", token) is None
    r = api.client.post(f"/v1/members/{M}/erasure-request", headers=api.as_(token))
    assert r.status_code == 200, r.text
    asked = r.json()
    assert (asked["member"], asked["status"], asked["reason"]) == (M, "pending", None)
    assert get(api, f"/v1/members/{M}", token)["status"] == "opted_out"
    again = api.client.post(f"/v1/members/{M}/erasure-request", headers=api.as_(token))
    assert again.json() == asked                       # idempotent while pending
    queue = api.client.get("/v1/erasure-requests", headers=api.as_(api.admin))
    assert [q["member"] for q in queue.json()] == [M]
    # the member's token still cannot erase
    assert erase(api, M, token, confirm=M).status_code == 403
    assert get(api, f"/v1/members/{M}/export", token)["erasure_request"] == asked


def test_the_queue_and_decisions_need_the_erase_scope(api: Api) -> None:
    token = seed(api)
    api.client.post(f"/v1/members/{M}/erasure-request", headers=api.as_(token))
    for key in (token, api.read, api.ingest, api.backend):
        assert api.client.get("/v1/erasure-requests", headers=api.as_(key)).status_code == 403
        r = api.client.post(f"/v1/members/{M}/erasure-request/decline",
                            json={"reason": "kept"}, headers=api.as_(key))
        assert r.status_code == 403
    assert get(api, f"/v1/members/{M}/erasure-request", token)["status"] == "pending"


def test_a_decline_gives_the_member_the_reason(api: Api) -> None:
    token = seed(api)
    api.client.post(f"/v1/members/{M}/erasure-request", headers=api.as_(token))
    r = api.client.post(f"/v1/members/{M}/erasure-request/decline",
                        json={"reason": "an open chargeback is kept 90 days"},
                        headers=api.as_(api.admin))
    assert r.status_code == 200, r.text
    seen = get(api, f"/v1/members/{M}/erasure-request", token)
    assert (seen["status"], seen["reason"]) == ("declined", "an open chargeback is kept 90 days")
    assert api.client.get("/v1/erasure-requests", headers=api.as_(api.admin)).json() == []
    twice = api.client.post(f"/v1/members/{M}/erasure-request/decline",
                            json={"reason": "again"}, headers=api.as_(api.admin))
    assert twice.status_code == 409


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 501},
                                  {"reason": "ok", "extra": 1}, {"reason": 5}])
def test_a_bad_decline_is_422_and_changes_nothing(api: Api, body: dict[str, Any]) -> None:
    token = seed(api)
    api.client.post(f"/v1/members/{M}/erasure-request", headers=api.as_(token))
    r = api.client.post(f"/v1/members/{M}/erasure-request/decline", json=body,
                        headers=api.as_(api.admin))
    assert r.status_code == 422, r.text
    assert r.json()["errors"]
    assert get(api, f"/v1/members/{M}/erasure-request", token)["status"] == "pending"


def test_erasing_a_requester_empties_the_queue(api: Api) -> None:
    token = seed(api)
    api.client.post(f"/v1/members/{M}/erasure-request", headers=api.as_(token))
    assert erase(api, M, api.admin, confirm=M).status_code == 200
    assert api.client.get("/v1/erasure-requests", headers=api.as_(api.admin)).json() == []
