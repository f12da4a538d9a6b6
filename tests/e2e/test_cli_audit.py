"""`plaudit audit …`, `plaudit rulebook diff` and who published what, as real processes."""

from __future__ import annotations

import getpass
import json
import sqlite3
from pathlib import Path

from ..conftest import EXAMPLES
from .test_cli import run

SESAME = (EXAMPLES / "sesame-style.yaml").read_text()
ME = f"cli:{getpass.getuser()}"


def test_audit_list_and_verify_then_a_tampered_entry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    created = run(home, "keys", "create", "pos", "--scope", "ingest")
    key = created.stderr.split("created key ", 1)[1].split()[0]
    run(home, "keys", "revoke", key)

    listed = run(home, "audit", "list").stdout
    actions = [line.split()[3] for line in listed.splitlines()[1:4]]
    assert actions == ["key.revoke", "key.create", "rulebook.publish"]
    assert ME in listed and f"key:{key}" in listed
    page = json.loads(run(home, "audit", "list", "--action", "key.create", "--json").stdout)
    assert [(e["seq"], e["actor"], e["subject"]) for e in page["entries"]] == [
        (2, ME, f"key:{key}")]
    assert page["entries"][0]["detail"] == {"kind": "operator", "name": "pos",
                                            "scopes": ["ingest"]}
    wrong = run(home, "audit", "list", "--action", "key.creat", check=False)
    assert wrong.returncode == 2 and "did you mean `key.create`?" in wrong.stderr

    intact = run(home, "audit", "verify").stdout
    assert intact.startswith("3 entries, chain intact; head 3:")
    anchor = intact.split("head ", 1)[1].strip()
    assert run(home, "audit", "verify", "--anchor", anchor).returncode == 0

    with sqlite3.connect(home / "plaudit.db") as db:   # what an attacker with the file does
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2")
    tampered = run(home, "audit", "verify", check=False)
    assert tampered.returncode == 1
    assert "entry 2: hash mismatch" in tampered.stderr
    verdict = json.loads(run(home, "audit", "verify", "--json", check=False).stdout)
    assert verdict["ok"] is False and verdict["first_bad"]["seq"] == 2


def test_rulebook_list_and_diff(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(SESAME.replace("weight: 35", "weight: 40")
                         .replace("- {name: Gold, from: 8000}", "- {name: Gold, from: 9000}"))
    run(home, "rulebook", "publish", str(candidate))
    listed = run(home, "rulebook", "list").stdout
    assert listed.count(ME) == 2 and "published by" in listed

    shown = run(home, "rulebook", "diff", "1", "2").stdout
    assert "v1 -> v2" in shown
    assert "score.factors[repayment_history].weight: 35 -> 40" in shown
    assert "tiers.levels[Gold].from: 8000 -> 9000" in shown
    assert "--- v1" not in shown
    with_text = run(home, "rulebook", "diff", "v1", str(candidate), "--text").stdout
    assert "-      weight: 35\n+      weight: 40" in with_text
    assert "no changes" in run(home, "rulebook", "diff", "2", str(candidate)).stdout
    as_json = json.loads(run(home, "rulebook", "diff", "2", "1", "--json").stdout)
    assert as_json["changed"] is True and as_json["sections"] == {"score": 1, "tiers": 1}
    assert as_json["summary"][0] == "score.factors[repayment_history].weight: 40 -> 35"

    for args, message in ((["1", "9"], "no rulebook version 9 (published: 1 to 2)"),
                          (["draft:4", "1"], "no rulebook draft 4"),
                          (["draft:x", "1"], "give `draft:N` with a draft number"),
                          (["1", "nowhere.yaml"], "no such file, version or draft")):
        refused = run(home, "rulebook", "diff", *args, check=False)
        assert refused.returncode == 2, refused.stderr
        assert message in " ".join(refused.stderr.replace("│", " ").split())
