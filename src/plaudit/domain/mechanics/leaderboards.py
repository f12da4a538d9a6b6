"""Leaderboards: each member's own metric per board, their opt-ins, pseudonym and friends.

Leaderboards are the one cross-member view, and this module is the member's side of it
only: for every board of the rulebook, the member's metric in their current local period
(a count or sum of one event type's events), when that value was last changed (ranking
breaks ties by who got there first), and the member's own preferences — which boards they
joined (``plaudit.leaderboard``), which pseudonym seed they chose (``plaudit.pseudonym``)
and which members they named as friends (``plaudit.friend``). Nothing here reads another
member; the application writes the opted-in members' values to their own table
(``leaderboard_entries``) and ranks them there, and no ranking ever flows back into a fold.

Memory is bounded: one value per board (a new period replaces the old one), plus the
member's own words per board and per friend named (their choices, not their history).

The metric is computed whether or not the member joined, so joining shows the period's
value at once, without a re-fold.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any

from plaudit.domain.errors import EvaluationError
from plaudit.domain.events import FRIEND, LEADERBOARD, PSEUDONYM, Event
from plaudit.domain.mechanics.base import Mechanic, ViewContext
from plaudit.domain.rulebook import Leaderboard, Rulebook
from plaudit.domain.state import LeaderboardView

if TYPE_CHECKING:
    from plaudit.domain.fold import MemberFold
    from plaudit.domain.ledger import LotTable

PERIOD_KINDS = ("week", "month", "all_time")
ALL_TIME = "all"
"""The period key of an ``all_time`` board: its one and only period."""

_ADJECTIVES = (
    "amber", "azure", "bold", "brave", "bright", "brisk", "calm", "candid", "cheery",
    "clever", "cosy", "crisp", "daring", "dapper", "eager", "early", "fair", "fancy",
    "fleet", "fond", "frank", "gentle", "glad", "golden", "grand", "happy", "hardy",
    "honest", "jolly", "keen", "kind", "lively", "lucky", "merry", "mellow", "mighty",
    "neat", "nimble", "noble", "patient", "plucky", "polite", "proud", "quick", "quiet",
    "rapid", "ready", "robust", "rosy", "royal", "sharp", "shiny", "silver", "smart",
    "snappy", "steady", "sunny", "swift", "tidy", "topaz", "trusty", "vivid", "warm",
    "witty",
)
_ANIMALS = (
    "badger", "beaver", "bison", "cat", "crane", "cricket", "deer", "dolphin", "duck",
    "eagle", "falcon", "ferret", "finch", "fox", "gecko", "gibbon", "goose", "hare",
    "hawk", "hedgehog", "heron", "ibis", "jay", "koala", "lark", "lemur", "lion", "llama",
    "lynx", "magpie", "marten", "mole", "moose", "newt", "otter", "owl", "panda",
    "parrot", "pelican", "penguin", "pony", "puffin", "quail", "rabbit", "raven", "robin",
    "salmon", "seal", "shrew", "sparrow", "squirrel", "stork", "swan", "tapir", "tiger",
    "toucan", "trout", "turtle", "vole", "walrus", "weasel", "whale", "wolf", "wren",
)
_KEY_PREFIX = b"plaudit pseudonym v1\x00"
_WIDE = Context(prec=100)
"""Sums of 30-digit attributes stay exact (the default context keeps 28 digits)."""
_ONE = Decimal(1)


def _zero(board: Leaderboard) -> int | Decimal:
    return 0 if board.value_type == "int" else Decimal(0)


def _value(board: Leaderboard, run: _Running) -> BoardValue:
    value = run.value
    return BoardValue(board.id, run.period, _plain(value) if isinstance(value, Decimal)
                      else value, run.reached_at_us)


def _plain(value: Decimal) -> Decimal:
    """``120.50`` as ``120.5``, ``1E+2`` as ``100``: the same digits whether an event came
    from the wire or back from storage (which keeps decimals normalised)."""
    value = value.normalize(_WIDE)
    exponent = value.as_tuple().exponent
    return value.quantize(_ONE, context=_WIDE) if isinstance(exponent, int) and exponent > 0 \
        else value


@dataclass(frozen=True)
class Pseudonym:
    name: str
    """``adjective-animal-NNN``: what boards show instead of the member."""
    tag: int
    """A 62-bit number from the same hash: the last tie-break of a ranking (a number,
    compared the same way by every database, unlike text under a collation)."""


def pseudonym(program_id: str, member: str, seed: int) -> Pseudonym:
    """The member's pseudonym for a seed: the same in every process, with no stored state.

    An HMAC-SHA256 of (member, seed) keyed by the program id picks an adjective, an animal
    and a number from fixed lists (64 × 64 × 1000 names). Without the member id the name
    says nothing about it, and two members' names say nothing about each other; choosing
    another seed re-rolls it. Names may repeat on a large board: ranks are exact, names are
    only labels (a member's own row is marked "you").
    """
    key = hashlib.sha256(_KEY_PREFIX + program_id.encode()).digest()
    digest = hmac.new(key, f"{member}\x00{seed}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big")
    adjective = _ADJECTIVES[n % 64]
    animal = _ANIMALS[(n >> 6) % 64]
    number = (n >> 12) % 1000
    tag = int.from_bytes(digest[8:16], "big") >> 2
    return Pseudonym(f"{adjective}-{animal}-{number:03d}", tag)


def period_key(day: int, kind: str) -> str:
    """The local period containing the local day ``day``: ``2026-07`` (month), ``2026-W27``
    (ISO week) or ``all`` (all time). Text, so an API caller can name a past period. It
    depends on the local day alone (the program's calendar has already cut it), so it is
    cached."""
    key = (day, kind)
    found = _PERIODS.get(key)
    if found is None:
        if kind == "all_time":
            found = ALL_TIME
        else:
            d = date.fromordinal(day)
            if kind == "week":
                year, week, _ = d.isocalendar()
                found = f"{year}-W{week:02d}"
            else:
                found = f"{d.year}-{d.month:02d}"
        if len(_PERIODS) > 100_000:
            _PERIODS.clear()
        _PERIODS[key] = found
    return found


_PERIODS: dict[tuple[int, str], str] = {}


class _Running:
    """One board's running value for the member (mutable: the fold updates it in place
    for every event that reaches the board, so no object is made per event)."""

    __slots__ = ("day", "period", "reached_at_us", "value")

    def __init__(self, period: str, value: int | Decimal, reached_at_us: int,
                 day: int) -> None:
        self.period = period
        self.value = value
        self.reached_at_us = reached_at_us
        self.day = day
        """The latest local day seen in the period: the same day, the same period."""


@dataclass(frozen=True, slots=True)
class BoardValue:
    """The member's metric on one board in one period."""

    board: str
    period: str
    value: int | Decimal
    reached_at_us: int
    """When the value last changed (or, while it is zero, when the period began for the
    member): of two equal values the earlier ranks higher."""


@dataclass(frozen=True)
class BoardWrites:
    """What the application writes for one member after a fold (see :meth:`drain`)."""

    entries: tuple[BoardValue, ...]
    """The current-period value of every board the member has joined."""
    left: tuple[str, ...]
    """Boards the member left since the last write: every entry of theirs there goes."""
    renamed: bool
    """The pseudonym changed: every entry of theirs takes the new one."""
    friends: tuple[str, ...] | None
    """The members the member's latest words grant, when those words changed."""


_PREFERENCES = frozenset({LEADERBOARD, PSEUDONYM, FRIEND})


class LeaderboardsPart(Mechanic):
    __slots__ = ("friends", "joined", "left", "renamed", "seed", "values", "words_changed")
    name = "leaderboards"

    @classmethod
    def enabled(cls, rulebook: Rulebook) -> bool:
        return bool(rulebook.leaderboards)

    @classmethod
    def listens(cls, rulebook: Rulebook) -> Iterable[str]:
        return (*(b.event_type for b in rulebook.leaderboards), LEADERBOARD, PSEUDONYM, FRIEND)

    def __init__(self, rulebook: Rulebook, history: bool = False) -> None:
        self.values: list[_Running | None] = [None] * len(rulebook.leaderboards)
        """Per board (rulebook order), the value in the latest period an event reached."""
        self.joined: dict[str, bool] = {}
        """Board id -> the member's latest word (joined or left)."""
        self.seed = 0
        self.friends: dict[str, bool] = {}
        """Member id -> the member's latest word on them as a friend."""
        self.left: set[str] = set()
        self.renamed = False
        self.words_changed = False
        """What changed since the application last wrote this member's entries."""

    # -- folding ------------------------------------------------------------------------

    def apply(self, fold: MemberFold, event: Event, day: int, strict: bool) -> None:
        rb = fold.rulebook
        attrs = event.attributes
        kind = event.type
        if kind in _PREFERENCES:
            self._prefer(fold, event, day)
            return
        values = self.values
        features = fold.features
        for b, shared in rb.boards_by_type.get(kind, ()):
            run = values[b.index]
            if run is None or run.day != day:
                period = period_key(day, b.period)
                if run is None or run.period != period:
                    run = values[b.index] = _Running(period, _zero(b), event.at_us, day)
                run.day = day
            if b.where is not None:
                if shared is not None and features is not None:
                    # the features mechanic ran first and marked the aggregate it updated
                    if features.stamps[shared] != fold.position:
                        continue
                else:
                    try:
                        if not b.where(attrs):
                            continue
                    except EvaluationError as e:
                        fold.warn(f"event {event.id}: leaderboard {b.id}: {e}")
                        continue
            if b.attribute is None:
                run.value += 1
            else:
                step = attrs[b.attribute]
                if not step:
                    continue
                run.value = _WIDE.add(run.value, step) if b.value_type == "decimal" \
                    else run.value + step
            run.reached_at_us = event.at_us

    def _prefer(self, fold: MemberFold, event: Event, day: int) -> None:
        """A member's choice: join or leave a board, a pseudonym seed, a friend."""
        rb = fold.rulebook
        attrs = event.attributes
        if event.type == LEADERBOARD:
            board = attrs["board"]
            joined = bool(attrs["joined"])
            self.joined[board] = joined
            if not joined:
                self.left.add(board)
            for b in rb.leaderboards:  # joining opens the period: listed from now, at 0
                if b.id == board:
                    self._current(b, day, event.at_us)
            return
        if event.type == PSEUDONYM:
            self.seed = int(attrs["seed"])
            self.renamed = True
            return
        if event.type == FRIEND:
            self.friends[attrs["friend"]] = bool(attrs["granted"])
            self.words_changed = True

    def withdraw_all(self) -> None:
        """Leave every board and stop naming every friend (the member opted out): the
        next write deletes their entries and friend rows."""
        for board, joined in self.joined.items():
            if joined:
                self.joined[board] = False
                self.left.add(board)
        for friend, granted in self.friends.items():
            if granted:
                self.friends[friend] = False
                self.words_changed = True

    def _current(self, board: Leaderboard, day: int, at_us: int) -> None:
        """Start the board's period of ``day`` at zero unless it is already running."""
        period = period_key(day, board.period)
        run = self.values[board.index]
        if run is None or run.period != period:
            self.values[board.index] = _Running(period, _zero(board), at_us, day)
        else:
            run.day = day

    def dump(self, lots: LotTable) -> Any:
        """Also what is still to be written (``left``, ``renamed``, ``words_changed``): a
        snapshot taken after the member's rows were written restores none of it, like a
        cached accumulator."""
        return [[None if v is None else [v.period, v.value, v.reached_at_us, v.day]
                 for v in self.values],
                [[board, joined] for board, joined in self.joined.items()], self.seed,
                [[friend, granted] for friend, granted in self.friends.items()],
                self.left, self.renamed, self.words_changed]

    def load(self, rulebook: Rulebook, data: Any, lots: LotTable) -> None:
        values, joined, self.seed, friends, left, self.renamed, self.words_changed = data
        if len(values) != len(self.values):
            raise ValueError("the leaderboards do not match the rulebook")
        self.values = [None if v is None else _Running(*v) for v in values]
        self.joined = {board: flag for board, flag in joined}
        self.friends = {friend: flag for friend, flag in friends}
        self.left = set(left)

    # -- reading ------------------------------------------------------------------------

    def current(self, board: Leaderboard) -> BoardValue | None:
        """The board's value in the latest period an event of the member reached."""
        run = self.values[board.index]
        return _value(board, run) if run is not None else None

    def value_on(self, board: Leaderboard, day: int) -> BoardValue:
        """The member's value on ``board`` in the period of ``day`` (zero before any event
        of theirs reached that period)."""
        period = period_key(day, board.period)
        run = self.values[board.index]
        if run is not None and run.period == period:
            return _value(board, run)
        return BoardValue(board.id, period, _zero(board), 0)

    def granted_friends(self) -> tuple[str, ...]:
        return tuple(sorted(f for f, granted in self.friends.items() if granted))

    def pseudonym(self, fold: MemberFold) -> Pseudonym:
        return pseudonym(fold.rulebook.program.id, fold.member, self.seed)

    def view(self, fold: MemberFold, ctx: ViewContext) -> None:
        rb = fold.rulebook
        name = self.pseudonym(fold).name
        ctx.out["leaderboards"] = tuple(
            LeaderboardView(b.id, b.label, v.period, v.value, self.joined.get(b.id, False),
                            name)
            for b in rb.leaderboards for v in (self.value_on(b, ctx.day),))

    def needs_write(self) -> bool:
        """Whether :meth:`drain` has anything to say: false for a member who never joined
        a board nor named a friend (the common case costs nothing)."""
        return bool(self.left or self.renamed or self.words_changed
                    or any(self.joined.values()))

    def drain(self, rulebook: Rulebook) -> BoardWrites:
        """What the application must write for this member now, forgetting what changed:
        the next write of a cached accumulator reports only what changes after this one
        (a re-fold starts from nothing and so reports everything again)."""
        entries = tuple(v for b in rulebook.leaderboards
                        if self.joined.get(b.id) and (v := self.current(b)) is not None)
        writes = BoardWrites(entries, tuple(sorted(self.left)), self.renamed,
                             self.granted_friends() if self.words_changed else None)
        self.left = set()
        self.renamed = self.words_changed = False
        return writes


__all__ = ["ALL_TIME", "PERIOD_KINDS", "BoardValue", "BoardWrites", "LeaderboardsPart",
           "Pseudonym", "period_key", "pseudonym"]
