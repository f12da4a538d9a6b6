"""Screenshots of every portal and console page, for docs/web.md.

    python tools/screenshots.py [--out docs/screenshots] [--members 300] [--days 365]

Builds a demo program the way ``plaudit demo`` does (seeded: the same pictures every run,
but for today's date), serves it on a free loopback port, signs in to the portal as the
demo's showcase member and to the console with an admin key, and saves one PNG per page
(desktop width; the overview also at phone width). Needs Debian's chromium
(/usr/bin/chromium) and Playwright for Python (the test extras); downloads nothing.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.demo import build, links, serving

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PORTAL = ["", "/score", "/points", "/perks", "/play", "/leaderboards", "/rewards", "/data"]
CONSOLE = ["", "/members", "/rulebooks", "/editor", "/disputes", "/audit", "/keys",
           "/erasure"]


def _shoot(page: Page, url: str, path: Path) -> bool:
    response = page.goto(url)
    if response is None or response.status != 200:
        print(f"  skipped {url}: {response.status if response else 'no answer'}")
        return False
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), full_page=True)
    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return True


def _stage(svc: Plaudit, members: int) -> None:
    """What an operator's queues hold on a real day: two open disputes, an erasure
    request."""
    from plaudit.synthetic import member_id

    for i in (3, 8):
        events = svc.export_member(member_id(i), actor="screenshots")["events"]
        purchase = next(e for e in events if e["type"] == "purchase")
        svc.disputes.open(member_id(i), purchase["id"], "wrong-amount", actor="screenshots")
    svc.request_erasure(member_id(members - 1), actor="screenshots")


def _console_flows(page: Page, base: str, member: str, out: Path) -> None:
    """The pages behind a form: a member looked up, the editor showing an error at its
    line, a saved draft's backtest report."""
    import re

    _shoot(page, f"{base}/console/members/{member}", out / "console-member.png")
    page.goto(f"{base}/console/editor")
    editor = page.get_by_label("Rulebook (YAML)")
    original = editor.input_value()
    editor.fill(original.replace("weight: 35", "weight: thirty-five", 1))
    page.get_by_role("button", name="Check").click()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / "console-editor-error.png"), full_page=True)
    print("  console-editor-error.png")
    page.get_by_label("Rulebook (YAML)").fill(original.replace("weight: 35", "weight: 60", 1))
    page.get_by_role("button", name="Save as draft").click()
    page.wait_for_url(re.compile(r"/console/drafts/\d+$"))
    page.get_by_role("button", name="Backtest").click()
    page.get_by_role("heading", name=re.compile(r"^Backtest of draft")).wait_for(
        timeout=300_000)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / "console-backtest.png"), full_page=True)
    print("  console-backtest.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{Path(tmp) / 'plaudit.db'}")
        svc = Plaudit(store, SystemClock())
        played = build(svc, (ROOT / "examples" / "sesame-style.yaml").read_text(),
                       args.members, args.days, actor="screenshots")
        demo = links(svc, played, actor="screenshots")
        _stage(svc, args.members)
        with serving(svc) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=FLAGS)
            for area, token, pages in (("portal", demo.member_token, PORTAL),
                                       ("console", demo.operator_key, CONSOLE)):
                context = browser.new_context(viewport={"width": 1280, "height": 900},
                                              device_scale_factor=1)
                page = context.new_page()
                page.goto(f"{base}/{area}/signin?token={token}")
                for sub in pages:
                    name = f"{area}{sub.replace('/', '-') or '-overview'}.png"
                    _shoot(page, f"{base}/{area}{sub}", args.out / name)
                if area == "console":
                    _console_flows(page, base, demo.member, args.out)
                context.close()
            phone = browser.new_context(viewport={"width": 390, "height": 844},
                                        device_scale_factor=2, is_mobile=True)
            page = phone.new_page()
            page.goto(f"{base}/portal/signin?token={demo.member_token}")
            _shoot(page, f"{base}/portal", args.out / "portal-overview-phone.png")
            phone.close()
            browser.close()
        store.close()


if __name__ == "__main__":
    main()
