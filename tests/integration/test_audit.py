"""The audit log on SQLite and PostgreSQL: every operator action recorded in its own
transaction, triggers that refuse edits, tampering found at the entry, one chain under
concurrent writers; and published rulebooks that cannot be changed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application import audit
from plaudit.application.ports import AuditRow
from plaudit.application.service import Plaudit
from plaudit.domain.errors import Conflict, NotFound, RulebookError, StoreError

from .test_concurrency import run_together
from .test_store_contract import purchase

MEMBER = "m-audited-5c1e"
"""A member id no other value of these tests contains."""


def entries(svc: Plaudit) -> list[audit.AuditEntry]:
    """Every entry, oldest first."""
    found: list[audit.AuditEntry] = []
    before = None
    while True:
        page = svc.audit_page(500, before)
        found.extend(page.entries)
        if page.next is None:
            return found[::-1]
        before = page.next


def raw_rows(store: SqlStore) -> list[AuditRow]:
    with store.engine.connect() as conn:
        return [AuditRow(*r) for r in conn.exec_driver_sql(
            "SELECT seq, at_us, actor, action, subject, detail, prev_hash, hash "
            "FROM audit_log ORDER BY seq")]


@contextmanager
def triggers_off(store: SqlStore, *tables: str) -> Iterator[Connection]:
    """A connection on which the tables' triggers do not fire, as an attacker with the
    database's own rights could arrange (PostgreSQL: DISABLE TRIGGER; SQLite: drop them,
    and put them back after)."""
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            for table in tables:
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            yield conn
            for table in tables:
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            return
        marks = ", ".join("?" * len(tables))
        saved = conn.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
            f"({marks})", tables).fetchall()
        for name, _ in saved:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        yield conn
        for _, sql in saved:
            conn.exec_driver_sql(sql)


def refused(store: SqlStore, sql: str) -> str:
    """Run ``sql`` as anyone with a connection would; the database's refusal message."""
    with pytest.raises(DBAPIError) as caught, store.engine.begin() as conn:
        conn.exec_driver_sql(sql)
    return str(caught.value.orig)


def busy(svc: Plaudit) -> dict[str, str]:
    """One of every recorded action, by different actors; the ids they made."""
    svc.ingest_items([purchase("e1", MEMBER, "2026-11-01T10:00:00+08:00", "100"),
                      purchase("e2", MEMBER, "2026-11-02T10:00:00+08:00", "50")])
    ops = svc.access.create_key("ops", ["admin"], actor="cli:alice").row.key_id
    partner = svc.access.create_partner_key("rentals", "city-rentals", actor=ops).row.key_id
    token = svc.access.issue_member_token(MEMBER, 600, issued_by=ops, actor=ops,
                                          consents=True).row.key_id
    draft = svc.upload_draft(svc.rulebook_versions()[0].source + "\n# v2\n",
                             actor=ops).draft_id
    svc.publish_draft(draft, actor=ops)
    first, _ = svc.disputes.open(MEMBER, "e1", "not-mine", actor=token)
    second, _ = svc.disputes.open(MEMBER, "e2", "duplicate", actor=token)
    svc.disputes.accept(first.id, actor=ops)
    svc.disputes.reject(second.id, f"{MEMBER} bought it twice", actor=ops)
    svc.export_member(MEMBER, actor=ops)
    svc.opt_out(MEMBER, actor=token)
    svc.opt_in(MEMBER, actor=token)
    svc.access.revoke(partner, actor=ops)
    tombstone = svc.erase_member(MEMBER, actor=ops).tombstone
    return {"ops": ops, "partner": partner, "token": token, "draft": str(draft),
            "first": first.id, "second": second.id, "tombstone": tombstone}


def test_every_operator_action_is_recorded_naming_no_member(service: Plaudit) -> None:
    ids = busy(service)
    ops, token = ids["ops"], ids["token"]
    found = [(e.actor, e.action, e.subject) for e in entries(service)]
    member = next(s for _, a, s in found if a == "token.issue")
    assert member.startswith("member:") and len(member) == len("member:") + 16
    assert found == [
        ("test", "rulebook.publish", "rulebook:1"),          # the fixture's
        ("cli:alice", "key.create", f"key:{ops}"),
        (ops, "key.create", f"key:{ids['partner']}"),
        (ops, "token.issue", member),
        (ops, "draft.upload", f"draft:{ids['draft']}"),
        (ops, "rulebook.publish", "rulebook:2"),
        (token, "dispute.open", f"dispute:{ids['first']}"),
        (token, "dispute.open", f"dispute:{ids['second']}"),
        (ops, "dispute.accept", f"dispute:{ids['first']}"),
        (ops, "dispute.reject", f"dispute:{ids['second']}"),
        (ops, "member.export", member),
        (token, "member.opt_out", member),
        (token, "member.opt_in", member),
        (ops, "key.revoke", f"key:{ids['partner']}"),
        (ops, "member.erase", member),
    ]
    details = {e.action: e.detail for e in entries(service)}
    assert details["key.create"] == {"kind": "partner", "name": "rentals",
                                     "partner": "city-rentals"}
    assert details["token.issue"] == {"token": token, "scopes": ["consents", "read"],
                                      "seconds": 600}
    assert details["rulebook.publish"]["draft"] == int(ids["draft"])
    assert details["dispute.reject"] == {"member": member, "excluded": False}
    # the erasure and the member's earlier entries name one random reference
    assert ids["tombstone"] == "erased-" + member.removeprefix("member:")
    assert details["member.erase"] == {"tombstone": ids["tombstone"], "events": 4,
                                       "rewritten": 0}
    # nothing of the member, not even the operator's explanation naming them
    assert not [r for r in raw_rows(service.store) if MEMBER in "".join(map(str, r))]
    versions = service.rulebook_versions()
    assert [v.published_by for v in versions] == ["test", ops]
    verdict = service.verify_audit()
    assert (verdict.ok, verdict.entries, verdict.first_bad) == (True, 15, None)
    assert verdict.head == audit.Head(15, entries(service)[-1].hash)


def test_the_audit_reference_is_per_member_and_stays(service: Plaudit) -> None:
    service.ingest_items([purchase("a1", "m-a", "2026-11-01T10:00:00+08:00", "10"),
                          purchase("b1", "m-b", "2026-11-01T10:00:00+08:00", "10")])
    for member in ("m-a", "m-b", "m-a"):
        service.export_member(member, actor="ops")
    subjects = [e.subject for e in entries(service)[1:]]
    assert subjects[0] == subjects[2] != subjects[1]


def test_refused_actions_leave_no_entry(service: Plaudit, sesame_text: str) -> None:
    svc = service
    svc.ingest_items([purchase("e1", MEMBER, "2026-11-01T10:00:00+08:00", "100")])
    opened, _ = svc.disputes.open(MEMBER, "e1", "not-mine", actor="k")
    svc.disputes.accept(opened.id, actor="k")
    before = len(entries(svc))
    with pytest.raises(ValueError):
        svc.access.create_key("bad", ["root"], actor="k")
    with pytest.raises(NotFound):
        svc.access.issue_member_token("m-nobody", actor="k", issued_by="k")
    with pytest.raises(NotFound):
        svc.access.revoke("0123456789abcdef", actor="k")
    with pytest.raises(RulebookError):
        svc.publish_rulebook("program: {id: x}\n", actor="k")
    with pytest.raises(RulebookError):
        svc.upload_draft("program: {id: x}\n", actor="k")
    with pytest.raises(Conflict):
        svc.disputes.reject(opened.id, "no", actor="k")
    with pytest.raises(NotFound):
        svc.export_member("m-nobody", actor="k")
    with pytest.raises(NotFound):
        svc.erase_member("m-nobody", actor="k")
    assert svc.publish_rulebook(sesame_text, actor="k").created is False  # same text
    assert len(entries(svc)) == before
    assert len(svc.rulebook_versions()) == 1


def test_an_action_whose_entry_cannot_be_written_does_not_happen(service: Plaudit,
                                                                  sesame_text: str) -> None:
    """The entry is in the action's own transaction: with the head row gone (the log was
    tampered with), appending fails, and the key, the version, the erasure are undone."""
    svc = service
    svc.ingest_items([purchase("e1", MEMBER, "2026-11-01T10:00:00+08:00", "100")])
    with triggers_off(svc.store, "audit_head") as conn:
        conn.exec_driver_sql("DELETE FROM audit_head")
    with pytest.raises(StoreError, match="head row is missing"):
        svc.access.create_key("ops", ["read"], actor="k")
    with pytest.raises(StoreError):
        svc.publish_rulebook(sesame_text + "\n# v2\n", actor="k")
    with pytest.raises(StoreError):
        svc.erase_member(MEMBER, actor="k")
    with pytest.raises(StoreError):
        svc.opt_out(MEMBER, actor="k")
    assert [k.name for k in svc.access.list_keys()] == []
    assert len(svc.rulebook_versions()) == 1
    state = svc.member_state(MEMBER)
    assert state.events == 1 and state.status == "active"
    verdict = svc.verify_audit()
    assert verdict.first_bad == audit.BadEntry(2, "the head row is missing: cannot tell "
                                               "whether entries were removed from the end")


def test_the_database_refuses_to_change_or_delete_entries(service: Plaudit) -> None:
    svc = service
    svc.access.create_key("ops", ["read"], actor="k")
    store = svc.store
    assert "audit_log is append-only: an entry cannot be changed" in refused(
        store, "UPDATE audit_log SET actor = 'someone' WHERE seq = 1")
    assert "audit_log is append-only: an entry cannot be deleted" in refused(
        store, "DELETE FROM audit_log WHERE seq = 2")
    if store.dialect == "postgresql":
        assert "cannot be deleted" in refused(store, "TRUNCATE audit_log")
        assert "cannot be deleted" in refused(store, "TRUNCATE audit_head")
    head = "'" + raw_rows(store)[-1].hash + "'"
    assert "appended after the head only" in refused(   # a gap
        store, "INSERT INTO audit_log VALUES (9, 0, 'x', 'key.create', 's', '{}', "
               f"{head}, 'h')")
    assert "appended after the head only" in refused(   # a fork off entry 1
        store, "INSERT INTO audit_log VALUES (3, 0, 'x', 'key.create', 's', '{}', "
               f"'{raw_rows(store)[0].hash}', 'h')")
    assert "only moves forward by one" in refused(store, "UPDATE audit_head SET seq = 1")
    assert "audit_head cannot be deleted" in refused(store, "DELETE FROM audit_head")
    assert svc.verify_audit().ok and len(raw_rows(store)) == 2


def test_a_published_rulebook_cannot_be_changed_or_deleted(service: Plaudit,
                                                           sesame_text: str) -> None:
    store = service.store
    message = "a published rulebook version cannot be changed"
    assert message in refused(store, "UPDATE rulebooks SET source = 'program: {}'")
    assert message in refused(store, "UPDATE rulebooks SET digest = 'x' WHERE version = 1")
    assert message in refused(store, "UPDATE rulebooks SET published_by = 'someone else'")
    assert message in refused(store, "UPDATE rulebooks SET version = 7")
    assert "cannot be deleted" in refused(store, "DELETE FROM rulebooks")
    if store.dialect == "postgresql":
        assert "cannot be deleted" in refused(store, "TRUNCATE rulebooks CASCADE")
    # publishing, which only ever adds a row, goes on; who published it is kept
    result = service.publish_rulebook(sesame_text + "\n# v2\n", actor="cli:bob")
    assert result.version == 2
    assert [(v.version, v.published_by) for v in service.rulebook_versions()] == [
        (1, "test"), (2, "cli:bob")]
    assert service.rulebook_versions()[0].source == sesame_text


@pytest.mark.parametrize("tamper", ["edit", "relink", "delete", "delete-last", "forge-last",
                                    "renumber"])
def test_tampering_is_found_at_exactly_that_entry(service: Plaudit, tamper: str) -> None:
    svc = service
    for i in range(5):
        svc.access.create_key(f"k{i}", ["read"], actor="ops")
    rows = raw_rows(svc.store)
    assert len(rows) == 6 and svc.verify_audit().ok
    last = rows[-1]
    with triggers_off(svc.store, "audit_log") as conn:
        run = conn.exec_driver_sql
        if tamper == "edit":                           # who did it, rewritten
            run("UPDATE audit_log SET actor = 'nobody' WHERE seq = 3")
            expected = (3, "hash mismatch")
        elif tamper == "relink":                      # entry 4 made to follow entry 2
            run(f"UPDATE audit_log SET prev_hash = '{rows[1].hash}' WHERE seq = 4")
            expected = (4, "broken link")
        elif tamper == "delete":
            run("DELETE FROM audit_log WHERE seq = 4")
            expected = (4, "missing")
        elif tamper == "delete-last":
            run("DELETE FROM audit_log WHERE seq = 6")
            expected = (6, "missing")
        elif tamper == "forge-last":                  # edited, its hash recomputed
            forged = last._replace(actor="forger")
            run(f"UPDATE audit_log SET actor = 'forger', hash = '{audit.rehash(forged)}' "
                "WHERE seq = 6")
            expected = (6, "hash mismatch")
        else:                                         # entry 2 moved to the end
            run("UPDATE audit_log SET seq = 7 WHERE seq = 2")
            expected = (2, "missing")
    verdict = svc.verify_audit()
    assert not verdict.ok and verdict.first_bad is not None
    assert (verdict.first_bad.seq, verdict.first_bad.problem.split(":")[0]) == expected


def test_an_anchor_noted_elsewhere_catches_a_rewritten_chain(service: Plaudit) -> None:
    """Whoever can write the database can rewrite every entry and the head with fresh
    hashes: the chain alone cannot tell. A head noted earlier outside the database can."""
    svc = service
    for i in range(3):
        svc.access.create_key(f"k{i}", ["read"], actor="ops")
    anchor = svc.verify_audit().head
    assert anchor is not None and svc.verify_audit(anchor).ok
    rows = raw_rows(svc.store)
    prev, rewritten = audit.GENESIS, []
    for row in rows:
        row = row._replace(actor="forger", prev_hash=prev)
        row = row._replace(hash=audit.rehash(row))
        rewritten.append(row)
        prev = row.hash
    with triggers_off(svc.store, "audit_log", "audit_head") as conn:
        for row in rewritten:
            conn.execute(text("UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h "
                              "WHERE seq = :s"),
                         {"a": row.actor, "p": row.prev_hash, "h": row.hash, "s": row.seq})
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    assert svc.verify_audit().ok                      # a consistent forgery
    caught = svc.verify_audit(anchor)
    assert caught.first_bad is not None and caught.first_bad.seq == anchor.seq
    assert caught.first_bad.problem.startswith("anchor mismatch")


def test_concurrent_actions_append_to_one_chain(service: Plaudit, store_url: str,
                                                clock: FixedClock) -> None:
    """Eight writers (own engines, as processes would have) creating keys, issuing tokens
    and opting members out at once: every entry lands, numbered without gaps, one chain."""
    members = [f"m-{i}" for i in range(8)]
    service.ingest_items([purchase(f"e{i}", m, "2026-11-01T10:00:00+08:00", "10")
                          for i, m in enumerate(members)])

    def work(i: int) -> Any:
        store = SqlStore(store_url, migrate=False)
        try:
            svc = Plaudit(store, clock)
            made = []
            for j in range(3):
                made.append(svc.access.create_key(f"w{i}-{j}", ["read"], actor=f"w{i}")
                            .row.key_id)
                svc.access.issue_member_token(members[(i + j) % 8], actor=f"w{i}",
                                              issued_by="console")
            svc.opt_out(members[i], actor=f"w{i}")
            return made
        finally:
            store.close()

    results = run_together(8, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    rows = raw_rows(service.store)
    assert [r.seq for r in rows] == list(range(1, 1 + 1 + 8 * 7))
    created = {r.subject for r in rows if r.action == "key.create"}
    assert created == {f"key:{k}" for made in results for k in made}
    verdict = service.verify_audit()
    assert verdict.ok and verdict.entries == 57
