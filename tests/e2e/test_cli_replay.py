"""``plaudit ingest --workers`` and ``plaudit replay``, as real processes: a file folded on
two worker processes stores what one process stores, and a replay puts every member's
state back to what its events say (parallel replay itself: tests/integration/test_replay.py;
a program this small is re-folded in-process whatever ``--workers`` says)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from ..conftest import EXAMPLES, synthetic_file
from .test_cli import run


def states(home: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "plaudit.db") as conn:
        return conn.execute("SELECT member_no, rulebook_version, position, last_event_id, "
                            "balance, score, band, tier FROM member_states "
                            "ORDER BY member_no").fetchall()


def test_ingest_and_replay_on_two_workers_match_one_process(tmp_path: Path) -> None:
    events = synthetic_file(tmp_path / "events.jsonl", 120, 120, start=date(2026, 5, 1), seed=9)
    results = {}
    for workers in ("1", "2"):
        home = tmp_path / f"home-{workers}"
        run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
        out = run(home, "ingest", str(events), "--batch-size", "1000",
                  "--workers", workers).stdout
        assert "stored" in out
        results[workers] = states(home)
    assert results["1"] == results["2"] and len(results["1"]) == 120

    home = tmp_path / "home-2"
    with sqlite3.connect(home / "plaudit.db") as conn:
        conn.execute("UPDATE member_states SET balance = -1, score = NULL")
    out = run(home, "replay", "--workers", "2").stdout
    assert "re-folded 120 member(s)" in out and "on 1 process(es)" in out
    assert states(home) == results["1"]  # every member back to what its events say
    again = run(home, "replay", "--behind-only").stdout
    assert "re-folded 0 member(s)" in again


def test_an_unknown_engine_is_refused_with_the_closest_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run(home, "init")
    result = run(home, "replay", "--engine", "sprak", check=False)
    assert result.returncode != 0
    assert "unknown engine 'sprak'" in result.stderr and "spark" in result.stderr
