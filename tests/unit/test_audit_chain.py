"""The audit chain's arithmetic: the documented hash, and `walk` naming the first bad entry.

These run on rows in memory; tests/integration/test_audit.py tampers with real databases.
"""

from __future__ import annotations

import hashlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from plaudit.application.audit import GENESIS, canonical, entry_hash, rehash, walk
from plaudit.application.ports import AuditRow

ACTIONS = ["key.create", "token.issue", "rulebook.publish", "member.erase"]


def chain(n: int) -> list[AuditRow]:
    rows: list[AuditRow] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        row = AuditRow(seq, 1_800_000_000_000_000 + seq, f"key-{seq % 3}",
                       ACTIONS[seq % len(ACTIONS)], f"member:{seq:016x}",
                       canonical({"n": seq, "tokens": ["a", "b"]}), prev, "")
        row = row._replace(hash=rehash(row))
        rows.append(row)
        prev = row.hash
    return rows


def head(rows: list[AuditRow]) -> tuple[int, str]:
    return (rows[-1].seq, rows[-1].hash) if rows else (0, GENESIS)


def test_the_hash_is_the_documented_formula() -> None:
    """Anyone can check an export of the log without plaudit: sha256 of the previous hash,
    a newline and the compact JSON array of the entry's fields."""
    detail = canonical({"scopes": ["read"], "name": "pos", "kind": "operator"})
    assert detail == '{"kind":"operator","name":"pos","scopes":["read"]}'  # sorted, compact
    body = json.dumps([7, 1_800_000_000_000_000, "cli:ops", "key.create", "key:ab12", detail],
                      separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(("1f" * 32 + "\n" + body).encode()).hexdigest()
    assert entry_hash("1f" * 32, 7, 1_800_000_000_000_000, "cli:ops", "key.create",
                      "key:ab12", detail) == expected


def test_an_intact_chain_verifies_and_an_empty_one_too() -> None:
    rows = chain(5)
    verdict = walk(rows, head(rows))
    assert (verdict.ok, verdict.entries, verdict.first_bad) == (True, 5, None)
    assert walk([], (0, GENESIS)).ok


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 12), data=st.data())
def test_any_single_change_is_found_at_exactly_that_entry(n: int, data: st.DataObject) -> None:
    rows = chain(n)
    k = data.draw(st.integers(1, n), label="entry")
    field = data.draw(st.sampled_from(["at_us", "actor", "action", "subject", "detail",
                                       "prev_hash", "hash"]), label="field")
    old = getattr(rows[k - 1], field)
    if isinstance(old, int):
        new: object = data.draw(st.integers(0, 2**62).filter(lambda v: v != old))
    elif field in ("prev_hash", "hash"):
        new = data.draw(st.text("0123456789abcdef", min_size=64, max_size=64)
                        .filter(lambda v: v != old))
    else:
        new = data.draw(st.text(min_size=1, max_size=20).filter(lambda v: v != old))
    rows[k - 1] = rows[k - 1]._replace(**{field: new})
    verdict = walk(rows, head(chain(n)))  # the head as it was recorded
    assert not verdict.ok
    assert verdict.first_bad is not None and verdict.first_bad.seq == k, verdict


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 12), data=st.data())
def test_any_single_deletion_is_found_at_exactly_that_entry(n: int,
                                                            data: st.DataObject) -> None:
    rows = chain(n)
    recorded = head(rows)
    k = data.draw(st.integers(1, n), label="deleted")
    del rows[k - 1]
    verdict = walk(rows, recorded)
    assert verdict.first_bad is not None and verdict.first_bad.seq == k, verdict
    assert "missing" in verdict.first_bad.problem


def test_the_problems_say_what_is_wrong() -> None:
    rows = chain(6)
    recorded = head(rows)

    def problem(mutated: list[AuditRow], recorded: tuple[int, str] | None = recorded
                ) -> tuple[int, str]:
        bad = walk(mutated, recorded).first_bad
        assert bad is not None
        return bad.seq, bad.problem.split(":")[0]

    assert problem([*rows[:3], rows[3]._replace(actor="someone else"), *rows[4:]]) == \
        (4, "hash mismatch")
    relinked = rows[2]._replace(prev_hash="ab" * 32)
    assert problem([*rows[:2], relinked._replace(hash=rehash(relinked)), *rows[3:]]) == \
        (3, "broken link")
    assert problem(rows[:2] + rows[4:]) == (3, "missing")            # 3 and 4 gone
    assert problem([*rows[:2], *rows[3:], rows[2]._replace(seq=99)]) == (3, "missing")
    assert problem(rows[:5]) == (6, "missing")                       # the newest, by the head
    assert problem(rows, (5, rows[4].hash)) == (6, "not in the head")
    # the newest entry rewritten with a consistent hash: only the head tells
    forged = rows[5]._replace(actor="forger")
    assert problem([*rows[:5], forged._replace(hash=rehash(forged))]) == (6, "hash mismatch")
    assert problem(rows, None) == (7, "the head row is missing")
