"""Opting out and in, interleaved with behaviour, consents and board choices in any order:
the fold stays deterministic, and while a member is out nothing of theirs can answer a
partner's check, score them or list them on a board."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plaudit.domain.calendar import to_us
from plaudit.domain.errors import MemberOptedOut
from plaudit.domain.events import CONSENT, LEADERBOARD, OPT_OUT, Event
from plaudit.domain.fold import MemberFold, fold
from plaudit.domain.mechanics.participation import WITHDRAWALS
from plaudit.domain.state import to_dict

from .test_fold_properties import AS_OF, FAST, RB, START, histories


@st.composite
def with_opt_outs(draw: st.DrawFn) -> list[Event]:
    """A generated history with opt-outs and opt-ins (some said twice) at random times,
    some at the very instant of another event (the tie is broken by id)."""
    events = draw(histories())
    times = [e.at_us for e in events]
    for i in range(draw(st.integers(1, 6))):
        if times and draw(st.booleans()):
            at_us = draw(st.sampled_from(times))
        else:
            at_us = to_us(START + timedelta(minutes=30 * draw(st.integers(0, 2 * 365 * 48))))
        out = draw(st.booleans())
        events.append(Event(f"p{i}", "m", OPT_OUT, at_us, "", {"opted_out": out}))
    return events


def expected(events: list[Event]) -> tuple[int | None, dict[str, bool], set[str]]:
    """What the member's own words say, in fold order: since when they are out (None:
    they take part); each partner's consent; the boards joined. Opting out withdraws every
    consent and board, saying it again changes nothing; while out, only withdrawals
    count."""
    since: int | None = None
    consents: dict[str, bool] = {}
    boards: set[str] = set()
    for e in sorted(events, key=lambda e: (e.at_us, e.id)):
        out = since is not None
        if e.type == OPT_OUT:
            if e.attributes["opted_out"] and not out:
                consents = dict.fromkeys(consents, False)
                boards = set()
                since = e.at_us
            elif not e.attributes["opted_out"]:
                since = None
        elif e.type == CONSENT and (not out or not e.attributes["granted"]):
            consents[e.attributes["partner"]] = e.attributes["granted"]
        elif e.type == LEADERBOARD and (not out or not e.attributes["joined"]):
            (boards.add if e.attributes["joined"] else boards.discard)(e.attributes["board"])
    return since, consents, boards


@FAST
@given(with_opt_outs(), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_state(events: list[Event],
                                                rnd: random.Random) -> None:
    shuffled = events[:]
    rnd.shuffle(shuffled)
    assert to_dict(fold(RB, "m", events, AS_OF)) == to_dict(fold(RB, "m", shuffled, AS_OF))


@FAST
@given(with_opt_outs())
def test_while_out_nothing_answers_a_partner_or_lists_the_member(events: list[Event]
                                                                 ) -> None:
    ordered = sorted(events, key=lambda e: (e.at_us, e.id))
    acc = MemberFold(RB, "m")
    for i, e in enumerate(ordered):
        acc.apply(e)
        if i + 1 < len(ordered) and ordered[i + 1].at_us == e.at_us:
            continue  # read between instants, as a reader can
        since, consents, boards = expected(ordered[:i + 1])
        view, summary = acc.view(e.at_us), acc.summary(e.at_us)
        assert {c.partner: c.granted for c in view.consents} == consents
        assert {b.id for b in view.leaderboards if b.joined} == boards
        if since is not None:
            assert (view.status, view.score, view.tier, view.perks) == (
                "opted_out", None, None, ())
            assert view.opted_out_at == RB.calendar.iso(since)   # the first word counts
            # the partner check's two tests: the stored grants, then the fold's status
            assert summary.consents == () and not any(c.granted for c in view.consents)
            assert (summary.score, summary.tier) == (None, None)
            assert not boards
        else:
            assert view.status == "active" and view.opted_out_at is None
            assert view.score is not None


@FAST
@given(with_opt_outs())
def test_a_new_event_while_out_is_refused_unless_it_withdraws(events: list[Event]) -> None:
    acc = MemberFold(RB, "m")
    for e in sorted(events, key=lambda e: (e.at_us, e.id)):
        acc.apply(e)
    out = expected(events)[0] is not None
    probes = [Event("zz-buy", "m", "purchase", AS_OF, "",
                    {"amount": 10, "category": "books", "order_id": "o-z"}),
              Event("zz-grant", "m", CONSENT, AS_OF, "",
                    {"partner": "city-rentals", "granted": True})]
    for probe in probes:
        if out:
            with pytest.raises(MemberOptedOut):
                acc.apply(probe, check=True)
        else:
            acc.apply(probe, check=True)
    withdrawal = Event("zzz-revoke", "m", CONSENT, AS_OF, "",
                       {"partner": "city-rentals", WITHDRAWALS[CONSENT]: False})
    acc.apply(withdrawal, check=True)                       # always possible
    assert not any(c.granted for c in acc.view(AS_OF).consents if c.partner == "city-rentals")
