"""The demo's play: after the synthetic history is ingested, some members use the game.

Kept apart from :mod:`plaudit.synthetic` (which only writes events) because these are
commands through the service, checked like any member's: a redemption the member cannot
afford or is not allowed is refused and skipped, exactly as it would be for a real member.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from plaudit.application.access import MAX_TOKEN_SECONDS
from plaudit.application.service import Plaudit
from plaudit.domain.errors import PlauditError
from plaudit.synthetic import generate, member_id, today_utc


@dataclass
class PlayReport:
    redeemed: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    joined: dict[str, int] = field(default_factory=dict)
    """Members who joined each leaderboard."""
    friends: int = 0
    """Mutual friendships made."""
    showcase: list[str] = field(default_factory=list)
    """Members who joined the boards and redeemed: worth opening in the portal."""


def play(service: Plaudit, members: int, *, seed: int = 7,
         progress: Callable[[int, int], object] | None = None) -> PlayReport:
    """Deterministic for a seed: a tenth of the members try to redeem a reward of the
    catalogue, a fifth join every leaderboard (under their generated pseudonym), and a few
    pairs of them name each other as friends. ``progress`` gets (done, total) after each
    member command."""
    rng = random.Random(seed)
    report = PlayReport()
    rb = service.rulebook()
    rewards = [r.id for r in rb.rewards]
    redeemers = sorted(rng.sample(range(1, members + 1), max(1, members // 10))) \
        if rewards else []
    joiners = sorted(rng.sample(range(1, members + 1), max(2, members // 5))) \
        if rb.leaderboards else []
    pairs = [(joiners[k], joiners[k + 1]) for k in range(0, min(len(joiners) - 1, 40), 2)]
    total = len(redeemers) + len(joiners) * len(rb.leaderboards) + 2 * len(pairs)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    for board in rb.leaderboards:
        for i in joiners:
            service.join_leaderboard(member_id(i), board.id)
            report.joined[board.id] = report.joined.get(board.id, 0) + 1
            step()
    for a, b in pairs:
        service.record_friend(member_id(a), member_id(b), True)
        service.record_friend(member_id(b), member_id(a), True)
        report.friends += 1
        step()
        step()
    for i in redeemers:
        step()
        reward = rng.choice(rewards)
        try:
            service.redeem(member_id(i), reward, f"demo-{reward}-{i}")
        except PlauditError:
            report.refused += 1
        else:
            report.redeemed[reward] = report.redeemed.get(reward, 0) + 1
            if i in joiners:
                report.showcase.append(member_id(i))
    return report


@dataclass(frozen=True)
class Links:
    """What ``plaudit demo`` prints to open the program in a browser."""

    member: str
    member_token: str
    operator_key: str


def _below_the_top(service: Plaudit, members: list[str]) -> str | None:
    """A member with a band above theirs, so the portal's improve plan has a goal."""
    score = service.rulebook().score
    top = score.bands[-1].name if score is not None and score.bands else None
    for member in members:
        state = service.member_state(member, history=False)
        if state.score is not None and state.score.band not in (None, top):
            return member
    return None


def links(service: Plaudit, played: PlayReport, *, actor: str) -> Links:
    """An ``admin`` operator key for the console and a day-long member token (with
    ``consents``) for a member who played: the demo's sign-in links."""
    key = service.access.create_key("demo console", ["admin"], actor=actor)
    member = _below_the_top(service, played.showcase) or next(iter(played.showcase),
                                                              member_id(1))
    token = service.access.issue_member_token(member, MAX_TOKEN_SECONDS, issued_by=key.row.key_id,
                                              actor=actor, consents=True)
    return Links(member, token.token, key.token)


def build(service: Plaudit, rulebook: str, members: int, days: int, *, seed: int = 7,
          actor: str) -> PlayReport:
    """A demo program without the command line's progress bars (tests, benchmarks, the
    screenshots): publish ``rulebook``, ingest ``days`` of synthetic history up to today
    for ``members`` and :func:`play`."""
    import orjson

    service.publish_rulebook(rulebook, "sesame-style.yaml", actor=actor)
    start = date.fromordinal(today_utc().toordinal() - days)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        with path.open("wb") as f:
            for event in generate(members, days, start=start, seed=seed):
                f.write(orjson.dumps(event) + b"\n")
        service.ingest_file(path)
    return play(service, members, seed=seed)


@contextmanager
def serving(service: Plaudit, timeout: float = 30) -> Iterator[str]:
    """Serve ``service`` (API, portal, console) with uvicorn on a free loopback port from a
    thread of this process, and yield its base URL once it listens: the same store stays
    at hand to the caller. Stops the server on exit."""
    import uvicorn

    from plaudit.entrypoints.http.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


__all__ = ["Links", "PlayReport", "build", "links", "play", "serving"]
