"""Events: the only facts plaudit keeps.

An event is immutable and fully typed by the time it reaches the domain: the wire layer has
validated its id, member, time and attributes against the rulebook's event schema. The fold
orders events by ``(at_us, id)`` — event time, then event id — so the order in which they
arrived never matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

SPEND = "plaudit.spend"
"""Built-in event type: the member spends points (``points``: int ≥ 1, ``reference``: id).

It is recorded like any other event, after the ingest checked that the balance at its time
covers it, and the fold takes the points from the oldest lots first.
"""

CONSENT = "plaudit.consent"
"""Built-in event type: the member grants (``granted: true``) or revokes (``false``) a partner
(``partner``: id) the right to ask whether they qualify for that partner's perks.

Consent is recorded as an event so it has a time, an audit trail and a place in the member's
export, but it never touches points, features or the score: consenting is not behaviour.
"""

REDEEM = "plaudit.redeem"
"""Built-in event type: the member redeems a catalogue reward (``reward``: id, ``points``:
the cost charged, int ≥ 0, ``key``: the caller's idempotency key). Recorded by the
redemption command after checking the reward's requirements, limits, dates and stock."""

REDEEM_CANCEL = "plaudit.redeem_cancel"
"""Built-in event type: a redemption (``redemption``: the id of its ``plaudit.redeem``
event) is cancelled; the points return to the lots they came from, the stock to the
catalogue."""

LEADERBOARD = "plaudit.leaderboard"
"""Built-in event type: the member joins (``joined: true``) or leaves (``false``) a
leaderboard (``board``: its id). A preference, not behaviour: only a member who joined is
ever listed, under their pseudonym; leaving removes them from every period of the board."""

PSEUDONYM = "plaudit.pseudonym"
"""Built-in event type: the member picks another pseudonym by choosing a number (``seed``:
int ≥ 0). plaudit never takes free text, so the name is derived from the member and the
seed (:func:`plaudit.domain.mechanics.leaderboards.pseudonym`), never typed."""

FRIEND = "plaudit.friend"
"""Built-in event type: the member grants (``granted: true``) or withdraws (``false``)
another member (``friend``: a member id) a place on their friends view. Two members see
each other there only while both latest words are grants (mutual consent)."""

OPT_OUT = "plaudit.opt_out"
"""Built-in event type: the member leaves (``opted_out: true``) or rejoins (``false``) the
program. While out, nothing of theirs is scored: the view has no score, tier or perks, and
only withdrawals (of consents, boards, friends) and opting in are accepted. Opting out
withdraws every consent, board and friend grant, and they stay withdrawn after opting in
(see :mod:`plaudit.domain.mechanics.participation`)."""

BUILTIN_TYPES = frozenset({SPEND, CONSENT, REDEEM, REDEEM_CANCEL, LEADERBOARD, PSEUDONYM,
                           FRIEND, OPT_OUT})


class Event(NamedTuple):
    """One behaviour event of one member (a NamedTuple: the fold creates millions)."""

    id: str
    member: str
    type: str
    at_us: int
    """Event time as microseconds since the Unix epoch, UTC."""
    at: str
    """Event time exactly as the operator sent it (RFC 3339 with its offset)."""
    attributes: Mapping[str, Any]


__all__ = ["BUILTIN_TYPES", "CONSENT", "FRIEND", "LEADERBOARD", "OPT_OUT", "PSEUDONYM",
           "REDEEM", "REDEEM_CANCEL", "SPEND", "Event"]
