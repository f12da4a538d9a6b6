"""Export: everything plaudit stores about a member, as one JSON document.

The document is assembled from the use cases that already answer each part (the member's
state, the points statement, their side of the leaderboards) plus the rows only an export
needs (every stored event as stored, the member's tokens without their secrets), so it
says exactly what the API says, never a second version of it.

It is a list of named sections (:data:`SECTIONS`), each a function of one
:class:`Source`, so a new kind of member data is one line here; docs/api.md describes each.
Every stored event is listed, including any dated after ``exported_at``; the state,
statement and standings are as of ``exported_at``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from plaudit.domain.calendar import from_us
from plaudit.domain.errors import NotFound
from plaudit.domain.state import MemberState

if TYPE_CHECKING:
    from plaudit.application.service import Plaudit

FORMAT = "plaudit-export/1"
"""The document's format marker; a change that is not only an added key gets a new one."""


@dataclass(frozen=True)
class Source:
    """What every section reads: the member, the instant, and their state at it."""

    svc: Plaudit
    member_id: str
    member_no: int
    as_of_us: int
    state: MemberState


def _events(src: Source) -> list[dict[str, Any]]:
    """Every stored event, those a dispute leaves out of the fold too (the disputes
    section says which)."""
    with src.svc.store.read() as tx:
        stored = tx.member_events(src.member_no, excluded=True)
    stored.sort(key=lambda e: (e.at_us, e.event_id))  # the fold's order
    return [{"id": e.event_id, "type": e.type, "at": e.at,
             "attributes": orjson.loads(e.attributes)} for e in stored]


def _leaderboards(src: Source) -> dict[str, Any]:
    """The member's standing now, their friend grants, and every stored entry of theirs
    (past periods too: a past period's entry stays as its final standing)."""
    mine = src.svc.member_leaderboards(src.member_id, src.as_of_us)
    tz = src.svc.rulebook().calendar.tz
    with src.svc.store.read() as tx:
        entries = [{"board": e.board, "period": e.period, "value": e.value,
                    "reached_at": from_us(e.reached_at_us, tz).isoformat(),
                    "pseudonym": e.pseudonym, "rank": tx.rank(e)}
                   for e in tx.member_entries(src.member_no)]
    return {"pseudonym": mine.pseudonym, "boards": mine.boards, "friends": mine.friends,
            "entries": entries}


def _tokens(src: Source) -> list[dict[str, Any]]:
    """Member tokens' metadata: never a secret or its hash."""
    with src.svc.store.read() as tx:
        rows = tx.member_tokens(src.member_id)

    def when(us: int | None) -> str | None:
        return from_us(us).isoformat() if us is not None else None

    return [{"id": r.key_id, "scopes": r.scopes.split(), "created_at": when(r.created_us),
             "expires_at": when(r.expires_us), "revoked_at": when(r.revoked_us)}
            for r in rows]


def _disputes(src: Source) -> list[Any]:
    """Every dispute the member opened, with its outcome."""
    disputes: Any = src.svc.disputes
    return list(disputes.of_member(src.member_id))


SECTIONS: tuple[tuple[str, Callable[[Source], Any]], ...] = (
    ("state", lambda src: src.state),
    ("ledger", lambda src: src.svc.ledger(src.member_id, src.as_of_us)),
    ("leaderboards", _leaderboards),
    ("events", _events),
    ("tokens", _tokens),
    ("disputes", lambda src: _disputes(src)),
    ("partner_checks", lambda src: src.svc.partner_checks(src.member_id, limit=100_000)),
    ("erasure_request", lambda src: src.svc.erasure_request(src.member_id)),
)
"""The document's sections, in order: (key, what it holds)."""


def export_member(svc: Plaudit, member_id: str) -> dict[str, Any]:
    """The member's export at now: a JSON-ready dict (NotFound for an unknown member)."""
    with svc.store.read() as tx:
        no = tx.member_no(member_id)
    if no is None:
        raise NotFound(f"member `{member_id}` not found")
    now = svc.clock.now_us()
    state = svc.member_state(member_id, now, history=True)
    src = Source(svc, member_id, no, now, state)
    document: dict[str, Any] = {
        "format": FORMAT,
        "exported_at": from_us(now, svc.rulebook().calendar.tz).isoformat(),
        "member": member_id,
        "rulebook_version": state.rulebook_version,
        "status": state.status,
        "opted_out_at": state.opted_out_at,
    }
    for key, section in SECTIONS:
        document[key] = section(src)
    plain: dict[str, Any] = orjson.loads(render(document))
    return plain


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact, as everywhere in the API
    raise TypeError(f"cannot serialise {type(value).__name__}")


def render(document: Any, *, indent: bool = False) -> bytes:
    """The document as JSON bytes (dataclasses as objects, decimals as exact strings)."""
    return orjson.dumps(document, default=_default,
                        option=orjson.OPT_INDENT_2 if indent else 0)


__all__ = ["FORMAT", "SECTIONS", "Source", "export_member", "render"]
