"""The member portal in a real browser: a member signs in, reads why their score is what
it is, redeems, allows a partner, joins a board, disputes an event, leaves the program
and asks for erasure; every page passes axe, works by keyboard and fits a phone.

Tests that change a member make a fresh one (events ingested through the program's
service), so they do not depend on each other or on their order.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import Program, assert_accessible, sign_in_member

PAGES = [("", "Hello, "), ("/score", "Your score"), ("/points", "Your points"),
         ("/perks", "Your perks"), ("/play", "Badges, streaks and quests"),
         ("/leaderboards", "Leaderboards"), ("/rewards", "Rewards"),
         ("/data", "Your data")]


def fresh_member(program: Program) -> str:
    """A member of their own: a few weeks of purchases (books count double), a verified
    identity and an on-time repayment, dated before now."""
    member = f"web-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)

    def at(days: int) -> str:
        return (now - timedelta(days=days)).isoformat()

    items: list[dict[str, Any]] = [
        {"id": f"{member}-p{i}", "member": member, "type": "purchase", "at": at(30 - 7 * i),
         "attributes": {"amount": "140.00", "category": "books", "order_id": f"o-{member}-{i}"}}
        for i in range(4)]
    items.append({"id": f"{member}-v", "member": member, "type": "identity_verified",
                  "at": at(25), "attributes": {"method": "phone"}})
    items.append({"id": f"{member}-r", "member": member, "type": "repayment", "at": at(20),
                  "attributes": {"amount": "80", "days_late": 0}})
    program.svc.ingest_items(items)
    return member


def balance(page: Any) -> int:
    return int(page.get_by_test_id("balance").first.inner_text().replace(",", ""))


def flash(page: Any) -> str:
    text: str = page.locator(".flash").inner_text()
    return text


def test_a_member_reads_every_page_and_each_is_accessible(page: Any,
                                                          program: Program) -> None:
    member = program.played.showcase[0]
    sign_in_member(page, program, member)
    for path, heading in PAGES:
        page.goto(f"{program.base}/portal{path}")
        assert page.get_by_role("heading", level=1).inner_text().startswith(heading)
        assert page.locator("nav [aria-current=page]").count() == 1
        assert_accessible(page)


def test_the_score_page_shows_each_factor_its_points_and_the_history_chart(
        page: Any, program: Program) -> None:
    member = fresh_member(program)
    x = program.svc.explain(member)
    assert x is not None
    sign_in_member(page, program, member)
    page.get_by_role("link", name="See what makes up your score").click()
    page.wait_for_url(f"{program.base}/portal/score")
    for f in x.factors:
        row = page.locator(f"[data-factor='{f.id}']")
        assert row.get_by_role("heading", name=f.label).is_visible()
        assert row.get_by_role("img").get_attribute("aria-label").startswith(f.label)
    lost = max(x.factors, key=lambda f: f.points_lost)
    assert lost.reason in page.locator(f"[data-factor='{lost.id}']").inner_text()
    if x.plan is not None:
        assert page.get_by_role("heading", name="Your improve plan").is_visible()
        assert f"To reach {x.plan.band}" in page.locator("main").inner_text()
    chart = page.locator("canvas[data-chart='score-history-data']")
    if chart.count():
        page.wait_for_function("document.querySelector('canvas[data-chart]').dataset.drawn")
        page.get_by_text("Show the numbers").click()
        assert page.locator("figure table tbody tr").count() >= 2
    assert_accessible(page)


def test_a_member_redeems_a_reward_by_keyboard_and_the_balance_drops(
        page: Any, program: Program) -> None:
    member = fresh_member(program)
    sign_in_member(page, program, member)
    page.goto(f"{program.base}/portal/rewards")
    before = balance(page)
    button = page.get_by_role("button", name=re.compile(r"^Redeem Coffee voucher"))
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{program.base}/portal/rewards")
    assert page.get_by_role("status").inner_text() == "Redeemed Coffee voucher for 150 points."
    assert balance(page) == before - 150
    row = page.locator("[data-redemption]").first
    assert "Coffee voucher" in row.inner_text() and "redeemed" in row.inner_text()
    assert_accessible(page)
    page.goto(f"{program.base}/portal")
    assert balance(page) == before - 150


def test_the_back_button_and_a_second_submit_redeem_once(page: Any, program: Program) -> None:
    member = fresh_member(program)
    sign_in_member(page, program, member)
    page.goto(f"{program.base}/portal/rewards")
    before = balance(page)
    form = page.locator("[data-reward='coffee'] form")
    key = form.locator("input[name=key]").get_attribute("value")
    csrf = form.locator("input[name=csrf]").get_attribute("value")
    for _ in range(2):  # the same form posted twice, as a double click or a resend would
        page.request.post(f"{program.base}/portal/rewards/redeem", form={
            "csrf": csrf, "reward": "coffee", "key": key}, max_redirects=0)
    state = program.svc.member_state(member, history=False)
    assert len(state.redemptions) == 1 and state.points.balance == before - 150


def test_a_member_allows_a_partner_and_stops_it(page: Any, program: Program) -> None:
    member = fresh_member(program)
    sign_in_member(page, program, member)
    page.get_by_role("link", name="Perks").click()
    page.get_by_role("button", name="Allow city-rentals").click()
    assert "city-rentals may now check" in page.get_by_role("status").inner_text()
    row = page.locator("[data-partner='city-rentals']")
    assert "Allowed since" in row.inner_text()
    consents = program.svc.member_state(member, history=False).consents
    assert [(c.partner, c.granted) for c in consents] == [("city-rentals", True)]
    assert_accessible(page)
    page.get_by_role("button", name="Stop allowing city-rentals").click()
    assert "can no longer check" in page.get_by_role("status").inner_text()
    consents = program.svc.member_state(member, history=False).consents
    assert [(c.partner, c.granted) for c in consents] == [("city-rentals", False)]


def test_a_member_joins_a_leaderboard_and_sees_their_rank(page: Any, program: Program) -> None:
    member = fresh_member(program)
    sign_in_member(page, program, member)
    page.get_by_role("link", name="Leaderboards").click()
    board = page.locator("[data-board='good-spend-monthly']")
    assert "Not joined" in board.inner_text()
    board.get_by_role("button", name=re.compile("^Join this board")).click()
    assert "You joined" in page.get_by_role("status").inner_text()
    assert "Joined" in board.inner_text()
    assert program.svc.member_leaderboards(member).boards[0].joined
    page.get_by_role("button", name="Re-roll at random").click()
    said = page.get_by_role("status").inner_text()
    assert said.startswith("Your pseudonym is now")
    assert page.get_by_test_id("pseudonym").inner_text() in said
    page.get_by_label("Friend's member id").fill(program.played.showcase[0])
    page.get_by_role("button", name="Add friend").click()
    assert "You named" in page.get_by_role("status").inner_text()
    assert program.played.showcase[0] in program.svc.member_leaderboards(member).friends
    assert_accessible(page)


def test_a_member_disputes_an_event_and_follows_it(page: Any, program: Program) -> None:
    member = fresh_member(program)
    sign_in_member(page, program, member)
    page.get_by_role("link", name="Points").click()
    before = balance(page)
    dispute = page.locator("details", has_text=f"Dispute event {member}-p0")
    dispute.locator("summary").click()
    dispute.get_by_label("Why").select_option("wrong-amount")
    page.get_by_role("button", name=f"Send dispute about event {member}-p0").click()
    assert "left out of your points" in page.get_by_role("status").inner_text()
    assert balance(page) < before
    assert_accessible(page)
    page.get_by_role("link", name="Your data").click()
    row = page.locator("[data-dispute]").first
    assert f"{member}-p0" in row.inner_text() and "open" in row.inner_text()
    assert program.svc.disputes.of_member(member)[0].reason == "wrong-amount"


def test_a_member_leaves_comes_back_and_asks_for_erasure(page: Any, program: Program) -> None:
    member = fresh_member(program)
    sign_in_member(page, program, member)
    page.get_by_role("link", name="Your data").click()
    page.get_by_role("button", name="Leave the program").click()
    assert "Tick the box" in page.get_by_role("alert").inner_text()
    assert program.svc.member_state(member, history=False).status == "active"
    page.get_by_label("I understand, and I want to leave the program").check()
    page.get_by_role("button", name="Leave the program").click()
    assert "You left the program" in page.get_by_role("status").first.inner_text()
    assert program.svc.member_state(member, history=False).status == "opted_out"
    page.get_by_label("I want to take part again from now on").check()
    page.get_by_role("button", name="Take part again").click()
    assert "Welcome back" in page.get_by_role("status").inner_text()
    assert program.svc.member_state(member, history=False).status == "active"

    erase = page.get_by_role("button", name="Ask to erase my data")
    assert erase.is_disabled()  # until the member id is typed
    page.get_by_label(re.compile("Type your member id")).fill(member[:-1])
    assert erase.is_disabled()
    page.get_by_label(re.compile("Type your member id")).fill(member)
    assert erase.is_enabled()
    erase.click()
    assert "Your erasure request is sent" in page.locator(".flash").inner_text()
    assert "Requested" in page.locator("#erasure").inner_text()
    request = program.svc.erasure_request(member)
    assert request is not None and request.status == "pending"
    assert program.svc.member_state(member, history=False).status == "opted_out"
    assert_accessible(page)


def test_a_read_only_link_shows_the_forms_disabled_and_why(page: Any,
                                                          program: Program) -> None:
    member = fresh_member(program)
    token = program.member_token(member, consents=False)
    page.goto(f"{program.base}/portal/signin?token={token}")
    page.wait_for_url(f"{program.base}/portal")
    page.goto(f"{program.base}/portal/rewards")
    assert "can only read" in page.locator("#read-only").inner_text()
    button = page.get_by_role("button", name=re.compile(r"^Redeem Coffee voucher"))
    assert button.is_disabled()
    assert_accessible(page)


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True,
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def test_every_page_fits_a_phone(phone: Any, program: Program) -> None:
    sign_in_member(phone, program, program.played.showcase[-1])
    for path, _ in PAGES:
        phone.goto(f"{program.base}/portal{path}")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"/portal{path} scrolls sideways: {width}px wide"
        assert phone.get_by_role("navigation").get_by_role("link", name="Your data").is_visible()
        assert_accessible(phone)
