"""Disputes: a member objects to one of their events; the operator accepts or rejects.

A dispute never edits an event (events are facts, kept once): it sets the event's
``excluded`` flag, which every read of the member's events honours, so each fold path —
the cache miss, as-of reads, score history, the ledger, a publish's re-fold — leaves the
event out with no code of its own. While a dispute is open the program's policy decides
(``program.disputes``): ``exclude`` (the default) leaves the event out until the operator
decides, ``keep`` counts it until then. Accepted: left out for good (voided). Rejected: it
counts again.

Leaving an event out is a change "as if it never happened", at the event's own time: a
voided purchase takes its points with it, and a later spend they paid for is then short;
that spend takes what the member had at its time and the shortfall is reported in the
state's warnings, exactly as when a late refund leaves a stored spend short — the balance
never goes below zero, and points earned later are not taken instead. (A refund sent
today differs: it claws back from the lots held today. A void is not a refund: it says the
purchase should never have counted.)

Every change re-folds the member in the transaction that makes it, under the member's
lock (as ingest does), writes their state row and leaderboard rows, bumps the state's
``revision`` (so a fold another process cached before the change is not trusted after it)
and replaces this process's cached fold.

Plaudit stores no free text of members: a dispute's reason is a code (:data:`REASONS`).
The operator's explanation of a rejection is the operator's own text, bounded in length.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plaudit.application import audit
from plaudit.application.ingest import state_row, to_event, write_boards
from plaudit.application.ports import DisputeRow, StateRow, Transaction
from plaudit.domain.calendar import from_us
from plaudit.domain.errors import Conflict, InvalidRequest, NotFound, Problem
from plaudit.domain.events import SPEND
from plaudit.domain.fold import MemberFold, fold_events
from plaudit.domain.rulebook import BUILTIN_EVENTS, Rulebook

if TYPE_CHECKING:
    from plaudit.application.service import Plaudit

REASONS = ("not-mine", "wrong-amount", "wrong-time", "duplicate", "other")
"""Why a member disputes an event: codes, never the member's own words."""
STATUSES = ("open", "accepted", "rejected")
MAX_DECISION = 500
"""Characters of an operator's explanation of a rejection."""
MAX_OPEN = 100
"""Open disputes a member may have at once: each opens a re-fold of the member, and a
hundred is far beyond what a real member disputes."""
MAX_PAGE = 500
DISPUTABLE_BUILTINS = frozenset({SPEND})


def _disputable_type(event_type: str) -> bool:
    """The operator's events, and a spend (points the operator took); not the member's own
    commands and choices (a redemption, a consent, a board), each undone its own way."""
    return event_type not in BUILTIN_EVENTS or event_type in DISPUTABLE_BUILTINS
"""Built-in types a member may dispute. ``plaudit.spend`` is the operator's record of the
member spending (a till, a partner), which the member may not recognise; the others are
the member's own commands and words, undone their own way (cancel a redemption, revoke a
consent, leave a board, name another seed, withdraw a friend)."""


@dataclass(frozen=True)
class DisputedEvent:
    id: str
    type: str
    at: str
    """As sent."""


@dataclass(frozen=True)
class DisputeView:
    id: str
    member: str
    event: DisputedEvent
    reason: str
    status: str
    """``open``, ``accepted`` (the event is voided) or ``rejected`` (it counts again)."""
    excluded: bool
    """Whether the event is left out of the member's points, score, tier and the rest now."""
    opened_at: str
    decided_at: str | None
    decision: str | None
    """The operator's explanation of a rejection."""
    decided_by: str | None
    """The operator key id (or ``cli:<user>``) that decided; None in the member's own view:
    who works at the operator is not the member's business."""


@dataclass(frozen=True)
class DisputePage:
    disputes: tuple[DisputeView, ...]
    next: int | None
    """Pass as ``after`` for the next page; None on the last."""


def _not_found(member_id: str, event_id: str) -> InvalidRequest:
    # The same answer for an unknown event, an unknown member and another member's event:
    # nobody learns who owns what.
    return InvalidRequest([Problem("body", "event_id",
                                   f"no event `{event_id}` of member `{member_id}`")])


class Disputes:
    """The dispute use cases, over the service's store, clock, rulebooks and fold cache."""

    def __init__(self, svc: Plaudit) -> None:
        self.svc = svc

    # -- views ------------------------------------------------------------------------

    def _view(self, row: DisputeRow, rb: Rulebook) -> DisputeView:
        tz = rb.calendar.tz
        return DisputeView(
            id=row.dispute_id, member=row.member_id,
            event=DisputedEvent(row.event_id, row.event_type, row.event_at),
            reason=row.reason, status=row.status, excluded=row.excluded,
            opened_at=from_us(row.opened_us, tz).isoformat(),
            decided_at=from_us(row.decided_us, tz).isoformat()
            if row.decided_us is not None else None,
            decision=row.decision_reason, decided_by=row.decided_by)

    def get(self, dispute_id: str) -> DisputeView:
        rb = self.svc.rulebook()
        with self.svc.store.read() as tx:
            row = tx.dispute(dispute_id)
        if row is None:
            raise NotFound(f"no dispute `{dispute_id}`")
        return self._view(row, rb)

    def page(self, status: str | None = None, after: int = 0, limit: int = 100
             ) -> DisputePage:
        if status is not None and status not in STATUSES:
            raise InvalidRequest([Problem("query", "status", f"`{status}` is not one of "
                                          f"{', '.join(STATUSES)}")])
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest([Problem("query", "limit", f"must be 1 to {MAX_PAGE}")])
        rb = self.svc.rulebook()
        with self.svc.store.read() as tx:
            rows = tx.disputes(status, max(after, 0), limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return DisputePage(tuple(self._view(r, rb) for r in rows),
                           rows[-1].dispute_no if more else None)

    def disputable(self, member_id: str, event_ids: Sequence[str]) -> frozenset[str]:
        """Which of these events the member may dispute (their own, not one of their own
        commands or choices): what :meth:`open` would take, for a page to offer."""
        with self.svc.store.read() as tx:
            stored = tx.stored_events(list(dict.fromkeys(event_ids)))
        return frozenset(i for i, e in stored.items()
                         if e.member_id == member_id and _disputable_type(e.type))

    def of_member(self, member_id: str) -> list[DisputeView]:
        """The member's disputes, oldest first, as the member sees them (who decided is
        left out)."""
        rb = self.svc.rulebook()
        with self.svc.store.read() as tx:
            no = tx.member_no(member_id)
            if no is None:
                raise NotFound(f"member `{member_id}` not found")
            rows = tx.member_disputes(no)
        return [dataclasses.replace(self._view(r, rb), decided_by=None) for r in rows]

    # -- changes ----------------------------------------------------------------------

    def open(self, member_id: str, event_id: str, reason: str, *, actor: str
             ) -> tuple[DisputeView, bool]:
        """Open a dispute on one of the member's stored events; whether this call opened
        it (False: the same open dispute was already there, and is returned). ``actor``:
        the member's token id, or the operator's key id or ``cli:<user>``, for the audit
        log (the entry names the dispute, the member's audit reference and the reason
        code, never the event id, which is the operator's and may embed a member id)."""
        if reason not in REASONS:
            raise InvalidRequest([Problem("body", "reason", f"`{reason}` is not a reason "
                                          f"code: one of {', '.join(REASONS)}")])
        svc = self.svc
        with svc.store.write() as tx:
            # The policy read here must still be the one in force when this commits: a
            # publish (which re-flags every open dispute's event to its policy) waits.
            tx.hold_rulebooks()
            rb = svc._current(tx)
            no = tx.member_no(member_id)
            if no is None:
                raise _not_found(member_id, event_id)
            tx.lock_members([no])
            stored = tx.stored_events([event_id]).get(event_id)
            if stored is None or stored.member_id != member_id:
                raise _not_found(member_id, event_id)
            if not _disputable_type(stored.type):
                raise InvalidRequest([Problem(
                    "body", "event_id", f"`{event_id}` is a `{stored.type}` event, the "
                    "member's own command or choice: undo it its own way (cancel the "
                    "redemption, revoke the consent, leave the board …)")])
            found = tx.dispute_of_event(event_id)
            if found is not None:
                if found.status == "open" and found.reason == reason:
                    return self._view(found, rb), False
                raise Conflict(self._taken(found, event_id))
            if tx.count_open_disputes(no) >= MAX_OPEN:
                raise Conflict(f"member `{member_id}` already has {MAX_OPEN} open disputes: "
                               "wait for the operator to decide some")
            dispute_id = "dsp_" + secrets.token_hex(8)
            tx.add_dispute(dispute_id, no, event_id, reason, svc.clock.now_us())
            if rb.program.disputes == "exclude":
                self._set(tx, rb, no, member_id, event_id, excluded=True)
            row = tx.dispute(dispute_id)
            audit.record(tx, svc.clock, actor, "dispute.open", f"dispute:{dispute_id}",
                         {"member": audit.member_subject(tx, no), "reason": reason})
        assert row is not None
        return self._view(row, rb), True

    @staticmethod
    def _taken(found: DisputeRow, event_id: str) -> str:
        if found.status == "open":
            return (f"event `{event_id}` already has an open dispute (`{found.dispute_id}`, "
                    f"reason `{found.reason}`)")
        return (f"event `{event_id}` was already disputed and the dispute "
                f"`{found.dispute_id}` was {found.status}: an event is disputed once")

    def accept(self, dispute_id: str, *, actor: str) -> DisputeView:
        """The event is voided: left out of the member's fold for good."""
        return self._decide(dispute_id, "accepted", None, actor)

    def reject(self, dispute_id: str, reason: str, *, actor: str) -> DisputeView:
        """The event counts again; ``reason`` is shown to the member."""
        text = reason.strip()
        if not text or len(text) > MAX_DECISION or any(
                (ord(c) < 32 and c not in "\n\t") or c == "\x7f" for c in text):
            raise InvalidRequest([Problem("body", "reason", "must be 1 to "
                                          f"{MAX_DECISION} characters of text, no control "
                                          "characters: it is shown to the member")])
        return self._decide(dispute_id, "rejected", text, actor)

    def _decide(self, dispute_id: str, status: str, reason: str | None, actor: str
                ) -> DisputeView:
        svc = self.svc
        with svc.store.write() as tx:
            tx.hold_rulebooks()  # a publish re-flagging open disputes waits for this
            rb = svc._current(tx)
            row = tx.dispute(dispute_id)
            if row is None:
                raise NotFound(f"no dispute `{dispute_id}`")
            tx.lock_members([row.member_no])
            row = tx.dispute(dispute_id)  # again under the lock: decided meanwhile?
            assert row is not None
            if row.status != "open" or not tx.decide_dispute(
                    row.dispute_no, status, svc.clock.now_us(), reason, actor[:64]):
                raise Conflict(f"dispute `{dispute_id}` was already {row.status}")
            excluded = status == "accepted"
            if row.excluded != excluded:
                self._set(tx, rb, row.member_no, row.member_id, row.event_id,
                          excluded=excluded)
            decided = tx.dispute(dispute_id)
            # the rejection's explanation is free text (it may name the member): not copied
            audit.record(tx, svc.clock, actor,
                         "dispute.accept" if status == "accepted" else "dispute.reject",
                         f"dispute:{dispute_id}",
                         {"member": audit.member_subject(tx, row.member_no),
                          "excluded": excluded})
        assert decided is not None
        return self._view(decided, rb)

    def _set(self, tx: Transaction, rb: Rulebook, no: int, member_id: str, event_id: str,
             *, excluded: bool) -> None:
        """Flag the event and re-fold the member in ``tx`` (the member is locked)."""
        tx.set_excluded(event_id, excluded)
        tx.bump_revisions([no])
        refold(self.svc, tx, rb, [(no, member_id)])


def refold(svc: Plaudit, tx: Transaction, rb: Rulebook,
           members: Sequence[tuple[int, str]]) -> None:
    """Fold these (locked) members from their counted events and write what derives from
    them — state rows, leaderboard rows — in ``tx``; this process's cache gets the new
    folds, tagged with the stored revision so no stale fold answers for them again."""
    states = tx.states([no for no, _ in members])
    rows: list[StateRow] = []
    folded: list[tuple[int, MemberFold]] = []
    for no, member_id in members:
        acc = fold_events(rb, member_id, (to_event(rb, s) for s in tx.member_events(no)))
        acc.revision = states[no].revision if no in states else 0
        rows.append(_state_row(no, acc))
        folded.append((no, acc))
    tx.put_states(rows, svc.clock.now_us())
    write_boards(tx, folded)
    with svc.cache.lock:
        svc.cache.drop([no for no, _ in members])
        for no, acc in folded:
            if acc.last_key is not None:
                svc.cache.put(no, acc)


def _state_row(no: int, acc: MemberFold) -> StateRow:
    """The state row; for a member none of whose events counts any more, an empty one
    (position 0, never trusted by the cache, so every read folds the nothing left)."""
    if acc.last_key is not None:
        return state_row(no, acc)
    s = acc.summary(0)
    return StateRow(no, acc.rulebook.version, 0, 0, "", s.balance, s.score, s.band, s.tier,
                    " ".join(s.consents))


__all__ = ["MAX_DECISION", "MAX_OPEN", "REASONS", "STATUSES", "DisputePage", "DisputeView",
           "DisputedEvent", "Disputes", "refold"]
