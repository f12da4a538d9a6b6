"""The fold as a Spark task runs it: sorted event rows in, one result row per member out.

Plain Python over plain tuples (no Spark import), so the same code is what a Spark worker
runs and what a test can call directly. A partition's rows arrive sorted by member, so a
member's events are contiguous: they are gathered, folded with the very functions a local
replay uses (:func:`~plaudit.application.ingest.to_event`,
:func:`~plaudit.domain.fold.fold_events`, :func:`~plaudit.application.ingest.state_row`,
:func:`~plaudit.application.ingest.board_rows`) and dropped before the next member's: a task
holds one member's events at a time. The rulebook is compiled once per worker process
(Spark reuses Python workers across tasks) from its text: compiled rulebooks hold code
objects and do not pickle.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from plaudit.application.ingest import BoardRows, board_rows, state_row, to_event
from plaudit.application.ports import EntryRow, StateRow, StoredEvent
from plaudit.application.workers import RulebookText
from plaudit.domain.backtest import Standing, standing
from plaudit.domain.events import Event
from plaudit.domain.fold import fold_events
from plaudit.domain.rulebook import Rulebook

EVENT_COLUMNS = ("member_no", "event_id", "member_id", "type", "at_us", "at", "attributes")
"""The order a task reads each event row's columns in."""
RESULT_COLUMNS = ("member_no", "rulebook_version", "position", "last_at_us", "last_event_id",
                  "balance", "score", "band", "tier", "consents", "events", "boards")
"""One folded member: its state row, how many events it folded, its leaderboard rows as
JSON (None: nothing to write), see :func:`encode_boards`."""

STANDING_COLUMNS = ("member_no", "member_id", "before_score", "before_band", "before_tier",
                    "before_perks", "after_score", "after_band", "after_tier", "after_perks")
"""One member's backtest standings (score, band, tier, perks held) under both rulebooks."""

_compiled: dict[RulebookText, Rulebook] = {}


def compiled(source: RulebookText) -> Rulebook:
    """``source`` compiled, once per process (a backtest's two rulebooks stay cached)."""
    rb = _compiled.get(source)
    if rb is None:
        if len(_compiled) >= 4:
            _compiled.clear()
        rb = _compiled[source] = source.compile()
    return rb


def members(rows: Iterable[Sequence[Any]]
            ) -> Iterator[tuple[int, str, list[StoredEvent]]]:
    """(member_no, member id, stored events) of event rows (:data:`EVENT_COLUMNS`) sorted
    by member, one member at a time."""
    current: int | None = None
    member = ""
    stored: list[StoredEvent] = []
    for r in rows:
        no = r[0]
        if no != current:
            if current is not None:
                if current > no:
                    raise ValueError(f"event rows not sorted by member: {no} after {current}")
                yield current, member, stored
            current, member, stored = no, r[2], []
        stored.append(StoredEvent(r[1], r[2], r[3], r[4], r[5], r[6]))
    if current is not None:
        yield current, member, stored


def fold_rows(source: RulebookText, rows: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    """Result rows (:data:`RESULT_COLUMNS`) of event rows (:data:`EVENT_COLUMNS`) sorted
    by member: one per member, in the order they come."""
    rulebook = compiled(source)
    for no, member, stored in members(rows):
        yield fold_member(rulebook, no, member, [to_event(rulebook, e) for e in stored])


def standing_rows(before: RulebookText, after: RulebookText, as_of_us: int,
                  rows: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    """Backtest rows (:data:`STANDING_COLUMNS`) of event rows sorted by member: each member
    folded fresh under both rulebooks at ``as_of_us``, as
    :func:`plaudit.application.backtest.backtest` folds them; members with no event at or
    before ``as_of_us`` give no row (they were not members then)."""
    sides = (compiled(before), compiled(after))
    for no, member, stored in members(rows):
        kept = [e for e in stored if e.at_us <= as_of_us]
        if not kept:
            continue
        out: list[Any] = [no, member]
        for rb in sides:
            s = standing(fold_events(rb, member, [to_event(rb, e) for e in kept], as_of_us),
                         as_of_us)
            out += [s.score, s.band, s.tier, sorted(s.perks)]
        yield tuple(out)


def row_standings(row: Sequence[Any]) -> tuple[Standing, Standing]:
    """The (before, after) standings of a backtest row."""
    return (Standing(row[2], row[3], row[4], frozenset(row[5])),
            Standing(row[6], row[7], row[8], frozenset(row[9])))


def fold_member(rulebook: Rulebook, member_no: int, member: str, events: list[Event]
                ) -> tuple[Any, ...]:
    acc = fold_events(rulebook, member, events)
    s = state_row(member_no, acc)
    boards = encode_boards(board_rows([(member_no, acc)]))
    return (member_no, s.rulebook_version, s.position, s.last_at_us, s.last_event_id,
            s.balance, s.score, s.band, s.tier, s.consents, len(events), boards)


def encode_boards(rows: BoardRows) -> str | None:
    """One member's leaderboard rows as compact JSON (without the member number, which the
    result row carries); None when there is nothing to write."""
    if not (rows.entries or rows.left or rows.renamed or rows.friends):
        return None
    return orjson.dumps({
        "entries": [list(e[1:]) for e in rows.entries],
        "left": [board for _, board in rows.left],
        "renamed": [list(r[1:]) for r in rows.renamed],
        "friends": [list(f) for _, f in rows.friends],
    }).decode()


def decode_boards(member_no: int, text: str | None, into: BoardRows) -> None:
    """Add what :func:`encode_boards` wrote for ``member_no`` to ``into``."""
    if text is None:
        return
    data = orjson.loads(text)
    into.entries.extend(EntryRow(member_no, *e) for e in data["entries"])
    into.left.extend((member_no, board) for board in data["left"])
    into.renamed.extend((member_no, name, tag) for name, tag in data["renamed"])
    into.friends.extend((member_no, tuple(f)) for f in data["friends"])


def result_state(row: Sequence[Any]) -> StateRow:
    """The state row of a result row."""
    return StateRow(*row[:10])


__all__ = ["EVENT_COLUMNS", "RESULT_COLUMNS", "STANDING_COLUMNS", "compiled", "decode_boards",
           "encode_boards", "fold_member", "fold_rows", "members", "result_state",
           "row_standings", "standing_rows"]
