"""What leaderboard reads answer: pseudonyms, values and ranks, never a member id.

A board is read from ``leaderboard_entries`` (written with each member's state, see
:func:`plaudit.application.ingest.write_boards`), in ranking order: the highest value
first, then whoever reached it first, then the pseudonym's tag (a number from its hash),
then the member number — a total order, the same on SQLite and PostgreSQL. A rank is a
position in that order (1, 2, 3, … with no shared places), so two equal values never share
a rank: the one reached earlier is ahead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from plaudit.application.ports import EntryRow
from plaudit.domain.errors import NotFound
from plaudit.domain.rulebook import Leaderboard

MAX_LIMIT = 100

_PERIOD_SHAPES = {
    "month": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"),
    "week": re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$"),
    "all_time": re.compile(r"^all$"),
}
PERIOD_PATTERN = r"^(\d{4}-\d{2}|\d{4}-W\d{2}|all)$"
"""What a ``period`` may look like on the wire (each board accepts one of the shapes)."""


@dataclass(frozen=True)
class BoardInfo:
    id: str
    label: str
    period_kind: str
    """``week``, ``month`` or ``all_time``."""
    period: str
    """The current period (at the as-of): ``2026-07``, ``2026-W27`` or ``all``."""
    metric: str
    """What is ranked, e.g. ``sum of purchase.amount where …``."""


@dataclass(frozen=True)
class Standing:
    rank: int
    pseudonym: str
    value: Decimal | int
    you: bool
    """The reader's own row (only a member's own credential is told which it is)."""


@dataclass(frozen=True)
class BoardPage:
    board: str
    label: str
    period: str
    standings: tuple[Standing, ...]


@dataclass(frozen=True)
class MemberBoard:
    id: str
    label: str
    period: str
    value: Decimal | int
    joined: bool
    rank: int | None
    """The member's place in the period, or None when not listed (not joined, or no event
    of theirs in the period since the last write). It costs a count of the entries ranked
    above (one index range), so there is no "of N": that would count the whole period."""


@dataclass(frozen=True)
class MemberBoards:
    member: str
    pseudonym: str | None
    """The name boards show for the member (None when the rulebook has no boards)."""
    boards: tuple[MemberBoard, ...]
    friends: tuple[str, ...]
    """The members this member's latest words name as friends (their own choice; whether
    those members exist or answered is not shown)."""


@dataclass(frozen=True)
class PseudonymChange:
    member: str
    pseudonym: str
    seed: int
    at: str


@dataclass(frozen=True)
class FriendChange:
    member: str
    friend: str
    granted: bool
    at: str


def find_board(boards: tuple[Leaderboard, ...], board_id: str) -> Leaderboard:
    for b in boards:
        if b.id == board_id:
            return b
    raise NotFound(f"no leaderboard `{board_id}`")


def check_period(board: Leaderboard, period: str) -> str:
    if not _PERIOD_SHAPES[board.period].match(period):
        example = {"month": "2026-07", "week": "2026-W27", "all_time": "all"}[board.period]
        raise NotFound(f"leaderboard `{board.id}` has no period `{period}`: its periods "
                       f"are {board.period.replace('_', ' ')}s, like `{example}`")
    return period


def metric_text(board: Leaderboard) -> str:
    what = board.event_type if board.kind == "count" else f"{board.event_type}." \
        f"{board.attribute}"
    where = f" where {board.where.source}" if board.where is not None else ""
    return f"{board.kind} of {what}{where}"


def value_of(board: Leaderboard, text: str) -> Decimal | int:
    return int(text) if board.value_type == "int" else Decimal(text)


def standings(board: Leaderboard, rows: list[EntryRow], first_rank: int,
              viewer: int | None) -> tuple[Standing, ...]:
    return tuple(Standing(first_rank + i, r.pseudonym, value_of(board, r.value),
                          r.member_no == viewer) for i, r in enumerate(rows))


__all__ = ["MAX_LIMIT", "PERIOD_PATTERN", "BoardInfo", "BoardPage", "FriendChange",
           "MemberBoard", "MemberBoards", "PseudonymChange", "Standing", "check_period",
           "find_board", "metric_text", "standings", "value_of"]
