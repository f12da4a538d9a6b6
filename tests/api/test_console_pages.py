"""The operator console's pages and forms over the real app (TestClient): what each page
shows, what a key's scopes refuse (a 403 page, as the API's 403), CSRF and origin
refusals, and hostile input (a huge rulebook, an alias bomb, repeated and overlong fields)
answered by a clear 4xx page with nothing stored."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plaudit.entrypoints.web.session import csrf_for

from ..conftest import BILLION_LAUGHS, EXAMPLES, HANG, within
from ..integration.test_audit import triggers_off
from .conftest import Api, purchase

MEMBERS = ("m-1", "m-2", "m-3", "m-4")


@pytest.fixture
def program(api: Api) -> Api:
    events = [purchase(f"e{i}", MEMBERS[i % 4], f"2026-11-{1 + i:02d}T10:00:00+08:00",
                       str(30 + 17 * i)) for i in range(16)]
    assert api.post_events(events).status_code == 201
    return api


class Console:
    """A browser's view of the console: its own cookie jar, signed in with one key."""

    def __init__(self, api: Api, key: str) -> None:
        self.client = TestClient(api.client.app, raise_server_exceptions=False)
        self.key = key
        self.csrf = csrf_for(key)
        r = self.client.post("/console/signin", data={"token": key}, follow_redirects=False)
        assert r.status_code == 303, r.text

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict[str, str] | None = None, *, csrf: bool = True,
             **kw: Any) -> Any:
        body = {**({"csrf": self.csrf} if csrf else {}), **(data or {})}
        kw.setdefault("follow_redirects", False)
        return self.client.post(url, data=body, **kw)


@pytest.fixture
def admin(program: Api) -> Iterator[Console]:
    yield Console(program, program.admin)


def key_id(token: str) -> str:
    return token.split("_")[1]


def flash(response: Any) -> str:
    from urllib.parse import unquote
    return unquote(response.cookies.get("plaudit_flash", "")).strip('"')


def wait_for_job(console: Console, url: str) -> Any:
    for _ in range(300):
        r = console.get(url, follow_redirects=False)
        if "Refresh" not in r.headers:
            return r
        time.sleep(0.05)
    pytest.fail(f"the job at {url} did not finish")


# -- pages -------------------------------------------------------------------------------

def test_the_overview_shows_the_program_and_its_charts(program: Api, admin: Console) -> None:
    r = admin.get("/console")
    assert r.status_code == 200
    assert 'data-testid="members">4<' in r.text
    assert 'data-testid="events">16<' in r.text
    for chart in ("events", "histogram", "bands", "tiers"):
        spec = re.search(rf'<script type="application/json" id="chart-{chart}-data">(.*?)'
                         "</script>", r.text, re.S)
        assert spec is not None, chart
        data = json.loads(spec.group(1))
        assert data["labels"] and data["series"]
    events = json.loads(re.search(r'id="chart-events-data">(.*?)</script>', r.text,
                                  re.S).group(1))  # type: ignore[union-attr]
    assert len(events["labels"]) == 90 and sum(events["series"][0]["data"]) == 16
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_the_member_page_shows_score_factors_ledger_and_disputes(program: Api,
                                                                  admin: Console) -> None:
    program.svc.disputes.open("m-2", "e1", "not-mine", actor="test")
    state = program.svc.member_state("m-2")
    r = admin.get("/console/members?id=m-2")  # the look-up form redirects to the page
    assert r.status_code == 200 and r.url.path == "/console/members/m-2"
    assert f'data-testid="balance">{state.points.balance:,}<' in r.text
    assert state.score is not None and f">{state.score.value}</text>" in r.text
    explanation = program.svc.explain("m-2")
    assert explanation is not None
    for factor in explanation.factors:
        assert factor.label in r.text
    assert "Points statement" in r.text and "<code>e1</code>" in r.text
    assert "Partner checks" in r.text
    assert admin.get("/console/members/nobody").status_code == 404
    bad = admin.get("/console/members/%3Cscript%3E")
    assert bad.status_code == 422 and "<script>" not in bad.text


def test_rulebook_versions_diff_and_source(program: Api, admin: Console) -> None:
    program.svc.publish_rulebook((EXAMPLES / "sesame-style-v2.yaml").read_text(),
                                 actor=key_id(program.admin))
    r = admin.get("/console/rulebooks")
    assert r.status_code == 200
    assert f"<code>{key_id(program.admin)}</code>" in r.text and ">v2</a>" in r.text
    diff = admin.get("/console/rulebooks/diff?a=1&b=2")
    assert diff.status_code == 200
    assert "score.factors[repayment_history].weight" in diff.text
    assert 'class="add">+      weight: 40</span>' in diff.text
    source = admin.get("/console/rulebooks/1")
    lines = program.svc.rulebook_versions()[0].source.count("\n")
    assert source.text.count('<span class="ln"') >= lines
    assert admin.get("/console/rulebooks/7").status_code == 404


def test_the_editor_shows_each_problem_at_its_line_and_stores_nothing(
        program: Api, admin: Console) -> None:
    text = (EXAMPLES / "sesame-style.yaml").read_text()
    opened = admin.get("/console/editor")
    assert "version 1" in opened.text and "weight: 35" in opened.text
    broken = text.replace("weight: 35", "weight: lots", 1)
    line = broken.split("\n").index("      weight: lots") + 1
    r = admin.post("/console/editor", {"action": "check", "text": broken})
    assert r.status_code == 422
    assert f'href="#src-L{line}" data-goto-line="{line}" data-target="rulebook-text"' in r.text
    assert f'class="ln has-error" id="src-L{line}"' in r.text
    assert "weight: lots" in r.text  # the text comes back as typed
    saved = admin.post("/console/editor", {"action": "save", "text": broken})
    assert saved.status_code == 422 and program.svc.drafts() == []
    ok = admin.post("/console/editor", {"action": "check", "text": text})
    assert ok.status_code == 200 and "The rulebook checks" in ok.text
    assert program.svc.drafts() == []


def test_saving_a_draft_is_audited_under_the_key(program: Api, admin: Console) -> None:
    text = (EXAMPLES / "sesame-style-v2.yaml").read_text()
    r = admin.post("/console/editor", {"action": "save", "text": text})
    assert r.status_code == 303 and r.headers["location"] == "/console/drafts/1"
    assert flash(r).startswith("ok:Saved as draft 1")
    assert program.svc.draft(1).source == text
    entry = program.svc.audit_page(1, None, "draft.upload").entries[0]
    assert entry.actor == key_id(program.admin)
    page = admin.get("/console/drafts/1")
    assert page.status_code == 200 and "Draft 1" in page.text
    listed = admin.get("/console/rulebooks")
    assert "/console/drafts/1/backtest" in listed.text


def test_a_backtest_runs_as_a_job_and_shows_its_report(program: Api, admin: Console) -> None:
    program.svc.upload_draft((EXAMPLES / "sesame-style-v2.yaml").read_text(), actor="test")
    r = admin.post("/console/drafts/1/backtest")
    assert r.status_code == 303
    url = r.headers["location"]
    assert re.fullmatch(r"/console/backtests/[0-9a-f]{16}", url)
    page = wait_for_job(admin, url)
    assert page.status_code == 200
    assert "Backtest of draft 1 against published v1" in page.text
    assert 'data-testid="changed">' in page.text
    for chart in ("histogram", "bands", "tiers"):
        assert f'id="chart-bt-{chart}-data"' in page.text
    full = admin.get(url + "/report")
    assert full.status_code == 200 and "<svg" in full.text
    csp = full.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in csp and "script-src" not in csp
    assert "default-src 'none'" in csp
    assert program.svc.rulebook_versions()[-1].version == 1  # nothing published


def test_publishing_a_draft_runs_the_refold_and_names_the_key(program: Api,
                                                              admin: Console) -> None:
    program.svc.upload_draft((EXAMPLES / "sesame-style-v2.yaml").read_text(), actor="test")
    confirm = admin.get("/console/drafts/1/publish")
    assert confirm.status_code == 200 and "Publish draft 1?" in confirm.text
    r = admin.post("/console/drafts/1/publish")
    assert r.status_code == 303
    done = wait_for_job(admin, r.headers["location"])
    assert "Published as" in done.text and "version 2" in done.text
    v2 = program.svc.rulebook_versions()[-1]
    assert (v2.version, v2.published_by) == (2, key_id(program.admin))
    assert program.svc.draft(1).published_version == 2


def test_disputes_are_decided_with_the_key_as_who_decided(program: Api,
                                                          admin: Console) -> None:
    a, _ = program.svc.disputes.open("m-1", "e0", "not-mine", actor="test")
    b, _ = program.svc.disputes.open("m-2", "e1", "wrong-amount", actor="test")
    queue = admin.get("/console/disputes")
    assert a.id in queue.text and b.id in queue.text
    assert admin.post(f"/console/disputes/{a.id}/accept").status_code == 303
    r = admin.post(f"/console/disputes/{b.id}/reject", {"reason": "  The amount is right.  "})
    assert r.status_code == 303 and "counts again" in flash(r)
    decided = {d.id: d for d in program.svc.disputes.page(None, 0, 10).disputes}
    assert decided[a.id].status == "accepted"
    assert (decided[b.id].status, decided[b.id].decision) == ("rejected",
                                                              "The amount is right.")
    assert decided[a.id].decided_by == key_id(program.admin)
    again = admin.post(f"/console/disputes/{a.id}/accept")
    assert again.status_code == 303 and flash(again).startswith("error:")
    assert "No open disputes" in admin.get("/console/disputes").text


def test_audit_log_filter_and_verify(program: Api, admin: Console) -> None:
    r = admin.get("/console/audit?action=key.create")
    assert r.status_code == 200 and r.text.count("<td>key.create</td>") == 6
    assert admin.get("/console/audit?action=key.create&before=4").text.count(
        "<td>key.create</td>") == 2
    assert admin.get("/console/audit?action=nope").status_code == 422
    assert "Intact: " in admin.get("/console/audit/verify").text
    with triggers_off(program.svc.store, "audit_log") as conn:
        conn.exec_driver_sql("UPDATE audit_log SET actor = 'nobody' WHERE seq = 3")
    tampered = admin.get("/console/audit/verify")
    assert "Tampered at entry 3: hash mismatch" in tampered.text


def test_keys_are_created_shown_once_and_revoked(program: Api, admin: Console) -> None:
    r = admin.post("/console/keys", {"name": "reports", "kind": "operator",
                                     "scope_read": "on", "scope_erase": "on"})
    assert r.status_code == 201
    token = re.search(r'value="(plk_[^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    who = program.svc.access.authenticate(token)
    assert (who.name, who.scopes) == ("reports", frozenset({"read", "erase"}))
    assert r.headers["cache-control"] == "no-store"
    listing = admin.get("/console/keys")
    assert "reports" in listing.text and token not in listing.text
    partner = admin.post("/console/keys", {"name": "hotel", "kind": "partner",
                                           "partner": "grand-hotel"})
    assert partner.status_code == 201 and "plp_" in partner.text
    confirm = admin.get(f"/console/keys/{who.key_id}/revoke")
    assert "Revoke “reports”?" in confirm.text
    assert admin.post(f"/console/keys/{who.key_id}/revoke").status_code == 303
    assert program.svc.access.key(who.key_id).revoked_us is not None
    entry = program.svc.audit_page(1, None, "key.revoke").entries[0]
    assert (entry.actor, entry.subject) == (key_id(program.admin), f"key:{who.key_id}")


# -- scopes ------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/console/editor", "/console/keys", "/console/audit",
                                 "/console/drafts/1", "/console/audit/verify"])
def test_admin_pages_refuse_a_read_key_with_a_403_page(program: Api, url: str) -> None:
    r = Console(program, program.read).get(url)
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]
    assert "needs an operator key with the `admin` scope" in r.text


def test_the_navigation_lists_only_what_the_key_may_use(program: Api) -> None:
    nav = re.compile(r'<nav aria-label="Main">(.*?)</nav>', re.S)
    read = nav.search(Console(program, program.read).get("/console").text).group(1)  # type: ignore[union-attr]
    assert "Members" in read and "Disputes" in read
    assert "Keys" not in read and "Editor" not in read and "Audit" not in read
    full = nav.search(Console(program, program.admin).get("/console").text).group(1)  # type: ignore[union-attr]
    assert all(x in full for x in ("Members", "Rulebooks", "Editor", "Disputes", "Audit",
                                   "Keys"))
    erase = program.svc.access.create_key("erasure", ["erase"], actor="test").token
    page = Console(program, erase).get("/console")
    assert page.status_code == 200 and 'data-testid="members"' not in page.text
    assert Console(program, erase).get("/console/members/m-1").status_code == 403


def test_deciding_a_dispute_needs_ingest(program: Api) -> None:
    d, _ = program.svc.disputes.open("m-1", "e0", "not-mine", actor="test")
    reader = Console(program, program.read)
    assert d.id in reader.get("/console/disputes").text
    assert "/accept" not in reader.get("/console/disputes").text  # no buttons offered
    r = reader.post(f"/console/disputes/{d.id}/accept")
    assert r.status_code == 403 and "`ingest` scope" in r.text
    assert program.svc.disputes.get(d.id).status == "open"
    ingest = Console(program, program.ingest)
    assert ingest.get("/console/disputes").status_code == 403  # listing needs read
    assert ingest.post(f"/console/disputes/{d.id}/accept").status_code == 303


def test_a_backtest_and_publishing_need_admin(program: Api) -> None:
    program.svc.upload_draft((EXAMPLES / "sesame-style-v2.yaml").read_text(), actor="test")
    reader = Console(program, program.backend)
    assert reader.post("/console/drafts/1/backtest").status_code == 403
    assert reader.post("/console/drafts/1/publish").status_code == 403
    assert reader.post("/console/keys", {"name": "x", "kind": "operator",
                                         "scope_admin": "on"}).status_code == 403
    assert len(program.svc.rulebook_versions()) == 1
    assert len(program.svc.access.list_keys()) == 6


def test_signed_out_pages_redirect_to_sign_in(program: Api) -> None:
    client = TestClient(program.client.app)
    r = client.get("/console/keys", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/signin?next=/console/keys"
    member = program.token_for("m-1")
    refused = client.post("/console/signin", data={"token": member}, follow_redirects=False)
    assert refused.status_code == 401


# -- forms: CSRF, origin, hostile input ----------------------------------------------------

def test_a_form_without_or_with_a_wrong_csrf_token_is_refused(program: Api,
                                                              admin: Console) -> None:
    data = {"name": "sneaky", "kind": "operator", "scope_admin": "on"}
    missing = admin.post("/console/keys", data, csrf=False)
    wrong = admin.post("/console/keys", {**data, "csrf": "0" * 32}, csrf=False)
    other = Console(program, program.read)  # another key's token
    stolen = admin.post("/console/keys", {**data, "csrf": other.csrf}, csrf=False)
    for r in (missing, wrong, stolen):
        assert r.status_code == 403 and "out of date" in r.text
    foreign = admin.post("/console/keys", data, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "another site" in foreign.text
    assert [k.name for k in program.svc.access.list_keys()].count("sneaky") == 0


def test_an_alias_bomb_in_the_editor_is_refused_fast_and_nothing_is_stored(
        program: Api, admin: Console) -> None:
    audit_before = program.svc.audit_page(1).entries[0].seq
    for action in ("check", "save"):
        r = within(HANG, lambda a=action: admin.post(  # type: ignore[misc]
            "/console/editor", {"action": a, "text": BILLION_LAUGHS}))
        assert r.status_code == 422
        assert "anchors and aliases are not allowed" in r.text
        assert 'data-goto-line="2"' in r.text
    assert program.svc.drafts() == []
    assert program.svc.audit_page(1).entries[0].seq == audit_before


def test_a_huge_rulebook_is_a_4xx_page_and_nothing_is_stored(program: Api,
                                                             admin: Console) -> None:
    """Just over the rulebook limit is a 413 naming it; a form over the request body limit
    is the API's own 413; neither stores anything."""
    text = (EXAMPLES / "sesame-style.yaml").read_text()
    over = text + "#padding\n" * ((1_010_000 - len(text)) // 9)
    r = within(HANG, lambda: admin.post("/console/editor", {"action": "save", "text": over}))
    assert r.status_code == 413 and "text/html" in r.headers["content-type"]
    assert "a rulebook is at most 1000000 bytes" in r.text
    far_over = text + "# padding\n" * 300_000
    r = within(HANG, lambda: admin.post("/console/editor", {"action": "save",
                                                            "text": far_over}))
    assert r.status_code == 413 and "text/html" in r.headers["content-type"]
    assert program.svc.drafts() == []


def test_repeated_overlong_and_malformed_fields_are_refused(program: Api,
                                                            admin: Console) -> None:
    d, _ = program.svc.disputes.open("m-1", "e0", "not-mine", actor="test")
    twice = admin.client.post("/console/keys", content=(
        f"csrf={admin.csrf}&name=a&name=b&kind=operator&scope_read=on"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False)
    assert twice.status_code == 422 and "sent twice" in twice.text
    long_name = admin.post("/console/keys", {"name": "n" * 500, "kind": "operator",
                                             "scope_read": "on"})
    assert long_name.status_code == 422 and "longer than 128" in long_name.text
    bad_partner = admin.post("/console/keys", {"name": "p", "kind": "partner",
                                               "partner": "../etc"})
    assert bad_partner.status_code == 303 and flash(bad_partner).startswith("error:")
    no_scope = admin.post("/console/keys", {"name": "p", "kind": "operator"})
    assert no_scope.status_code == 303 and "at least one scope" in flash(no_scope)
    assert len(program.svc.access.list_keys()) == 6
    long_reason = admin.post(f"/console/disputes/{d.id}/reject", {"reason": "x" * 501})
    empty_reason = admin.post(f"/console/disputes/{d.id}/reject", {"reason": "   "})
    assert long_reason.status_code == 422 and empty_reason.status_code == 422
    assert program.svc.disputes.get(d.id).status == "open"
    action = admin.post("/console/editor", {"action": "publish", "text": "x"})
    assert action.status_code == 422
    assert admin.post("/console/drafts/99/backtest").status_code == 303
    assert admin.get("/console/drafts/0").status_code == 422
    assert admin.get("/console/backtests/not-a-job").status_code == 422
    assert admin.get("/console/backtests/0123456789abcdef").status_code == 404


# -- erasure requests --------------------------------------------------------------------

def test_an_erasure_needs_the_member_id_typed_and_the_erase_scope(program: Api) -> None:
    program.svc.request_erasure("m-3", actor="test")
    program.svc.request_erasure("m-4", actor="test")
    eraser_key = program.svc.access.create_key("eraser", ["erase"], actor="test").token
    eraser = Console(program, eraser_key)
    queue = eraser.get("/console/erasure")
    assert queue.status_code == 200
    assert 'data-member="m-3"' in queue.text and 'data-member="m-4"' in queue.text
    assert "Erasure requests" in queue.text
    wrong = eraser.post("/console/erasure/m-3/erase", {"confirm": "m-4"})
    assert wrong.status_code == 303 and "nothing was erased" in flash(wrong)
    assert program.svc.member_state("m-3").member == "m-3"
    done = eraser.post("/console/erasure/m-3/erase", {"confirm": "m-3"})
    assert done.status_code == 303 and flash(done).startswith("ok:Erased m-3")
    assert eraser.get("/console/members/m-3").status_code == 403  # erase does not read
    assert Console(program, program.admin).get("/console/members/m-3").status_code == 404
    entry = program.svc.audit_page(1, None, "member.erase").entries[0]
    assert entry.actor == key_id(eraser_key)
    declined = eraser.post("/console/erasure/m-4/decline", {"reason": "An open dispute."})
    assert declined.status_code == 303
    asked = program.svc.erasure_request("m-4")
    assert asked is not None and (asked.status, asked.reason) == ("declined",
                                                                  "An open dispute.")
    assert 'data-testid="no-requests"' in eraser.get("/console/erasure").text
    reader = Console(program, program.read)
    assert reader.get("/console/erasure").status_code == 403
    assert reader.post("/console/erasure/m-4/erase", {"confirm": "m-4"}).status_code == 403
    assert program.svc.member_state("m-4").member == "m-4"
