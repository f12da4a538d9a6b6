"""Browser tests: Debian's chromium (/usr/bin/chromium) driven by Playwright for Python.

No browser is downloaded: Playwright launches the system chromium. Without it the tests
skip with the reason, unless ``PLAUDIT_REQUIRE_BROWSER=1`` (set by CI), which turns the skip
into a failure, as for PostgreSQL.

The program is real and served over real HTTP: a seeded demo program (the sesame-style
rulebook, synthetic members, the demo's play) on a SQLite file, served by uvicorn on a
free loopback port from a thread of this process, so a test can also look at the store
the pages changed. Each test gets a fresh browser context (no cookies) and a member or an
operator credential of its own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.demo import PlayReport, build, serving

from ..conftest import EXAMPLES, unavailable

CHROMIUM = os.environ.get("PLAUDIT_CHROMIUM", "/usr/bin/chromium")
VENDOR = Path(__file__).parent / "vendor"
ARTIFACTS = Path(os.environ.get("PLAUDIT_BROWSER_ARTIFACTS", "/tmp/plaudit-browser"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
MEMBERS = 60
DAYS = 150


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@dataclass
class Program:
    """The served demo program: its URL, its service (same store as the server) and
    what the demo's play did."""

    base: str
    svc: Plaudit
    played: PlayReport
    admin_key: str

    def member_token(self, member: str, *, consents: bool = True) -> str:
        admin = self.svc.access.authenticate(self.admin_key)
        return self.svc.access.issue_member_token(member, 3600, issued_by=admin.key_id,
                                                  actor="test", consents=consents).token

    def operator_key(self, *scopes: str) -> str:
        return self.svc.access.create_key("browser test", scopes or ("admin",),
                                          actor="test").token


@pytest.fixture(scope="session")
def program(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Program]:
    home = tmp_path_factory.mktemp("browser-program")
    store = SqlStore(f"sqlite:///{home / 'plaudit.db'}")
    svc = Plaudit(store, SystemClock())
    played = build(svc, (EXAMPLES / "sesame-style.yaml").read_text(), MEMBERS, DAYS, seed=11,
                   actor="test")
    admin_key = svc.access.create_key("browser admin", ["admin"], actor="test").token
    try:
        with serving(svc) as base:
            yield Program(base, svc, played, admin_key)
    finally:
        store.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)",
                    "PLAUDIT_REQUIRE_BROWSER")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')",
                    "PLAUDIT_REQUIRE_BROWSER")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh context. CSP is bypassed only so that the accessibility check can
    inject axe; ``test_security_headers`` checks the policy itself over plain HTTP."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and not
            msg.text.startswith("Failed to load resource") else None)  # an expected 4xx
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"the page logged errors: {errors}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


def sign_in_member(page: Any, program: Program, member: str) -> None:
    page.goto(f"{program.base}/portal/signin?token={program.member_token(member)}")
    page.wait_for_url(f"{program.base}/portal")


def sign_in_operator(page: Any, program: Program, key: str | None = None) -> None:
    page.goto(f"{program.base}/console/signin")
    page.get_by_label("Operator key").fill(key or program.admin_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{program.base}/console")


def assert_accessible(page: Any) -> None:
    """axe-core (vendored, test-only) finds no serious or critical WCAG 2 A/AA violation."""
    page.add_script_tag(path=str(VENDOR / "axe.min.js"))
    result = page.evaluate("""async () => (await axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ': ' + v.help + ' at '
                   + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))""")
    assert result == [], "accessibility violations:\n" + "\n".join(result)
