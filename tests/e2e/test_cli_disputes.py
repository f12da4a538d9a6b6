"""`plaudit disputes …` as a real process: open for a member, list, accept, reject."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from ..conftest import EXAMPLES
from .test_cli import events_file, run


def test_disputes_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    run(home, "ingest", str(events_file(tmp_path / "e.jsonl", [
        {"id": f"e-{i}", "member": "m-1", "type": "purchase",
         "at": f"2026-11-2{i}T10:00:00+08:00",
         "attributes": {"amount": "100", "category": "books", "order_id": f"o-{i}"}}
        for i in (1, 2)])))
    opened = run(home, "disputes", "open", "m-1", "e-1", "--reason", "not-mine").stdout
    assert opened.startswith("opened: dispute dsp_") and "left out of the fold" in opened
    first = opened.split("dispute ", 1)[1].split()[0]
    again = run(home, "disputes", "open", "m-1", "e-1", "--reason", "not-mine").stdout
    assert again.startswith(f"already open: dispute {first}")
    second = run(home, "disputes", "open", "m-1", "e-2", "--reason", "duplicate").stdout \
        .split("dispute ", 1)[1].split()[0]
    assert json.loads(run(home, "member", "m-1", "--json").stdout)["points"]["balance"] == 0

    listed = run(home, "disputes", "list", "--status", "open").stdout
    assert first in listed and second in listed and "not-mine" in listed
    assert "accepted: event e-1 of m-1 is voided" in run(home, "disputes", "accept",
                                                         first).stdout
    rejected = run(home, "disputes", "reject", second, "--reason", "Both were bought.").stdout
    assert "rejected: event e-2 of m-1 counts again" in rejected
    assert json.loads(run(home, "member", "m-1", "--json").stdout)["points"]["balance"] == 200
    page = json.loads(run(home, "disputes", "list", "--json").stdout)
    assert [(d["status"], d["decided_by"]) for d in page["disputes"]] == [
        ("accepted", f"cli:{getpass.getuser()}"), ("rejected", f"cli:{getpass.getuser()}")]
    assert page["disputes"][1]["decision"] == "Both were bought."

    twice = run(home, "disputes", "accept", first, check=False)
    assert twice.returncode == 6 and "already accepted" in twice.stderr
    missing = run(home, "disputes", "accept", "dsp_0000000000000000", check=False)
    assert missing.returncode == 5
    bad = run(home, "disputes", "open", "m-1", "e-1", "--reason", "fraud", check=False)
    assert bad.returncode == 1 and "not a reason code" in bad.stderr
    assert "no disputes" in run(home, "disputes", "list", "--status", "open").stdout
