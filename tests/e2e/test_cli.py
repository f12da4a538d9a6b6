"""The installed ``plaudit`` command, run as a real process against a real data directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ..conftest import BILLION_LAUGHS, EXAMPLES

PLAUDIT = shutil.which("plaudit") or str(Path(sys.executable).parent / "plaudit")


def run(home: Path, *args: str, check: bool = True, stdin: str | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLAUDIT_HOME": str(home), "NO_COLOR": "1", "TERMINAL_WIDTH": "120"}
    env.pop("PLAUDIT_DATABASE_URL", None)
    result = subprocess.run([PLAUDIT, *args], capture_output=True, text=True, env=env,
                            timeout=timeout, input=stdin)
    if check and result.returncode != 0:
        raise AssertionError(f"plaudit {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def events_file(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def test_init_with_the_starter_rulebook_creates_the_database(home: Path) -> None:
    out = run(home, "init").stdout
    assert (home / "plaudit.db").exists()
    assert "version 1" in out
    assert "already published as version 1" in " ".join(run(home, "init").stdout.split())


def test_rulebook_check_reports_file_line_and_suggestion(tmp_path: Path, home: Path) -> None:
    good = EXAMPLES / "fitness-club.yaml"
    assert "ok" in run(home, "rulebook", "check", str(good)).stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES / "sesame-style.yaml").read_text().replace(
        "on: identity_verified", "on: identity_verifed"))
    result = run(home, "rulebook", "check", str(bad), check=False)
    assert result.returncode == 3
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1)
                if "identity_verifed" in text)
    assert f"bad.yaml:{line}: points.rules[2].on: unknown event type" in result.stderr
    assert "did you mean `identity_verified`?" in result.stderr


def test_rulebook_check_refuses_an_alias_bomb_at_once(tmp_path: Path, home: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BILLION_LAUGHS)
    result = run(home, "rulebook", "check", str(bomb), check=False, timeout=30)
    assert result.returncode == 3                 # as for every refused rulebook
    assert "bomb.yaml:2: YAML anchors and aliases are not allowed" in result.stderr


def test_ingest_and_read_a_member(tmp_path: Path, home: Path) -> None:
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    path = events_file(tmp_path / "e.jsonl", [
        {"id": "e1", "member": "m-1", "type": "purchase", "at": "2026-06-01T10:00:00+08:00",
         "attributes": {"amount": "120.50", "category": "books", "order_id": "o-1"}},
        {"id": "e2", "member": "m-1", "type": "identity_verified",
         "at": "2026-06-02T10:00:00+08:00", "attributes": {"method": "phone"}},
    ])
    assert "2 events stored" in run(home, "ingest", str(path)).stdout
    assert "0 events stored, 2 duplicates" in run(home, "ingest", str(path)).stdout
    data = json.loads(run(home, "member", "m-1", "--json", "--as-of",
                          "2026-06-30").stdout)
    assert data["points"]["balance"] == 340           # 120 x 2 for books + 100 verified
    assert data["as_of"] == "2026-06-30T23:59:59.999999+08:00"
    assert 350 <= data["score"]["value"] <= 950
    assert len(data["score"]["reasons"]) <= 4
    assert [a["event"] for a in data["awards"]] == ["e1", "e2"]
    text = run(home, "member", "m-1", "--as-of", "2026-06-30").stdout
    assert "Points balance 340" in text and "Why not higher" in text
    assert "Tier Member" in text


def test_bad_lines_are_reported_with_line_numbers(tmp_path: Path, home: Path) -> None:
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"id": "e1", "member": "m-1", "type": "purchase", "at": "2026-06-01T10:00:00Z",'
        ' "attributes": {"amount": "1", "category": "books", "order_id": "o"}}\n'
        "\n"
        '{"id": "e2", "member": "m-1", "type": "purchase", "at": "2026-06-01T10:00:00Z",'
        ' "attributes": {"amount": "-1", "category": "books", "order_id": "o"}}\n'
        "not json\n")
    result = run(home, "ingest", str(path), check=False)
    assert result.returncode == 4
    assert "line 3: attributes.amount: Input should be greater than or equal to 0" in \
        result.stderr
    assert "line 4: not valid JSON" in result.stderr
    assert "0 events stored" in result.stdout


def test_ingest_refuses_repeated_keys_and_numeric_times_naming_the_line(
        tmp_path: Path, home: Path) -> None:
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    good = ('{"id": "e1", "member": "m-1", "type": "purchase", "at": "2026-06-01T10:00:00Z",'
            ' "attributes": {"amount": "1", "category": "books", "order_id": "o"}}\n')
    path = tmp_path / "bad.jsonl"
    path.write_text(good
                    + good.replace('"id": "e1"', '"id": "e2", "id": "e3"')
                    + good.replace('"id": "e1"', '"id": "e4"').replace(
                        '"amount": "1"', '"amount": "1", "amount": "2"')
                    + good.replace('"id": "e1"', '"id": "e5"').replace(
                        '"2026-06-01T10:00:00Z"', "1717200000"))
    result = run(home, "ingest", str(path), check=False)
    assert result.returncode == 4
    assert "line 2: id: this key appears more than once in the JSON object" in result.stderr
    assert "line 3: attributes.amount: this key appears more than once" in result.stderr
    assert "line 4: at: must be an RFC 3339 time with an offset" in result.stderr
    assert "0 events stored" in result.stdout


def test_ingest_names_a_spend_the_balance_does_not_cover(tmp_path: Path, home: Path) -> None:
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    path = events_file(tmp_path / "spend.jsonl", [
        {"id": "e1", "member": "m-1", "type": "purchase", "at": "2026-06-01T10:00:00Z",
         "attributes": {"amount": "10", "category": "other", "order_id": "o-1"}},
        {"id": "s1", "member": "m-1", "type": "plaudit.spend", "at": "2026-06-02T10:00:00Z",
         "attributes": {"points": 50}}])
    result = run(home, "ingest", str(path), check=False)
    assert result.returncode == 4                 # as for every rejected batch
    assert ("line 2: attributes.points: insufficient points: spends 50 but the balance at "
            "2026-06-02T10:00:00Z is 10") in result.stderr
    assert "0 events stored" in result.stdout


def test_unknown_member_is_a_clear_not_found(home: Path) -> None:
    run(home, "init")
    result = run(home, "member", "nobody", check=False)
    assert result.returncode == 5
    assert "member `nobody` not found" in result.stderr


def test_bad_as_of_is_a_usage_error(home: Path) -> None:
    run(home, "init")
    result = run(home, "member", "m-1", "--as-of", "yesterday", check=False)
    assert result.returncode == 2
    assert "not an RFC 3339 time" in result.stderr


def test_demo_builds_a_program(home: Path) -> None:
    out = run(home, "demo", "--members", "40", "--days", "90", "--no-serve").stdout
    assert "Demo program ready" in out
    assert "40 members" in out
    # bands and tiers listed in rulebook order, not alphabetically
    assert out.index("Poor") < out.index("Fair") < out.index("Very good") < out.index(
        "Excellent")
    assert out.index("Member") < out.index("Silver") < out.index("Gold")
    demo_home = home / "demo"
    data = json.loads(run(demo_home, "member", "m-000007", "--json").stdout)
    assert data["member"] == "m-000007" and data["events"] > 0


def test_ingest_from_stdin_and_gzip(tmp_path: Path, home: Path) -> None:
    import gzip

    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    line = ('{"id": "e1", "member": "m-1", "type": "purchase", "at": '
            '"2026-06-01T10:00:00+08:00", "attributes": {"amount": "10", "category": '
            '"games", "order_id": "o-1"}}\n')
    assert "1 events stored" in run(home, "ingest", "-", stdin=line).stdout
    packed = tmp_path / "e.jsonl.gz"
    packed.write_bytes(gzip.compress(line.replace("e1", "e2").replace("o-1", "o-2").encode()))
    assert "1 events stored" in run(home, "ingest", str(packed)).stdout
    missing = run(home, "ingest", str(tmp_path / "nope.jsonl"), check=False)
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_database_url_points_the_cli_at_postgresql(pg_url: str, tmp_path: Path,
                                                   home: Path) -> None:
    env = {**os.environ, "PLAUDIT_HOME": str(home), "PLAUDIT_DATABASE_URL": pg_url,
           "NO_COLOR": "1"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PLAUDIT, *args], capture_output=True, text=True, env=env,
                              timeout=300, check=True)

    assert "PLAUDIT_DATABASE_URL" in cli("init").stdout
    path = events_file(tmp_path / "e.jsonl", [
        {"id": "e1", "member": "m-1", "type": "purchase", "at": "2026-06-01T10:00:00Z",
         "attributes": {"amount": "12.5", "order_id": "o-1"}}])
    assert "1 events stored" in cli("ingest", str(path)).stdout
    data = json.loads(cli("member", "m-1", "--json").stdout)
    assert data["points"]["earned"] == 12          # the starter rulebook: floor(amount)
    assert not (home / "plaudit.db").exists(), "nothing written to SQLite"


def test_rewards_redeem_and_the_ledger_from_the_command_line(home: Path, tmp_path: Path) -> None:
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    run(home, "ingest", str(events_file(tmp_path / "e.jsonl", [
        {"id": "e-1", "member": "m-1", "type": "purchase", "at": "2026-11-30T10:00:00+08:00",
         "attributes": {"amount": "400", "category": "games", "order_id": "o-1"}}])))
    catalogue = run(home, "rewards", "m-1").stdout
    assert "coffee" in catalogue and "airport-lounge" in catalogue
    assert "not met" in catalogue and "1000" in catalogue  # lounge needs Gold; coffee stock
    first = run(home, "redeem", "m-1", "coffee", "--key", "k-1").stdout
    assert first.startswith("redeemed: Coffee voucher for 150 points")
    again = run(home, "redeem", "m-1", "coffee", "--key", "k-1").stdout
    assert again.startswith("already redeemed with this key")
    refused = run(home, "redeem", "m-1", "airport-lounge", "--key", "k-2", check=False)
    assert refused.returncode == 4 and "not met" in refused.stderr + refused.stdout
    statement = run(home, "ledger", "m-1").stdout
    assert "earned" in statement and "redeemed" in statement and "-150" in statement
    assert "250" in statement  # the balance after the redemption
    redemption = first.rsplit("(redemption ", 1)[1].split(")")[0]
    assert "Coffee voucher for 150 points — redeemed" in run(home, "member", "m-1").stdout
    cancelled = run(home, "cancel-redemption", "m-1", redemption).stdout
    assert cancelled.startswith("cancelled: Coffee voucher; 150 points returned")
    missing = run(home, "cancel-redemption", "m-1", "redeem-nope", check=False)
    assert missing.returncode == 5


def test_rulebook_check_prints_warnings_and_strict_fails_on_them(home: Path,
                                                                 tmp_path: Path) -> None:
    text = (EXAMPLES / "sesame-style.yaml").read_text(encoding="utf-8")
    start = text.index("      when_absent: {value: 0.3")
    path = tmp_path / "rb.yaml"
    path.write_text(text[:start] + text[text.index("\n", start) + 1:], encoding="utf-8")
    lenient = run(home, "rulebook", "check", str(path))
    assert "warning:" in lenient.stdout and "factor `rentals`" in lenient.stdout
    assert "1 warning(s)" in lenient.stdout
    strict = run(home, "rulebook", "check", "--strict", str(path), check=False)
    assert strict.returncode == 1
    clean = run(home, "rulebook", "check", "--strict", str(EXAMPLES / "sesame-style.yaml"))
    assert "warning" not in clean.stdout


def test_explain_prints_factors_reasons_and_the_plan(home: Path, tmp_path: Path) -> None:
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    events = events_file(tmp_path / "e.jsonl", [
        {"id": "p1", "member": "m-1", "type": "purchase", "at": "2026-06-01T10:00:00+08:00",
         "attributes": {"amount": "800", "category": "books", "order_id": "o1"}}])
    run(home, "ingest", str(events))
    shown = run(home, "explain", "m-1", "--as-of", "2026-06-10").stdout
    assert "Why not higher" in shown and "No rental history yet" in shown
    assert "To reach" in shown
    data = json.loads(run(home, "explain", "m-1", "--as-of", "2026-06-10", "--json").stdout)
    assert data["plan"]["reachable"] is True
    assert data["plan"]["score_after"] >= data["score"] + data["points_to_next_band"]
    assert [e["kind"] for e in data["ledger"]] == ["earned"]
