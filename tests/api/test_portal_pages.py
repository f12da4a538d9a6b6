"""The member portal's pages and forms, over the real app: what a member reads, what each
form changes (through the same service calls as the API), and what it refuses (CSRF,
another site, a read-only token, hostile fields) with nothing stored."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from plaudit.entrypoints.web.session import csrf_for

from .conftest import Api, purchase

MEMBER = "alice"
PAGES = ["/portal", "/portal/score", "/portal/points", "/portal/perks", "/portal/play",
         "/portal/leaderboards", "/portal/rewards", "/portal/data"]


def _member(api: Api, member: str = MEMBER) -> None:
    events = [purchase(f"{member}-p{i}", member, at=f"2026-11-0{i + 1}T10:00:00+08:00")
              for i in range(3)]
    events.append({"id": f"{member}-id", "member": member, "type": "identity_verified",
                   "at": "2026-11-05T10:00:00+08:00", "attributes": {"method": "phone"}})
    events.append({"id": f"{member}-r1", "member": member, "type": "repayment",
                   "at": "2026-11-06T10:00:00+08:00",
                   "attributes": {"amount": "50", "days_late": 0}})
    r = api.post_events(events)
    assert r.status_code == 201, r.text


class Portal:
    """A browser's view of the portal: the member's cookie, and forms posted with the
    page's CSRF field."""

    def __init__(self, api: Api, member: str = MEMBER, *, consents: bool = True) -> None:
        self.api = api
        self.client = TestClient(api.client.app, raise_server_exceptions=False)
        issuer = api.svc.access.authenticate(api.backend if consents else api.read)
        self.token = api.svc.access.issue_member_token(
            member, 900, issued_by=issuer.key_id, actor="test", consents=consents).token
        r = self.client.get(f"/portal/signin?token={self.token}", follow_redirects=False)
        assert r.status_code == 303
        self.csrf = csrf_for(self.token)

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post(self, path: str, data: dict[str, str] | list[tuple[str, str]] | None = None,
             *, csrf: bool = True, **kwargs: Any) -> Any:
        items = list(data.items()) if isinstance(data, dict) else list(data or [])
        if csrf:
            items.append(("csrf", self.csrf))
        form: dict[str, list[str]] = {}
        for name, value in items:
            form.setdefault(name, []).append(value)
        return self.client.post(path, data=form, follow_redirects=False, **kwargs)

    def flash(self, response: Any) -> str:
        """Follow a form's 303 and read the message the page shows."""
        assert response.status_code == 303, response.text
        page = self.client.get(response.headers["location"]).text
        found = re.search(r'<div class="flash [^"]*" role="(?:status|alert)">(.*?)</div>',
                          page, re.S)
        assert found, "no message on the page"
        return found.group(1)


def _events(api: Api) -> int:
    count: int = api.svc.summary()["events"]
    return count


@pytest.fixture
def portal(api: Api) -> Portal:
    _member(api)
    return Portal(api)


# -- reading ---------------------------------------------------------------------------

def test_every_page_renders_for_the_member_with_security_headers(portal: Portal) -> None:
    for path in PAGES:
        r = portal.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"
        assert 'aria-current="page"' in r.text
        assert "style=" not in r.text and "<script>" not in r.text


def test_overview_shows_score_band_balance_tier_and_reasons(portal: Portal, api: Api) -> None:
    state = api.svc.member_state(MEMBER, history=False)
    page = portal.get("/portal").text
    assert state.score is not None and state.tier is not None
    assert f"Score {state.score.value}, band {state.score.band}" in page
    assert f'data-testid="balance">{state.points.balance:,}<' in page
    assert state.tier.name in page
    assert state.score.reasons[0].reason in page
    assert "<progress" in page  # progress to the next tier


def test_score_page_explains_each_factor_with_the_plan_and_history(api: Api) -> None:
    r = api.post_events([purchase("carol-p0", "carol", amount="20", category="games"),
                         purchase("carol-p1", "carol", at="2026-11-10T10:00:00+08:00",
                                  amount="35", category="books")])
    assert r.status_code == 201, r.text
    x = api.svc.explain("carol")
    assert x is not None
    page = Portal(api, "carol").get("/portal/score").text
    for f in x.factors:
        assert f'data-factor="{f.id}"' in page and f.label in page
    lost = [f for f in x.factors if f.points_lost > 0]
    assert lost and lost[0].reason in page and lost[0].improve in page
    assert x.plan is not None and f"To reach <strong>{x.plan.band}</strong>" in page
    assert x.plan.steps[0].improve in page
    assert 'data-chart="score-history-data"' in page or "since" in page


def test_points_page_lists_the_statement_with_dispute_forms(portal: Portal) -> None:
    page = portal.get("/portal/points").text
    assert "alice-p0" in page and "Send dispute" in page
    assert 'name="event_id" value="alice-p2"' in page
    assert "When your points expire" in page


def test_a_page_without_a_session_redirects_to_sign_in(api: Api) -> None:
    r = TestClient(api.client.app).get("/portal/rewards", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/portal/signin?next=/portal/rewards"


# -- consents --------------------------------------------------------------------------

def test_allowing_and_stopping_a_partner(portal: Portal, api: Api) -> None:
    r = portal.post("/portal/consents", {"partner": "city-rentals", "granted": "yes"})
    assert "city-rentals may now check" in portal.flash(r)
    state = api.svc.member_state(MEMBER, history=False)
    assert [(c.partner, c.granted) for c in state.consents] == [("city-rentals", True)]
    assert "Stop allowing<span class=\"visually-hidden\"> city-rentals<" in portal.get(
        "/portal/perks").text
    r = portal.post("/portal/consents", {"partner": "city-rentals", "granted": "no"})
    assert "can no longer check" in portal.flash(r)
    state = api.svc.member_state(MEMBER, history=False)
    assert [(c.partner, c.granted) for c in state.consents] == [("city-rentals", False)]


def test_a_partner_check_shows_in_the_log(portal: Portal, api: Api) -> None:
    portal.post("/portal/consents", {"partner": "city-rentals", "granted": "yes"})
    r = api.client.get(f"/v1/partner/perks/deposit_free_rental/members/{MEMBER}",
                       headers=api.as_(api.rentals))
    assert r.status_code in (200, 403), r.text
    page = portal.get("/portal/perks").text
    assert "No partner has checked" not in page and "city-rentals" in page


def test_granting_a_partner_no_perk_lists_is_refused_with_nothing_stored(
        portal: Portal, api: Api) -> None:
    before = _events(api)
    r = portal.post("/portal/consents", {"partner": "acme-spy", "granted": "yes"})
    assert "no perk of the rulebook lists partner `acme-spy`" in portal.flash(r)
    assert _events(api) == before


# -- rewards ---------------------------------------------------------------------------

def _redeem_form(page: str, reward: str) -> dict[str, str]:
    found = re.search(r'name="reward" value="' + reward + r'">\s*<input type="hidden" '
                      r'name="key" value="([^"]+)"', page)
    assert found, f"no redeem form for {reward}"
    return {"reward": reward, "key": found.group(1)}


def test_redeeming_twice_with_the_same_form_spends_once(portal: Portal, api: Api) -> None:
    before = api.svc.member_state(MEMBER, history=False).points.balance
    form = _redeem_form(portal.get("/portal/rewards").text, "coffee")
    assert "Redeemed Coffee voucher for 150 points" in portal.flash(
        portal.post("/portal/rewards/redeem", form))
    assert "already redeemed with this form" in portal.flash(
        portal.post("/portal/rewards/redeem", form))
    state = api.svc.member_state(MEMBER, history=False)
    assert state.points.balance == before - 150 and len(state.redemptions) == 1
    page = portal.get("/portal/rewards").text
    assert f'data-testid="balance">{before - 150:,}<' in page


def test_cancelling_a_redemption_returns_its_points(portal: Portal, api: Api) -> None:
    before = api.svc.member_state(MEMBER, history=False).points.balance
    portal.post("/portal/rewards/redeem", _redeem_form(portal.get("/portal/rewards").text,
                                                       "coffee"))
    redemption = api.svc.member_state(MEMBER, history=False).redemptions[0].id
    r = portal.post("/portal/rewards/cancel", {"redemption": redemption})
    api.clock.now += 1_000_000  # the cancellation is recorded just after the redemption
    assert "150 points are back" in portal.flash(r)
    state = api.svc.member_state(MEMBER, history=False)
    assert state.points.balance == before and state.redemptions[0].status == "cancelled"


def test_a_reward_the_member_cannot_have_says_why(portal: Portal, api: Api) -> None:
    page = portal.get("/portal/rewards").text
    assert "Not now:" in page and 'requires `tier &gt;= &#34;Gold&#34;`' in page
    before = _events(api)
    r = portal.post("/portal/rewards/redeem", {"reward": "airport-lounge", "key": "k-1"})
    assert "Gold" in portal.flash(r)
    assert _events(api) == before


# -- leaderboards ----------------------------------------------------------------------

def test_joining_and_leaving_a_board(portal: Portal, api: Api) -> None:
    r = portal.post("/portal/leaderboards/join", {"board": "good-spend-monthly",
                                                  "joined": "yes"})
    assert "You joined" in portal.flash(r)
    boards = api.svc.member_leaderboards(MEMBER).boards
    assert boards[0].joined
    page = portal.get("/portal/leaderboards").text
    assert "Leave this board" in page and 'class="pill">you</span>' in page
    portal.post("/portal/leaderboards/join", {"board": "good-spend-monthly", "joined": "no"})
    assert not api.svc.member_leaderboards(MEMBER).boards[0].joined


def test_choosing_a_pseudonym_by_number_and_at_random(portal: Portal, api: Api) -> None:
    r = portal.post("/portal/pseudonym", {"seed": "42"})
    name = api.svc.member_leaderboards(MEMBER).pseudonym
    assert f"Your pseudonym is now {name} (number 42)" in portal.flash(r)
    r = portal.post("/portal/pseudonym", {})
    assert "Your pseudonym is now" in portal.flash(r)
    before = _events(api)
    r = portal.post("/portal/pseudonym", {"seed": "-1"})
    assert "whole number from 0" in portal.flash(r)
    assert _events(api) == before


def test_naming_a_friend_and_not_oneself(portal: Portal, api: Api) -> None:
    r = portal.post("/portal/friends", {"friend": "bob", "granted": "yes"})
    assert "You named bob as a friend" in portal.flash(r)
    assert api.svc.member_leaderboards(MEMBER).friends == ("bob",)
    assert "Remove<span class=\"visually-hidden\"> friend bob</span>" in portal.get(
        "/portal/leaderboards").text
    r = portal.post("/portal/friends", {"friend": MEMBER, "granted": "yes"})
    assert "cannot name themself" in portal.flash(r)
    r = portal.post("/portal/friends", {"friend": "not an id!", "granted": "yes"})
    assert "A member id is made of" in portal.flash(r)
    portal.post("/portal/friends", {"friend": "bob", "granted": "no"})
    assert api.svc.member_leaderboards(MEMBER).friends == ()


# -- data rights -----------------------------------------------------------------------

def test_the_export_downloads_as_a_json_attachment(portal: Portal) -> None:
    r = portal.get("/portal/data/export")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith(
        'attachment; filename="plaudit-export-alice-')
    document = orjson.loads(r.content)
    assert document["format"] == "plaudit-export/1" and document["member"] == MEMBER


def test_disputing_an_event_from_the_statement(portal: Portal, api: Api) -> None:
    before = api.svc.member_state(MEMBER, history=False).points.balance
    r = portal.post("/portal/disputes", {"event_id": "alice-p1", "reason": "not-mine"})
    assert "left out of your points" in portal.flash(r)
    assert api.svc.member_state(MEMBER, history=False).points.balance < before
    data = portal.get("/portal/data").text
    assert "alice-p1" in data and ">open<" in data
    points = portal.get("/portal/points").text
    assert 'name="event_id" value="alice-p1"' not in points
    r = portal.post("/portal/disputes", {"event_id": "alice-p1", "reason": "not-mine"})
    assert "already disputed" in portal.flash(r)


def test_disputing_another_members_event_is_refused_like_an_unknown_one(
        portal: Portal, api: Api) -> None:
    _member(api, "bob")
    mine = portal.flash(portal.post("/portal/disputes", {"event_id": "bob-p1",
                                                         "reason": "other"}))
    unknown = portal.flash(portal.post("/portal/disputes", {"event_id": "zzz",
                                                            "reason": "other"}))
    assert mine.replace("bob-p1", "X") == unknown.replace("zzz", "X")
    assert api.svc.disputes.of_member(MEMBER) == []


def test_opting_out_needs_the_tick_then_opting_in(portal: Portal, api: Api) -> None:
    r = portal.post("/portal/opt-out", {})
    assert "Tick the box" in portal.flash(r)
    assert api.svc.member_state(MEMBER, history=False).status == "active"
    r = portal.post("/portal/opt-out", {"confirm": "yes"})
    assert "You left the program" in portal.flash(r)
    assert api.svc.member_state(MEMBER, history=False).status == "opted_out"
    for path in PAGES:  # every page still renders for an opted-out member
        assert portal.get(path).status_code == 200, path
    assert "Take part again" in portal.get("/portal/data").text
    # while out, the forms that would take part again are disabled, saying why ...
    perks = portal.get("/portal/perks").text
    assert 'disabled aria-describedby="opted-out">Allow' in perks
    assert 'id="opted-out"' in perks
    boards = portal.get("/portal/leaderboards").text
    assert 'disabled aria-describedby="opted-out">Join this board' in boards
    # ... and a grant sent anyway is refused in plain words, not the API's wording
    r = portal.post("/portal/consents", {"partner": "city-rentals", "granted": "yes"})
    said = portal.flash(r)
    assert said.startswith("You left the program: take part again") and "`" not in said
    # the gauge keeps the rulebook's scale for a member with no score
    assert 'on a scale of 350 to 950' in portal.get("/portal").text
    r = portal.post("/portal/opt-in", {"confirm": "yes"})
    assert "Welcome back" in portal.flash(r)
    assert api.svc.member_state(MEMBER, history=False).status == "active"


def test_an_erasure_request_needs_the_member_id_typed(portal: Portal, api: Api) -> None:
    before = _events(api)
    r = portal.post("/portal/erasure-request", {"confirm": "alic"})
    assert "Type your member id, alice, exactly" in portal.flash(r)
    assert api.svc.erasure_request(MEMBER) is None and _events(api) == before
    r = portal.post("/portal/erasure-request", {"confirm": MEMBER})
    assert "Your erasure request is sent" in portal.flash(r)
    request = api.svc.erasure_request(MEMBER)
    assert request is not None and request.status == "pending"
    assert api.svc.member_state(MEMBER, history=False).status == "opted_out"
    page = portal.get("/portal/data").text
    assert "Requested" in page and "Ask to erase my data" not in page
    assert any(e.action == "member.erase_request" for e in api.svc.audit_page().entries)


def test_a_declined_erasure_request_shows_the_reason(portal: Portal, api: Api) -> None:
    portal.post("/portal/erasure-request", {"confirm": MEMBER})
    api.svc.decline_erasure(MEMBER, "An open invoice must be kept for 30 days.",
                            actor="test")
    page = portal.get("/portal/data").text
    assert "Declined" in page and "An open invoice must be kept for 30 days." in page
    assert "Ask to erase my data" in page  # the member may ask again


# -- refusals --------------------------------------------------------------------------

WRITES = [("/portal/consents", {"partner": "city-rentals", "granted": "yes"}),
          ("/portal/rewards/redeem", {"reward": "coffee", "key": "k-refused"}),
          ("/portal/leaderboards/join", {"board": "good-spend-monthly", "joined": "yes"}),
          ("/portal/pseudonym", {"seed": "7"}),
          ("/portal/friends", {"friend": "bob", "granted": "yes"}),
          ("/portal/disputes", {"event_id": "alice-p0", "reason": "other"}),
          ("/portal/opt-out", {"confirm": "yes"}),
          ("/portal/erasure-request", {"confirm": MEMBER})]


@pytest.mark.parametrize(("path", "data"), WRITES)
def test_a_form_without_its_csrf_field_is_refused_and_changes_nothing(
        portal: Portal, api: Api, path: str, data: dict[str, str]) -> None:
    before = _events(api)
    r = portal.post(path, data, csrf=False)
    assert r.status_code == 403 and "Form refused" in r.text
    r = portal.post(path, [*data.items(), ("csrf", "0" * 32)], csrf=False)
    assert r.status_code == 403
    assert _events(api) == before


@pytest.mark.parametrize(("path", "data"), WRITES)
def test_a_form_from_another_site_is_refused(portal: Portal, api: Api, path: str,
                                            data: dict[str, str]) -> None:
    before = _events(api)
    r = portal.post(path, data, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "another site" in r.text
    assert _events(api) == before


@pytest.mark.parametrize(("path", "data"), WRITES)
def test_a_read_only_token_sees_disabled_forms_and_cannot_post(
        api: Api, path: str, data: dict[str, str]) -> None:
    _member(api)
    portal = Portal(api, consents=False)
    page = portal.get("/portal/rewards").text
    assert "can only read" in page and "disabled" in page
    before = _events(api)
    r = portal.post(path, data)
    assert r.status_code == 403 and "can only read" in r.text
    assert _events(api) == before


HOSTILE = [
    ("an oversized field", [("partner", "x" * 5000), ("granted", "yes")], "longer than"),
    ("a repeated field", [("partner", "city-rentals"), ("partner", "partner-hotels"),
                          ("granted", "yes")], "sent twice"),
    ("an unknown field", [("partner", "city-rentals"), ("granted", "yes"),
                          ("admin", "1")], "not part of this form"),
    ("a malformed id", [("partner", "../../etc"), ("granted", "yes")], "not valid"),
    ("a missing field", [("partner", "city-rentals")], "is missing"),
    ("an unknown choice", [("partner", "city-rentals"), ("granted", "oui")],
     "must be one of"),
    ("markup", [("partner", "<script>alert(1)</script>"), ("granted", "yes")], "not valid"),
]


@pytest.mark.parametrize(("what", "data", "says"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_fields_are_a_clear_4xx_page_and_nothing_is_stored(
        portal: Portal, api: Api, what: str, data: list[tuple[str, str]], says: str) -> None:
    before = _events(api)
    r = portal.post("/portal/consents", data)
    assert r.status_code == 422, r.text
    assert says in r.text and "<script>alert" not in r.text
    assert _events(api) == before


@pytest.mark.parametrize(("path", "data"), [
    ("/portal/rewards/redeem", {"reward": "coffee", "key": "k" * 200}),
    ("/portal/rewards/redeem", {"reward": "coffee", "key": "bad key"}),
    ("/portal/rewards/cancel", {"redemption": "<x>"}),
    ("/portal/disputes", {"event_id": "alice-p0", "reason": "I just hate it"}),
    ("/portal/leaderboards/join", {"board": "good-spend-monthly", "joined": "1"}),
    ("/portal/pseudonym", {"seed": "9" * 30}),
    ("/portal/opt-out", {"confirm": "no"}),
])
def test_malformed_values_on_every_form_are_refused(portal: Portal, api: Api, path: str,
                                                    data: dict[str, str]) -> None:
    before = _events(api)
    r = portal.post(path, data)
    assert r.status_code == 422, (path, r.status_code, r.text[:300])
    assert _events(api) == before


def test_a_file_upload_is_refused(portal: Portal, api: Api) -> None:
    before = _events(api)
    r = portal.client.post("/portal/consents", data={"csrf": portal.csrf, "granted": "yes"},
                           files={"partner": ("p.txt", b"city-rentals")},
                           follow_redirects=False)
    assert r.status_code == 415 and "files" in r.text.lower(), r.text
    assert _events(api) == before


def test_an_unknown_reward_or_redemption_is_a_message_not_an_error(portal: Portal) -> None:
    r = portal.post("/portal/rewards/redeem", {"reward": "caviar", "key": "k-2"})
    assert "no reward `caviar`" in portal.flash(r)
    r = portal.post("/portal/rewards/cancel", {"redemption": "redeem-nope"})
    assert "no redemption `redeem-nope`" in portal.flash(r)
