"""`plaudit export | opt-out | opt-in | erase` as real processes on a real data directory;
the confirmation of `erase` typed on a real terminal (a pseudo-terminal)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import EXAMPLES
from ..table_scan import every_row, leaks
from .test_cli import PLAUDIT, events_file, run

GONE = "m-cli-9d27b4"
"""An id no other value of the test contains, so a substring hit is a leak."""
FUTURE = "2031-01-10T10:00:00+08:00"
"""After any opt-out the test records (at the real now): such an event is refused."""


def purchase(id_: str, member: str, at: str = "2026-11-20T10:00:00+08:00") -> dict[str, object]:
    return {"id": id_, "member": member, "type": "purchase", "at": at,
            "attributes": {"amount": "100", "category": "books", "order_id": f"o-{id_}"}}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    run(home, "ingest", str(events_file(tmp_path / "e.jsonl", [
        purchase("g1", GONE), purchase("g2", GONE, "2026-11-21T10:00:00+08:00"),
        purchase("k1", "m-keep"),
        {"id": "k2", "member": "m-keep", "type": "referral",
         "at": "2026-11-22T10:00:00+08:00", "attributes": {"referred": GONE}}])))
    return home


def member_json(home: Path, member: str) -> dict[str, object]:
    state: dict[str, object] = json.loads(run(home, "member", member, "--json").stdout)
    return state


def test_export_to_stdout_and_to_a_private_file(home: Path, tmp_path: Path) -> None:
    doc = json.loads(run(home, "export", GONE).stdout)
    assert doc["format"] == "plaudit-export/1" and doc["member"] == GONE
    assert [e["id"] for e in doc["events"]] == ["g1", "g2"]
    assert doc["state"]["points"]["balance"] == 400
    target = tmp_path / "export.json"
    said = run(home, "export", GONE, "-o", str(target)).stdout
    assert f"exported {GONE}: 2 events to {target}" in " ".join(said.split())
    written = json.loads(target.read_text())
    assert (written["member"], written["events"], written["ledger"]) == (
        GONE, doc["events"], doc["ledger"])
    assert stat.S_IMODE(target.stat().st_mode) == 0o600     # personal data: yours only
    missing = run(home, "export", "m-nobody", check=False)
    assert missing.returncode == 5 and "not found" in missing.stderr


def test_opt_out_and_back_in(home: Path, tmp_path: Path) -> None:
    said = run(home, "opt-out", GONE).stdout
    assert f"{GONE} is opted out since" in said
    state = member_json(home, GONE)
    assert (state["status"], state["score"], state["tier"], state["perks"]) == (
        "opted_out", None, None, [])
    assert run(home, "opt-out", GONE).stdout == said          # asking again: the same
    late = run(home, "ingest", str(events_file(tmp_path / "late.jsonl",
                                               [purchase("g3", GONE, FUTURE)])), check=False)
    assert late.returncode == 4 and "opted out" in late.stderr
    assert f"{GONE} takes part" in run(home, "opt-in", GONE).stdout
    assert member_json(home, GONE)["status"] == "active"
    run(home, "ingest", str(events_file(tmp_path / "later.jsonl",
                                        [purchase("g4", GONE, FUTURE)])))


def test_erase_refuses_to_run_unconfirmed_without_a_terminal(home: Path) -> None:
    for stdin in ("", f"{GONE}\n"):   # even an id piped in is no confirmation
        r = run(home, "erase", GONE, check=False, stdin=stdin)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "--yes" in r.stderr
    assert member_json(home, GONE)["member"] == GONE


def erase_on_a_terminal(home: Path, member: str, typed: str) -> subprocess.CompletedProcess[str]:
    """`plaudit erase MEMBER` with its standard input on a pseudo-terminal, `typed` typed."""
    import pty  # POSIX only, as the tests' CI

    env = {**os.environ, "PLAUDIT_HOME": str(home), "NO_COLOR": "1", "TERMINAL_WIDTH": "120"}
    env.pop("PLAUDIT_DATABASE_URL", None)
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([PLAUDIT, "erase", member], stdin=terminal,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        os.write(controller, typed.encode() + b"\n")
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_erase_asks_for_the_member_id_on_a_terminal(home: Path) -> None:
    wrong = erase_on_a_terminal(home, GONE, "m-keep")
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "Type the member id to confirm" in wrong.stdout
    assert "not erased" in wrong.stderr
    assert member_json(home, GONE)["member"] == GONE

    right = erase_on_a_terminal(home, GONE, GONE)
    assert right.returncode == 0, right.stdout + right.stderr
    assert "erased: 2 events" in right.stdout
    assert run(home, "member", GONE, check=False).returncode == 5


def test_erase_with_yes_leaves_no_row_mentioning_the_member(home: Path) -> None:
    keep = member_json(home, "m-keep")
    db = f"sqlite:///{(home / 'plaudit.db').as_posix()}"
    before = every_row(db)
    (no,) = [r["member_no"] for r in before["members"] if r["member_id"] == GONE]
    said = " ".join(run(home, "erase", GONE, "--yes").stdout.split())
    assert said.startswith("erased: 2 events and everything derived from them (tombstone "
                           "erased-")
    assert "; 1 reference(s) in the events of 1 other member(s) now name it" in said
    assert leaks(every_row(db), GONE, no) == []
    assert member_json(home, "m-keep")["points"] == keep["points"]   # the referral stays
    again = run(home, "erase", GONE, "--yes", check=False)
    assert again.returncode == 5 and "not found" in again.stderr
