"""The operator console in a real browser: the overview's charts, editing a draft (an
error shown at its line, then fixed), saving it, backtesting it and reading the report
with its charts; deciding disputes, verifying the audit log, creating and revoking keys.

The program is shared by the whole session (tests/browser/conftest.py): these tests
publish nothing, and make their own members where they change one.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest

from plaudit.domain.calendar import from_us
from plaudit.domain.errors import NotFound, Unauthenticated

from .conftest import Program, assert_accessible, sign_in_operator


def test_the_overview_draws_its_charts(page: Any, program: Program) -> None:
    sign_in_operator(page, program)
    for chart in ("events", "histogram", "bands", "tiers"):
        page.locator(f"canvas#chart-{chart}[data-drawn='true']").wait_for()
    members = page.get_by_test_id("members").inner_text().replace(",", "")
    assert int(members) == program.svc.summary()["members"]
    assert_accessible(page)


def test_an_operator_edits_a_draft_checks_saves_and_backtests_it(
        page: Any, program: Program) -> None:
    sign_in_operator(page, program)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Editor").click()
    page.get_by_role("heading", name="Rulebook editor").wait_for()
    assert_accessible(page)
    editor = page.get_by_label("Rulebook (YAML)")
    original = editor.input_value()
    assert original == program.svc.rulebook_versions()[-1].source.replace("\r\n", "\n")
    lines = original.split("\n")
    at = next(i for i, line in enumerate(lines) if line.strip() == "weight: 35") + 1

    # an error: shown at its line, in the list and in the listing
    editor.fill(original.replace("weight: 35", "weight: thirty-five", 1))
    page.get_by_role("button", name="Check").click()
    assert "refused" in page.get_by_role("alert").inner_text()
    assert page.locator(f"#src-L{at}.has-error").count() == 1
    link = page.get_by_role("link", name=f"line {at}")
    assert_accessible(page)
    link.click()  # app.js: the cursor goes to that line of the text
    selected = page.evaluate("""() => {
        const a = document.getElementById('rulebook-text');
        return [document.activeElement === a,
                a.value.slice(a.selectionStart, a.selectionEnd)]; }""")
    assert selected[0] is True and "thirty-five" in selected[1]

    # fixed: it checks, then saves as a draft
    editor = page.get_by_label("Rulebook (YAML)")
    editor.fill(original.replace("weight: 35", "weight: 60", 1))
    page.get_by_role("button", name="Check").click()
    assert "checks" in page.get_by_test_id("check-result").inner_text()
    assert page.locator(".has-error").count() == 0
    drafts_before = len(program.svc.drafts())
    page.get_by_role("button", name="Save as draft").click()
    page.wait_for_url(re.compile(r"/console/drafts/\d+$"))
    draft_id = int(page.url.rsplit("/", 1)[1])
    assert len(program.svc.drafts()) == drafts_before + 1
    assert "weight: 60" in program.svc.draft(draft_id).source
    assert page.get_by_role("status").inner_text().startswith(f"Saved as draft {draft_id}")
    assert_accessible(page)

    # backtest: the job's page refreshes itself until the report is there
    page.get_by_role("button", name="Backtest").click()
    page.get_by_role("heading", name=re.compile(rf"^Backtest of draft {draft_id}")).wait_for(
        timeout=60_000)
    changed = int(page.get_by_test_id("changed").inner_text().replace(",", ""))
    assert changed > 0  # a much heavier first factor moves scores
    for chart in ("histogram", "bands", "tiers"):
        page.locator(f"canvas#chart-bt-{chart}[data-drawn='true']").wait_for()
    assert page.get_by_role("heading", name="Band migration").is_visible()
    assert_accessible(page)

    # the full report: its own page, inline SVG charts
    page.get_by_role("link", name="Full report").click()
    page.get_by_role("heading", name=re.compile("^Backtest of draft")).wait_for()
    assert page.locator("svg").count() >= 2
    assert_accessible(page)
    assert len(program.svc.rulebook_versions()) == 1  # nothing was published


def _disputed_member(program: Program) -> tuple[str, str]:
    """A fresh member with one purchase, disputed."""
    member = f"bt-dispute-{secrets.token_hex(3)}"
    event = f"{member}-e1"
    at = from_us(program.svc.clock.now_us() - 86_400_000_000).isoformat()
    program.svc.ingest_items([{"id": event, "member": member, "type": "purchase", "at": at,
                               "attributes": {"amount": "55", "category": "books",
                                              "order_id": f"o-{event}"}}])
    program.svc.disputes.open(member, event, "not-mine", actor="test")
    return member, event


def test_an_operator_accepts_and_rejects_disputes(page: Any, program: Program) -> None:
    accept_member, accept_event = _disputed_member(program)
    reject_member, reject_event = _disputed_member(program)
    sign_in_operator(page, program)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Disputes").click()
    assert_accessible(page)
    page.get_by_role("button", name=f"Accept dispute of {accept_event}").click()
    assert f"event {accept_event} of {accept_member} no longer counts" in \
        page.get_by_role("status").inner_text()
    page.locator(f"#reason-{_dispute_id(program, reject_member)}").fill(
        "The card was yours: the receipt is signed.")
    page.get_by_role("button", name=f"Reject dispute of {reject_event}").click()
    assert "counts again" in page.get_by_role("status").inner_text()
    assert_accessible(page)
    (accepted,) = program.svc.disputes.of_member(accept_member)
    (rejected,) = program.svc.disputes.of_member(reject_member)
    assert (accepted.status, rejected.status) == ("accepted", "rejected")
    assert rejected.decision == "The card was yours: the receipt is signed."
    key_id = program.svc.access.authenticate(program.admin_key).key_id
    entry = program.svc.audit_page(5, None, "dispute.reject").entries[0]
    assert entry.actor == key_id


def _dispute_id(program: Program, member: str) -> str:
    return program.svc.disputes.of_member(member)[0].id


def test_an_operator_verifies_the_audit_log(page: Any, program: Program) -> None:
    sign_in_operator(page, program)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    assert page.locator("tbody tr").count() > 0
    page.get_by_label("Action").select_option("key.create")
    page.get_by_role("button", name="Filter").click()
    assert "action=key.create" in page.url
    actions = page.locator("tbody tr td:nth-child(4)").all_inner_texts()
    assert actions and set(actions) == {"key.create"}
    assert_accessible(page)
    page.get_by_role("button", name="Verify the chain").click()
    verdict = page.get_by_test_id("verdict")
    assert verdict.inner_text().startswith("Intact")
    assert_accessible(page)


def test_an_operator_creates_a_key_sees_its_token_once_and_revokes_it(
        page: Any, program: Program) -> None:
    sign_in_operator(page, program)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Keys").click()
    assert_accessible(page)
    name = f"reporting {secrets.token_hex(3)}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("ingest").check()
    page.get_by_role("button", name="Create key").click()
    token = page.get_by_test_id("new-token").input_value()
    who = program.svc.access.authenticate(token)
    assert (who.name, who.scopes) == (name, frozenset({"read", "ingest"}))
    assert_accessible(page)
    page.goto(f"{program.base}/console/keys")
    assert token not in page.content()  # shown once
    page.get_by_role("link", name=f"Revoke {name}").click()
    assert page.get_by_role("heading", name=f"Revoke “{name}”?").is_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Revoke key").click()
    assert "revoked" in page.get_by_role("status").inner_text()
    row = page.locator(f"tr[data-key='{who.key_id}']")
    assert "revoked" in row.inner_text()
    with pytest.raises(Unauthenticated):
        program.svc.access.authenticate(token)


def test_an_operator_erases_a_member_who_asked_after_typing_their_id(
        page: Any, program: Program) -> None:
    member, _ = _disputed_member(program)
    program.svc.request_erasure(member, actor="test")
    sign_in_operator(page, program, program.operator_key("erase"))
    page.get_by_role("link", name="Erasure requests").first.click()
    assert_accessible(page)
    page.get_by_role("link", name=f"Erase or decline {member}").click()
    button = page.get_by_role("button", name=f"Erase {member}")
    assert button.is_disabled()  # until the id is typed
    page.get_by_label("Type the member id").fill(member[:-1])
    assert button.is_disabled()
    page.get_by_label("Type the member id").fill(member)
    assert_accessible(page)
    button.click()
    assert page.get_by_role("status").inner_text().startswith(f"Erased {member}")
    with pytest.raises(NotFound):
        program.svc.member_state(member)
    assert_accessible(page)
