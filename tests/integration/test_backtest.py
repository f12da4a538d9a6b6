"""Backtests against a seeded program on SQLite and PostgreSQL: the numbers match direct
per-member reads, the published rulebook against itself changes nothing, and nothing is
ever written."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from plaudit.adapters.sql import tables as t
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.cohorts import parse_cohorts
from plaudit.application.ingest import to_event
from plaudit.application.service import Plaudit
from plaudit.domain.backtest import Standing, standing
from plaudit.domain.calendar import to_us
from plaudit.domain.fold import fold_events
from plaudit.rulebook import load_rulebook
from plaudit.synthetic import member_id

from ..conftest import NOW, synthetic_file

MEMBERS = 60


@pytest.fixture
def seeded(service: Plaudit, tmp_path: Path) -> Plaudit:
    path = synthetic_file(tmp_path / "events.jsonl", MEMBERS, 200, start=date(2026, 5, 1),
                          seed=5)
    assert service.ingest_file(path).ok
    return service


def database_digest(store: SqlStore) -> str:
    """Every row of every table, in a fixed order."""
    h = hashlib.sha256()
    with store.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            h.update(table.name.encode())
            rows = conn.execute(select(table)).all()
            for row in sorted(repr(tuple(r)) for r in rows):
                h.update(row.encode())
    return h.hexdigest()


def candidate(service: Plaudit, old: str, new: str) -> str:
    text = service.rulebook_versions()[-1].source
    assert old in text
    return text.replace(old, new)


def test_the_published_rulebook_against_itself_reports_zero_change(seeded: Plaudit) -> None:
    text = seeded.rulebook_versions()[-1].source
    r = seeded.backtest(load_rulebook(text), "same")
    assert r["members"] == MEMBERS and r["changed"] == 0
    assert r["score"]["before"] == r["score"]["after"]
    assert r["score"]["delta"] == {"up": 0, "down": 0, "same": MEMBERS, "mean": 0.0}
    assert r["histogram"]["before"] == r["histogram"]["after"]
    for m in (r["bands"], r["tiers"]):
        assert m["changed"] == 0 and m["rows"] == m["columns"]
        assert all(n == 0 for i, row in enumerate(m["counts"])
                   for j, n in enumerate(row) if i != j)
    assert all(p["gained"] == p["lost"] == 0 and p["holders_before"] == p["holders_after"]
               for p in r["perks"])
    assert r["movers"] == {"up": [], "down": []}


def test_a_raised_perk_threshold_loses_exactly_the_members_in_between(seeded: Plaudit
                                                                     ) -> None:
    text = candidate(seeded, "when: score >= 650", "when: score >= 700")
    r = seeded.backtest(load_rulebook(text), "stricter")
    states = [seeded.member_state(member_id(i), history=False) for i in range(1, MEMBERS + 1)]
    scores = [s.score.value for s in states if s.score is not None]
    held = sum(next(p.eligible for p in s.perks if p.id == "deposit_free_rental")
               for s in states)
    perk = next(p for p in r["perks"] if p["id"] == "deposit_free_rental")
    assert perk["holders_before"] == held == sum(s >= 650 for s in scores)
    assert perk["holders_after"] == sum(s >= 700 for s in scores)
    assert perk["lost"] == sum(650 <= s < 700 for s in scores) > 0
    assert perk["gained"] == 0
    assert r["changed"] == perk["lost"]  # nothing else moved
    assert sum(map(sum, r["bands"]["counts"])) == sum(r["histogram"]["after"]) == MEMBERS


def test_a_score_change_moves_members_and_the_report_shows_who(seeded: Plaudit) -> None:
    text = candidate(seeded, "{name: Good, from: 600}", "{name: Good, from: 640}")
    r = seeded.backtest(load_rulebook(text), "bands", top=3)
    states = [seeded.member_state(member_id(i), history=False) for i in range(1, MEMBERS + 1)]
    moved = sum(s.score is not None and 600 <= s.score.value < 640 for s in states)
    bands = r["bands"]
    good, fair = bands["rows"].index("Good"), bands["columns"].index("Fair")
    assert bands["counts"][good][fair] == bands["changed"] == moved
    assert sum(map(sum, bands["counts"])) == MEMBERS


def test_the_standing_a_backtest_keeps_is_what_a_member_read_shows(seeded: Plaudit) -> None:
    rb = seeded.rulebook()
    for i in range(1, MEMBERS + 1):
        view = seeded.member_state(member_id(i), NOW, history=False)
        with seeded.store.read() as tx:
            no = tx.member_no(member_id(i))
            assert no is not None
            events = [to_event(rb, s) for s in tx.member_events(no, until_us=NOW)]
        got = standing(fold_events(rb, member_id(i), events, NOW), NOW)
        assert got == Standing(view.score.value if view.score else None,
                               view.score.band if view.score else None,
                               view.tier.name if view.tier else None,
                               frozenset(p.id for p in view.perks if p.eligible))


def test_a_backtest_writes_nothing(seeded: Plaudit, store: SqlStore) -> None:
    before = database_digest(store)
    groups = "member_id,region\n" + "".join(
        f"{member_id(i)},{'north' if i % 2 else 'south'}\n" for i in range(1, MEMBERS + 1))
    r = seeded.backtest(load_rulebook(candidate(seeded, "from: 2000}", "from: 1500}")),
                        "cand", cohorts=parse_cohorts(groups.encode(), "c.csv"), min_group=5)
    assert r["tiers"]["changed"] > 0 and r["fairness"]["matched"] == MEMBERS
    assert database_digest(store) == before
    draft = seeded.upload_draft(candidate(seeded, "score >= 650", "score >= 600"), actor="test")
    after_upload = database_digest(store)
    seeded.backtest_draft(draft.draft_id)
    assert database_digest(store) == after_upload != before  # (the digest sees a draft)


def test_as_of_folds_only_what_had_happened_by_then(seeded: Plaudit) -> None:
    text = seeded.rulebook_versions()[-1].source
    early = to_us(__import__("datetime").datetime.fromisoformat("2026-05-03T00:00:00+08:00"))
    r = seeded.backtest(load_rulebook(text), "same", as_of_us=early)
    with seeded.store.read() as tx:
        started = sum(1 for i in range(1, MEMBERS + 1)
                      if (no := tx.member_no(member_id(i))) is not None
                      and tx.member_events(no, until_us=early))
    assert 0 < r["members"] == started < MEMBERS
    assert r["skipped"] == MEMBERS - started
    assert r["as_of"] == "2026-05-03T00:00:00+08:00"


def test_a_candidate_without_a_score_is_reported_cleanly(seeded: Plaudit) -> None:
    text = seeded.rulebook_versions()[-1].source
    events = text[text.index("events:"):text.index("points:")]
    scoreless = ("program: {id: sesame-style, name: S, timezone: Asia/Shanghai}\n" + events
                 + "points:\n  rules:\n    - {id: spend, on: purchase, award: floor(amount)}\n"
                 "tiers:\n  basis: qualifying_points\n  window: rolling 365d\n  levels:\n"
                 "    - {name: Member, from: 0}\n    - {name: Gold, from: 5000}\n"
                 "perks:\n  - {id: gold_perk, label: Gold perk, when: 'tier >= \"Gold\"'}\n")
    r = seeded.backtest(load_rulebook(scoreless), "scoreless")
    assert r["score"]["after"] is None
    assert r["score"]["unscored"] == {"before": 0, "after": MEMBERS}
    assert r["bands"]["columns"] == [None] and r["bands"]["changed"] == MEMBERS
    assert sum(r["histogram"]["after"]) == 0 and sum(r["histogram"]["before"]) == MEMBERS
    assert r["movers"] == {"up": [], "down": []}
    assert {p["id"]: (p["in_before"], p["in_after"]) for p in r["perks"]}["gold_perk"] == (
        False, True)


def test_backtests_run_one_at_a_time_whoever_asks(seeded: Plaudit) -> None:
    """The API, the console's job and the CLI share one service: two backtests asked at
    once run one after the other (each folds every member twice; side by side they only
    halve each other's speed and double the memory)."""
    import threading
    import time

    rb = seeded.rulebook()
    spans: dict[str, list[float]] = {}

    def run(name: str) -> None:
        def progress(done: int, total: int) -> None:
            if name not in spans:
                spans[name] = [time.perf_counter()]
                time.sleep(0.3)  # long enough that the other would start meanwhile
        seeded.backtest(rb, name, progress=progress)
        spans[name].append(time.perf_counter())

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    (a0, a1), (b0, b1) = spans["a"], spans["b"]
    assert a1 <= b0 or b1 <= a0, spans
