"""The web's common ground in a real browser: sign-in, sign-out, the layout's
accessibility, and the charts drawn from the vendored Chart.js."""

from __future__ import annotations

from typing import Any

from .conftest import Program, assert_accessible, sign_in_member, sign_in_operator


def test_a_member_link_signs_in_and_the_token_leaves_the_address_bar(
        page: Any, program: Program) -> None:
    member = program.played.showcase[0]
    sign_in_member(page, program, member)
    assert "token" not in page.url
    assert page.get_by_role("heading", name=f"Hello, {member}").is_visible()
    assert_accessible(page)


def test_a_wrong_token_is_refused_with_a_message_and_no_session(
        page: Any, program: Program) -> None:
    page.goto(f"{program.base}/portal/signin")
    page.get_by_label("Member token").fill("plm_0000000000000000_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("That member token is not valid")
    page.goto(f"{program.base}/portal")
    assert page.url.startswith(f"{program.base}/portal/signin")
    assert_accessible(page)


def test_an_operator_signs_in_and_out(page: Any, program: Program) -> None:
    sign_in_operator(page, program)
    assert page.get_by_role("heading", name="Program overview").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{program.base}/console/signin")
    page.goto(f"{program.base}/console")
    assert "/console/signin" in page.url


def test_a_member_token_does_not_open_the_console(page: Any, program: Program) -> None:
    page.goto(f"{program.base}/console/signin")
    page.get_by_label("Operator key").fill(program.member_token(program.played.showcase[0]))
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.get_by_role("alert").inner_text()


def test_the_api_docs_render_from_the_vendored_swagger_ui(page: Any, program: Program) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{program.base}/docs")
    # a hang guard, not a speed test: a loaded machine parses the 1.7 MB bundle slowly
    page.locator(".swagger-ui .opblock").first.wait_for(timeout=60_000)
    assert page.locator(".opblock").count() > 20
    assert all(url.startswith(program.base) or url.startswith("data:") for url in requests), \
        [u for u in requests if not u.startswith(program.base)]


def test_a_sign_in_link_followed_from_another_site_lands_signed_in(
        page: Any, program: Program) -> None:
    """A member taps the link in an email or another app: a navigation from another
    site. The cookie must then go with the redirect that follows, or the member would land
    on the sign-in form (a SameSite=Strict cookie does not)."""
    member = program.played.showcase[-1]
    link = f"{program.base}/portal/signin?token={program.member_token(member)}"
    page.set_content(f'<a href="{link}">Open your rewards</a>')  # an opaque, foreign origin
    page.get_by_role("link", name="Open your rewards").click()
    page.wait_for_url(f"{program.base}/portal")
    assert page.get_by_role("heading", name=f"Hello, {member}").is_visible()


def test_the_dark_scheme_keeps_its_contrast(browser: Any, program: Program) -> None:
    """The pages follow prefers-color-scheme: the dark palette must pass the same check."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  color_scheme="dark", bypass_csp=True)
    try:
        page = context.new_page()
        sign_in_member(page, program, program.played.showcase[0])
        for path in ("/portal", "/portal/score", "/portal/points", "/portal/perks",
                     "/portal/play", "/portal/leaderboards", "/portal/rewards", "/portal/data"):
            page.goto(f"{program.base}{path}")
            assert_accessible(page)
        sign_in_operator(page, program)
        for path in ("/console", "/console/members", "/console/rulebooks", "/console/editor",
                     "/console/disputes", "/console/audit", "/console/keys",
                     "/console/erasure"):
            page.goto(f"{program.base}{path}")
            assert_accessible(page)
    finally:
        context.close()
