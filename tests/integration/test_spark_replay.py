"""The Spark engine of a replay writes exactly what the local replay writes.

Real PySpark in local mode (one JVM for the module: it takes seconds to start), real
Parquet, real SQLite and PostgreSQL. A program is built (synthetic history, leaderboard
joins, friendships, redemptions), replayed locally, its stored states spoiled, then
replayed by Spark: every member_states column but the write time, every leaderboard entry
and friendship must come back identical. A member written between the export and the
write-back is folded again by the writer; a spark-submit of the job module folds an
export as the in-process engine does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.application.workers import RulebookText
from plaudit.demo import build
from plaudit.domain.errors import InvalidRequest, RulebookError
from plaudit.synthetic import member_id
from tests.conftest import EXAMPLES

pytest.importorskip("pyspark", reason="the Spark engine needs plaudit[spark]")
pytest.importorskip("pyarrow", reason="the Spark engine needs plaudit[spark]")

from plaudit.adapters.spark import (
    ExportError,
    SparkError,
    export,
    job,
    run_spark_replay,
    writeback,
)
from plaudit.entrypoints.cli import spark as spark_cli

MEMBERS = 120
DAYS = 150
STATE_COLUMNS = ("member_no, rulebook_version, position, last_at_us, last_event_id, balance, "
                 "score, band, tier, consents, revision")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = job.session("local[2]")
    yield session
    session.stop()


def played(store: SqlStore) -> Plaudit:
    """A played program, its states replayed locally under a second rulebook version."""
    service = Plaudit(store, SystemClock())
    game = build(service, (EXAMPLES / "sesame-style.yaml").read_text(encoding="utf-8"),
                   MEMBERS, DAYS, seed=11, actor="test")
    assert game.joined and game.friends  # the board rows are exercised
    service.publish_rulebook((EXAMPLES / "sesame-style-v2.yaml").read_text(encoding="utf-8"),
                             "sesame-style-v2.yaml", actor="test")  # re-folds locally
    return service


@pytest.fixture
def program(store: SqlStore) -> Plaudit:
    """:func:`played` on SQLite and on PostgreSQL."""
    return played(store)


@pytest.fixture
def sqlite_program(tmp_path: Path) -> Iterator[Plaudit]:
    """:func:`played` on SQLite only (what does not depend on the database)."""
    store = SqlStore(f"sqlite:///{tmp_path / 'program.db'}")
    yield played(store)
    store.close()


def source_of(service: Plaudit) -> RulebookText:
    rb = service.rulebook()
    with service.store.read() as tx:
        row = tx.rulebook(rb.version)
    assert row is not None
    return RulebookText(row.source, f"rulebook v{row.version}", row.version)


def snapshot(store: SqlStore) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a replay derives, in a stable order (member_states without updated_us)."""
    queries = {
        "states": f"SELECT {STATE_COLUMNS} FROM member_states ORDER BY member_no",
        "entries": "SELECT member_no, board, period, sort_key, value, reached_at_us, "
                   "pseudonym, tag FROM leaderboard_entries ORDER BY member_no, board, period",
        "friends": "SELECT member_no, friend_id FROM friendships ORDER BY member_no, friend_id",
    }
    with store.engine.connect() as conn:
        return {k: [tuple(r) for r in conn.execute(sa.text(q))] for k, q in queries.items()}


def spoil(store: SqlStore) -> None:
    """Stored states no replay would write: every balance off by one, boards emptied."""
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE member_states SET balance = balance + 1, score = NULL"))
        conn.execute(sa.text("DELETE FROM leaderboard_entries"))
        conn.execute(sa.text("DELETE FROM friendships"))


def test_spark_replay_writes_what_the_local_replay_writes(program: Plaudit, spark: Any,
                                                          tmp_path: Path) -> None:
    store = program.store
    assert isinstance(store, SqlStore)
    local = snapshot(store)
    assert local["entries"] and local["friends"]
    spoil(store)
    assert snapshot(store) != local
    steps: list[str] = []
    report = run_spark_replay(store, program.rulebook(), source_of(program),
                              now_us=program.clock.now_us, workdir=tmp_path / "work",
                              spark=spark, progress=lambda step, d, t: steps.append(step))
    assert snapshot(store) == local
    with store.read() as tx:
        assert report.members == tx.count_members()
        assert report.events == tx.count_events()
    assert report.refolded == 0
    assert steps[0] == "export" and "fold" in steps and steps[-1] == "write"
    assert not any((tmp_path / "work").iterdir())  # the export is cleared after


def test_a_member_written_after_the_export_is_folded_again(spark: Any, tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'p.db'}")
    service = Plaudit(store, SystemClock())
    build(service, (EXAMPLES / "sesame-style.yaml").read_text(encoding="utf-8"), 40, 60,
          seed=3, actor="test")
    rb, source = service.rulebook(), source_of(service)
    service.replay(workers=1)
    spoil(store)  # before the export: the write-back has every member to fix
    work = tmp_path / "work"
    export.export(store, source, work, now_us=service.clock.now_us())
    job.fold_program(spark, work / "events", source, work / "results", 3)
    late = member_id(5)
    with store.read() as tx:
        no = tx.member_no(late)
        assert no is not None
        before = tx.states([no])[no]
    at = (datetime.now(UTC) - timedelta(days=20)).isoformat()  # not the newest: a re-fold
    service.ingest_items([{"id": "late-1", "member": late, "type": "purchase", "at": at,
                           "attributes": {"amount": "500.00", "category": "books",
                                          "order_id": "late-order-1"}}])
    members, _, refolded = writeback.write_back(store, rb, work, now_us=service.clock.now_us)
    assert refolded == 1 and members == 40
    with store.read() as tx:
        assert tx.states([no])[no].position == before.position + 1  # the late event counts
    after = snapshot(store)
    service.replay(workers=1)  # what a local replay makes of the same events
    assert snapshot(store) == after
    store.close()


def test_spark_submit_folds_an_export_like_the_engine(sqlite_program: Plaudit,
                                                      tmp_path: Path) -> None:
    """The documented recipe: export, spark-submit the job file, write back."""
    import pyspark

    program = sqlite_program
    store = program.store
    assert isinstance(store, SqlStore)
    local = snapshot(store)
    spoil(store)
    work = tmp_path / "work"
    said = spark_cli.replay(program, step="export", workdir=work)
    assert f"to {work}" in said
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    env = os.environ | {"PYSPARK_PYTHON": sys.executable,
                        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [str(submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false",
         job.__file__, "--workdir", str(work)],
        env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "folded" in done.stdout
    said = spark_cli.replay(program, step="write", workdir=work)
    assert said.startswith(f"wrote {MEMBERS} member(s)")
    assert snapshot(store) == local
    assert not (work / "events").exists()


def test_a_failing_task_names_the_python_error(spark: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    events = tmp_path / "events"
    events.mkdir()
    pq.write_table(pa.table({"event_id": ["e1"], "member_no": [1], "member_id": ["m-1"],
                             "type": ["purchase"], "at_us": [0], "at": ["1970-01-01T00:00:00Z"],
                             "attributes": ["not json"]}, schema=export.EVENTS),
                   events / "part-00000.parquet")
    source = RulebookText((EXAMPLES / "sesame-style.yaml").read_text(encoding="utf-8"),
                          "sesame-style.yaml", 1)
    with pytest.raises(SparkError, match=r"the Spark fold failed: .*JSONDecodeError"):
        job.fold_program(spark, events, source, tmp_path / "out", 1)


def test_the_job_refuses_a_bad_rulebook_before_spark_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("program: {id: x}\npoints: {rules: [{on: nothing}]}\n", encoding="utf-8")
    with pytest.raises(RulebookError):
        job.main(["--events", str(tmp_path), "--rulebook", str(bad), "--version", "1",
                  "--out", str(tmp_path / "out")])


def test_steps_refuse_what_they_cannot_use(sqlite_program: Plaudit, tmp_path: Path) -> None:
    program = sqlite_program
    with pytest.raises(InvalidRequest, match="unknown engine 'sprak'") as e:
        spark_cli.check_engine("sprak")
    assert e.value.problems[0].suggestion == "spark"
    assert spark_cli.check_engine("spark") == "spark"
    with pytest.raises(InvalidRequest, match="--step write needs the work directory"):
        spark_cli.replay(program, step="write")
    with pytest.raises(InvalidRequest, match="unknown step 'wirte'"):
        spark_cli.replay(program, step="wirte", workdir=tmp_path)
    with pytest.raises(ExportError, match="no export here"):
        spark_cli.replay(program, step="write", workdir=tmp_path)
    work = tmp_path / "work"
    spark_cli.replay(program, step="export", workdir=work)
    with pytest.raises(ExportError, match="not empty"):
        spark_cli.replay(program, step="export", workdir=work)
    with pytest.raises(ExportError, match="no complete results"):
        spark_cli.replay(program, step="write", workdir=work)
    program.publish_rulebook((EXAMPLES / "sesame-style.yaml").read_text(encoding="utf-8"),
                             "sesame-style.yaml", actor="test")  # a third version
    (work / "results").mkdir()
    (work / "results" / "_SUCCESS").touch()
    with pytest.raises(ExportError, match="exported under rulebook version 2, not 3"):
        spark_cli.replay(program, step="write", workdir=work)


def test_spark_backtest_reports_what_the_local_backtest_reports(sqlite_program: Plaudit,
                                                                spark: Any) -> None:
    from plaudit.rulebook import load_rulebook

    program = sqlite_program
    text = (EXAMPLES / "sesame-style.yaml").read_text(encoding="utf-8")  # v1 against v2
    as_of = program.clock.now_us() - 40 * 86_400_000_000
    local = program.backtest(load_rulebook(text, "candidate.yaml"), "candidate.yaml",
                             as_of_us=as_of, top=5)
    report = spark_cli.backtest(program, text, "candidate.yaml", as_of_us=as_of, top=5)
    assert report == local  # (the module's session, found running and left so)
    assert spark.sparkContext._jsc is not None
    assert local["changed"] > 0 and local["members"] > 0
