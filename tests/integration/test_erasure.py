"""Erasure on SQLite and PostgreSQL: afterwards no row of any table mentions the member.

Every table is reflected from the database itself (not from plaudit's table list), so a
table added later is scanned without anyone remembering to add it here.
"""

from __future__ import annotations

from typing import Any

import pytest

from plaudit.application.ingest import to_event
from plaudit.application.service import Plaudit
from plaudit.domain.errors import EventRejected, NotFound
from plaudit.domain.fold import fold_events
from plaudit.domain.state import to_dict

from ..conftest import NOW
from ..table_scan import every_row, leaks

GONE = "erase-me-7f3a9c"
"""A member id no other value of the test contains, so a substring hit is a real leak."""
ALICE, BOB, CAROL = "alice-1", "bob-2", "carol-3"


def ev(i: str, member: str, type_: str, at: str, **attributes: Any) -> dict[str, Any]:
    return {"id": i, "member": member, "type": type_, "at": at, "attributes": attributes}


def buy(i: str, member: str, amount: str, at: str) -> dict[str, Any]:
    return ev(i, member, "purchase", at, amount=amount, category="books", order_id=f"o-{i}")


def populate(svc: Plaudit) -> None:
    """The member to erase with every kind of data, and members around them."""
    svc.ingest_items([
        buy("c1", CAROL, "40", "2026-11-01T09:00:00+08:00"),
        buy("g1", GONE, "300", "2026-11-02T10:00:00+08:00"),
        buy("a1", ALICE, "80", "2026-11-02T11:00:00+08:00"),
        buy("b1", BOB, "20", "2026-11-02T12:00:00+08:00"),
        ev("g2", GONE, "identity_verified", "2026-11-03T10:00:00+08:00", method="phone"),
        ev("g3", GONE, "referral", "2026-11-04T10:00:00+08:00", referred=CAROL),
        ev("a2", ALICE, "referral", "2026-11-05T10:00:00+08:00", referred=GONE),
        ev("g4", GONE, "refund", "2026-11-06T10:00:00+08:00", amount="10", order_id="o-g1"),
        ev("g5", GONE, "plaudit.spend", "2026-11-07T10:00:00+08:00", points=5),
    ])
    svc.record_consent(GONE, "city-rentals", True)
    svc.join_leaderboard(GONE, "good-spend-monthly")
    svc.join_leaderboard(ALICE, "good-spend-monthly")
    svc.choose_pseudonym(GONE, 12)
    svc.record_friend(GONE, BOB, True)
    svc.record_friend(BOB, GONE, True)
    svc.record_friend(ALICE, GONE, True)
    svc.redeem(GONE, "coffee", "k-1")
    svc.access.issue_member_token(GONE, 600, issued_by="console", consents=True, actor="test")
    svc.check_perk("city-rentals", GONE, "deposit_free_rental")  # logged for the member
    opened, _ = svc.disputes.open(GONE, "g2", "not-mine", actor="test")
    svc.disputes.reject(opened.id, f"we checked: {GONE} verified by phone", actor="test")
    svc.clock.now += 1_000_000  # type: ignore[attr-defined]  # a command a second later
    svc.export_member(GONE, actor="k-ops")             # audited, as the rest of these
    svc.opt_out(GONE, actor="k-ops")
    svc.opt_in(GONE, actor="k-ops")


MEMBER_ACTIONS = ["token.issue", "dispute.open", "dispute.reject", "member.export",
                  "member.opt_out", "member.opt_in"]
"""What populate() records in the audit log about the member."""


def audit_of_member(svc: Plaudit) -> list[tuple[str, str]]:
    """(action, member reference) of every entry that names a member."""
    rows = svc.audit_page(500).entries[::-1]
    return [(e.action, e.subject if e.subject.startswith("member:") else e.detail["member"])
            for e in rows if e.subject.startswith("member:") or "member" in e.detail]


def test_an_erased_member_leaves_no_row_mentioning_them(service: Plaudit) -> None:
    svc = service
    populate(svc)
    with svc.store.read() as tx:
        no = tx.member_no(GONE)
    assert no is not None
    before = every_row(svc.store.engine)
    assert leaks(before, GONE, no), "the scan must see the member before the erasure"
    audited = audit_of_member(svc)
    assert [a for a, _ in audited] == MEMBER_ACTIONS
    assert len({ref for _, ref in audited}) == 1     # one reference stands for the member
    alice_before = svc.member_state(ALICE, NOW, history=False)
    assert alice_before.points.balance > 0

    done = svc.erase_member(GONE, actor="test")

    after = every_row(svc.store.engine)
    assert leaks(after, GONE, no) == []
    # the audit log keeps every entry, the erasure's too, and none can lead to the member
    assert [a for a, _ in audit_of_member(svc)] == [*MEMBER_ACTIONS, "member.erase"]
    ref = audited[0][1].removeprefix("member:")
    assert len(after["audit_log"]) == len(before["audit_log"]) + 1
    assert not [r for r in after["members"] if ref in str(r.values())]
    assert done.tombstone == f"erased-{ref}"
    assert svc.verify_audit().ok
    assert [(t["tombstone_id"], t["events"]) for t in after["tombstones"]] == [
        (done.tombstone, done.events)]
    assert done.tombstone.startswith("erased-") and done.events == 12
    assert (done.rewritten, done.refolded) == (3, 2)   # alice's referral and friend; bob's
    assert after["reward_stock"] == before["reward_stock"]  # an aggregate: stays
    with pytest.raises(NotFound):
        svc.member_state(GONE, NOW)


def test_the_others_keep_their_state_and_a_replay_agrees(service: Plaudit) -> None:
    svc = service
    populate(svc)
    alice = svc.member_state(ALICE, NOW, history=False)
    carol = svc.member_state(CAROL, NOW, history=False)
    done = svc.erase_member(GONE, actor="test")

    alice_after = svc.member_state(ALICE, NOW, history=False)
    assert alice_after.points == alice.points          # the referral points stay
    assert alice_after.score == alice.score
    assert svc.member_state(CAROL, NOW, history=False) == carol  # referred by GONE: unchanged
    rb = svc.rulebook()
    with svc.store.read() as tx:
        no = tx.member_no(ALICE)
        assert no is not None
        stored = tx.member_events(no)
        assert tx.friends_of(no) == (done.tombstone,)
    referral = next(e for e in stored if e.event_id == "a2")
    assert referral.attributes == f'{{"referred":"{done.tombstone}"}}'
    replay = fold_events(rb, ALICE, [to_event(rb, s) for s in stored], NOW)
    assert to_dict(replay.view(NOW)) == to_dict(alice_after)
    # another process (a fresh service, empty cache) folds the same from the database
    fresh = Plaudit(svc.store, svc.clock)
    assert to_dict(fresh.member_state(ALICE, NOW, history=False)) == to_dict(alice_after)
    # the leaderboard lists alice alone now
    page = svc.leaderboard("good-spend-monthly", "2026-11")
    assert [s.value for s in page.standings] == [alice_after.leaderboards[0].value]


def test_after_an_erasure_nothing_can_name_the_member_or_the_tombstone(
        service: Plaudit) -> None:
    svc = service
    populate(svc)
    done = svc.erase_member(GONE, actor="test")
    for referred in (GONE, done.tombstone):
        with pytest.raises(EventRejected) as refused:
            svc.ingest_items([ev(f"x-{referred}", ALICE, "referral",
                                 "2026-11-20T10:00:00+08:00", referred=referred)])
        assert refused.value.problems[0].field == "attributes.referred"
    with pytest.raises(NotFound):
        svc.erase_member(GONE, actor="test")           # no second erasure, no new tombstone
    # the same id sent again is a new member, with nothing of the old one
    svc.ingest_items([buy("n1", GONE, "10", "2026-11-21T10:00:00+08:00")])
    again = svc.member_state(GONE, NOW, history=False)
    assert again.events == 1 and again.points.balance == 20
    assert again.consents == () and not any(b.joined for b in again.leaderboards)


def test_erasing_a_member_with_only_their_own_events(service: Plaudit) -> None:
    svc = service
    svc.ingest_items([buy("z1", "zed", "10", "2026-11-02T10:00:00+08:00"),
                      buy("y1", ALICE, "10", "2026-11-02T10:00:00+08:00")])
    alice = svc.member_state(ALICE, NOW, history=False)
    done = svc.erase_member("zed", actor="test")
    assert (done.events, done.rewritten, done.refolded) == (1, 0, 0)
    assert svc.member_state(ALICE, NOW, history=False) == alice
    assert svc.summary()["members"] == 1


def test_the_export_holds_everything_stored_about_the_member(service: Plaudit) -> None:
    import orjson

    from plaudit.application.export import export_member

    populate(service)
    doc = export_member(service, GONE)
    assert doc["format"].startswith("plaudit-export/") and doc["member"] == GONE
    assert orjson.loads(orjson.dumps(doc)) == doc  # plain JSON
    assert {e["id"] for e in doc["events"]} >= {"g1", "g2", "g3", "g4", "g5"}
    assert doc["state"]["points"]["balance"] == service.member_state(GONE).points.balance
    assert any(e["kind"] == "earned" and e["event"] == "g1" for e in doc["ledger"])
    assert [d["status"] for d in doc["disputes"]] == ["rejected"]
    assert [c["partner"] for c in doc["partner_checks"]] == ["city-rentals"]
    assert doc["tokens"] and all("hash" not in str(t) for t in doc["tokens"])
    assert [b["id"] for b in doc["leaderboards"]["boards"]] == ["good-spend-monthly"]
