"""Erasure requests on SQLite and PostgreSQL: a member asks (and is opted out at once), the
operator's queue shows it until the member is erased or the request declined, and nothing
of it names the member once they are erased."""

from __future__ import annotations

import pytest

from plaudit.application.service import Plaudit
from plaudit.domain.errors import Conflict, InvalidRequest, NotFound

from ..table_scan import every_row, leaks
from .test_erasure import buy

ASKER, OTHER = "asker-5d1e", "other-9b2c"


def _two_members(svc: Plaudit) -> None:
    svc.ingest_items([buy("a1", ASKER, "120", "2026-11-02T10:00:00+08:00"),
                      buy("o1", OTHER, "80", "2026-11-02T11:00:00+08:00")])
    svc.record_consent(ASKER, "city-rentals", True)


def test_asking_opts_out_at_once_and_queues_the_request(service: Plaudit) -> None:
    _two_members(service)
    asked = service.request_erasure(ASKER, actor="plm-token")
    assert (asked.member, asked.status) == (ASKER, "pending")
    state = service.member_state(ASKER)
    assert state.status == "opted_out" and state.score is None
    assert not any(c.granted for c in state.consents)
    assert [r.member for r in service.erasure_requests()] == [ASKER]
    actions = [e.action for e in service.audit_page().entries][:2]
    assert actions == ["member.erase_request", "member.opt_out"]


def test_asking_twice_is_one_request(service: Plaudit) -> None:
    _two_members(service)
    first = service.request_erasure(ASKER, actor="t")
    again = service.request_erasure(ASKER, actor="t")
    assert again == first
    assert len(service.erasure_requests()) == 1
    requests = service.audit_page(action="member.erase_request").entries
    assert len(requests) == 1


def test_an_opted_out_member_may_ask_too(service: Plaudit) -> None:
    _two_members(service)
    service.opt_out(ASKER, actor="t")
    assert service.request_erasure(ASKER, actor="t").status == "pending"
    assert len(service.audit_page(action="member.opt_out").entries) == 1


def test_declining_says_why_and_leaves_the_queue(service: Plaudit) -> None:
    _two_members(service)
    service.request_erasure(ASKER, actor="t")
    declined = service.decline_erasure(ASKER, "an open chargeback must be kept 90 days",
                                       actor="plk-op")
    assert declined.status == "declined"
    assert declined.reason == "an open chargeback must be kept 90 days"
    assert service.erasure_request(ASKER) == declined
    assert service.erasure_requests() == []
    with pytest.raises(Conflict):
        service.decline_erasure(ASKER, "again", actor="plk-op")
    # asking again after a decline is a new, pending request
    assert service.request_erasure(ASKER, actor="t").status == "pending"
    assert [r.member for r in service.erasure_requests()] == [ASKER]


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_a_decline_needs_a_reason(service: Plaudit, reason: str) -> None:
    _two_members(service)
    service.request_erasure(ASKER, actor="t")
    with pytest.raises(InvalidRequest):
        service.decline_erasure(ASKER, reason, actor="op")
    assert service.erasure_request(ASKER).status == "pending"  # type: ignore[union-attr]


def test_erasing_ends_the_request_and_leaves_no_row_naming_the_member(
        service: Plaudit) -> None:
    _two_members(service)
    service.request_erasure(OTHER, actor="t")
    service.request_erasure(ASKER, actor="t")
    with service.store.read() as tx:
        no = tx.member_no(ASKER)
    assert no is not None
    service.erase_member(ASKER, actor="op")
    assert [r.member for r in service.erasure_requests()] == [OTHER]
    with pytest.raises(NotFound):
        service.erasure_request(ASKER)
    assert leaks(every_row(service.store.engine), ASKER, no) == []
    assert service.verify_audit().ok


def test_an_unknown_member_cannot_ask(service: Plaudit) -> None:
    with pytest.raises(NotFound):
        service.request_erasure("nobody-here", actor="t")
    assert service.erasure_requests() == []
