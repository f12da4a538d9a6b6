"""`plaudit leaderboard`: a board's top members by pseudonym, as a real process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from plaudit.domain.mechanics.leaderboards import pseudonym

from ..conftest import EXAMPLES
from .test_cli import events_file, run

BOARD = "good-spend-monthly"


def test_the_top_of_a_board_by_pseudonym(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run(home, "init", "--rulebook", str(EXAMPLES / "sesame-style.yaml"))
    now = datetime.now(UTC).replace(microsecond=0)
    at = [(now - timedelta(seconds=s)).isoformat() for s in (3, 2, 1)]
    events = [
        {"id": "p1", "member": "cli-1", "type": "purchase", "at": at[0],
         "attributes": {"amount": "42.50", "category": "books", "order_id": "o1"}},
        {"id": "p2", "member": "cli-2", "type": "purchase", "at": at[0],
         "attributes": {"amount": "99", "category": "games", "order_id": "o2"}},
        {"id": "j1", "member": "cli-1", "type": "plaudit.leaderboard", "at": at[1],
         "attributes": {"board": BOARD, "joined": True}},
        {"id": "j2", "member": "cli-2", "type": "plaudit.leaderboard", "at": at[1],
         "attributes": {"board": BOARD, "joined": True}},
        {"id": "l2", "member": "cli-2", "type": "plaudit.leaderboard", "at": at[2],
         "attributes": {"board": BOARD, "joined": False}},
    ]
    run(home, "ingest", str(events_file(tmp_path / "e.jsonl", events)))
    out = run(home, "leaderboard", BOARD, "--limit", "5").stdout
    assert pseudonym("sesame-style", "cli-1", 0).name in out and "42.5" in out
    assert pseudonym("sesame-style", "cli-2", 0).name not in out  # left: not listed
    assert "cli-1" not in out
    assert "nobody listed" in run(home, "leaderboard", BOARD, "--period", "2020-01").stdout
    missing = run(home, "leaderboard", "nope", check=False)
    assert missing.returncode == 5 and "no leaderboard `nope`" in missing.stderr
    assert run(home, "leaderboard", BOARD, "--limit", "0", check=False).returncode == 2
