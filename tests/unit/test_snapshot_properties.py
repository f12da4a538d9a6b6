"""Fold snapshots: restoring one and folding the rest is folding everything.

For generated histories (every mechanic of the sesame example, redemptions and their
cancellations, opt-outs, and the badges/quests program) and any split point,
``restore(snapshot(fold(prefix)))`` plus the rest gives the same view, summary, stored
row and next snapshot bytes as folding all events; snapshots are deterministic, and one
taken under another rulebook (or damaged) is refused, never half-restored.
"""

from __future__ import annotations

import zlib
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plaudit.application.ingest import state_row
from plaudit.domain.calendar import to_us
from plaudit.domain.events import REDEEM, REDEEM_CANCEL, Event
from plaudit.domain.fold import MemberFold
from plaudit.domain.rulebook import Rulebook
from plaudit.domain.snapshot import SnapshotMismatch, restore, snapshot
from plaudit.domain.state import to_dict

from .test_badges_quests_properties import RB as BADGES_RB
from .test_badges_quests_properties import histories as badge_histories
from .test_fold_properties import AS_OF, FAST, RB, START
from .test_participation_properties import with_opt_outs


@st.composite
def with_redemptions(draw: st.DrawFn) -> list[Event]:
    """A sesame history (opt-outs included) with redemptions and cancellations of them
    (and of redemptions that never were) at random times."""
    events = draw(with_opt_outs())
    redeemed: list[str] = []
    for i in range(draw(st.integers(0, 5))):
        at = START + timedelta(minutes=30 * draw(st.integers(0, 2 * 365 * 48)))
        if redeemed and draw(st.booleans()):
            events.append(Event(f"c{i}", "m", REDEEM_CANCEL, to_us(at), at.isoformat(),
                                {"redemption": draw(st.sampled_from([*redeemed, "r-x"]))}))
            continue
        reward, cost = draw(st.sampled_from([("coffee", 150), ("airport-lounge", 2500)]))
        events.append(Event(f"r{i}", "m", REDEEM, to_us(at), at.isoformat(),
                            {"reward": reward, "points": cost, "key": f"k{i}"}))
        redeemed.append(f"r{i}")
    return events


def ordered(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.at_us, e.id))


def folded(rb: Rulebook, events: list[Event], acc: MemberFold | None = None) -> MemberFold:
    acc = acc if acc is not None else MemberFold(rb, "m")
    for e in events:
        acc.apply(e)
    return acc


def check_split(rb: Rulebook, events: list[Event], cut: int) -> None:
    events = ordered(events)
    whole = folded(rb, events)
    prefix = folded(rb, events[:cut])
    body = snapshot(prefix)
    assert snapshot(prefix) == body  # deterministic
    resumed = folded(rb, events[cut:], restore(rb, "m", body))
    for as_of in (events[-1].at_us, AS_OF):
        assert to_dict(resumed.view(as_of)) == to_dict(whole.view(as_of))
        assert resumed.summary(as_of) == whole.summary(as_of)
    assert state_row(7, resumed) == state_row(7, whole)
    assert snapshot(resumed) == snapshot(whole)
    if resumed.leaderboards is not None:
        assert resumed.leaderboards.drain(rb) == whole.leaderboards.drain(rb)  # type: ignore[union-attr]


@FAST
@given(with_redemptions(), st.data())
def test_snapshot_then_the_rest_equals_the_whole_fold(events: list[Event],
                                                     data: st.DataObject) -> None:
    check_split(RB, events, data.draw(st.integers(0, len(events))))


@FAST
@given(badge_histories(), st.data())
def test_badges_and_quests_resume_from_a_snapshot(events: list[Event],
                                                  data: st.DataObject) -> None:
    check_split(BADGES_RB, events, data.draw(st.integers(0, len(events))))


@FAST
@given(with_redemptions())
def test_a_snapshot_is_refused_under_another_rulebook(events: list[Event]) -> None:
    body = snapshot(folded(RB, ordered(events)))
    with pytest.raises(SnapshotMismatch):
        restore(RB.with_version(2), "m", body)
    with pytest.raises(SnapshotMismatch):
        restore(BADGES_RB.with_version(1), "m", body)


def test_damaged_or_foreign_bytes_are_refused() -> None:
    for body in (b"", b"not zlib", zlib.compress(b"[1, 2]"), zlib.compress(b'{"a": 1}'),
                 zlib.compress(b'[1,1,"","x",0,null,null,[],[],[]]'),
                 zlib.compress(b'{"__class__": "os.system"}')):
        with pytest.raises(SnapshotMismatch):
            restore(RB, "m", body)


def test_a_fold_keeping_history_is_not_snapshotted() -> None:
    with pytest.raises(ValueError, match="history"):
        snapshot(MemberFold(RB, "m", history=True))
