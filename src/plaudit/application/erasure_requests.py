"""Erasure requests: a member asks to be erased; an operator with ``erase`` carries it out
or declines it with a reason.

Why a request and not the erasure itself: no member token may erase (see
:mod:`plaudit.entrypoints.http.rights`): erasure is irreversible, and whether the operator
must keep some records first (an open dispute, accounting) is the operator's call. So the
member's side is immediate where it can be: asking **opts the member out at once** (no
score, every consent and leaderboard entry withdrawn), and the request waits in the
console's queue.

No table of its own: a request is an audit entry (``member.erase_request``, a decline
``member.erase_decline`` with its reason), naming the member by audit reference as every
entry does. A request is pending while its member exists and no decline came after it;
erasing the member deletes the row that maps the reference to them, so the request stops
resolving and nothing left names them. The queue joins the audit log to members on that
reference: a scan of the log's requests and declines, which are few.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from plaudit.application import audit
from plaudit.application.ports import AuditRow, Transaction
from plaudit.domain.calendar import from_us
from plaudit.domain.errors import Conflict, InvalidRequest, NotFound, Problem
from plaudit.domain.events import OPT_OUT

if TYPE_CHECKING:
    from plaudit.application.service import Plaudit

REQUEST = "member.erase_request"
DECLINE = "member.erase_decline"
MAX_REASON = 500


@dataclass(frozen=True)
class ErasureRequest:
    member: str
    requested_at: str
    """UTC, ISO 8601."""
    status: str
    """``pending`` or ``declined``."""
    declined_at: str | None = None
    reason: str | None = None
    """The operator's reason for declining, shown to the member."""


def _iso(us: int) -> str:
    return from_us(us).isoformat()


def _fold(rows: list[tuple[str, AuditRow]]) -> dict[str, ErasureRequest]:
    """Each member's latest request, and whether a decline followed it (rows in seq
    order)."""
    out: dict[str, ErasureRequest] = {}
    for member, row in rows:
        if row.action == REQUEST:
            current = out.get(member)
            if current is None or current.status == "declined":
                out[member] = ErasureRequest(member, _iso(row.at_us), "pending")
        elif member in out and out[member].status == "pending":
            reason = orjson.loads(row.detail).get("reason") if row.detail else None
            out[member] = ErasureRequest(member, out[member].requested_at, "declined",
                                         _iso(row.at_us), reason)
    return out


def request_erasure(svc: Plaudit, member_id: str, *, actor: str) -> ErasureRequest:
    """Opt the member out (if they are in) and record the request, in one transaction.
    Asking again while a request is pending answers it unchanged."""
    current = request_of(svc, member_id)
    if current is not None and current.status == "pending":
        return current
    state = svc.member_state(member_id, history=False)  # NotFound for an unknown member
    ask = svc._audit_member(member_id, actor, REQUEST)
    if state.status != "opted_out":
        opt_out = svc._audit_member(member_id, actor, "member.opt_out")

        def both(tx: Transaction) -> None:
            opt_out(tx)
            ask(tx)
        svc._record(member_id, OPT_OUT, "opt-out", {"opted_out": True}, then=both)
    else:
        with svc.store.write() as tx:
            ask(tx)
    found = request_of(svc, member_id)
    assert found is not None
    return found


def request_of(svc: Plaudit, member_id: str) -> ErasureRequest | None:
    """The member's latest request and its outcome, for the member to see."""
    with svc.store.read() as tx:
        no = tx.member_no(member_id)
        if no is None:
            raise NotFound(f"member `{member_id}` not found")
        rows = tx.member_audit((REQUEST, DECLINE), no)
    return _fold(rows).get(member_id)


def pending(svc: Plaudit) -> list[ErasureRequest]:
    """Requests waiting for an operator, oldest first."""
    with svc.store.read() as tx:
        rows = tx.member_audit((REQUEST, DECLINE), None)
    found = [r for r in _fold(rows).values() if r.status == "pending"]
    return sorted(found, key=lambda r: r.requested_at)


def decline(svc: Plaudit, member_id: str, reason: str, *, actor: str) -> ErasureRequest:
    """Decline a pending request, saying why (the member sees the reason). The member stays
    opted out until they opt in again: declining keeps their data, not their scoring."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidRequest([Problem("body", "reason",
                                      f"say why, in 1 to {MAX_REASON} characters")])
    current = request_of(svc, member_id)
    if current is None or current.status != "pending":
        raise Conflict(f"member `{member_id}` has no pending erasure request")
    with svc.store.write() as tx:
        no = tx.member_no(member_id)
        assert no is not None
        audit.record(tx, svc.clock, actor, DECLINE, audit.member_subject(tx, no),
                     {"reason": reason})
    found = request_of(svc, member_id)
    assert found is not None
    return found


__all__ = ["ErasureRequest", "decline", "pending", "request_erasure", "request_of"]
