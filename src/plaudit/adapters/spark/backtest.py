"""A backtest folded by Spark: the same report as :func:`plaudit.application.backtest.backtest`.

The program is exported (:mod:`~plaudit.adapters.spark.export`), Spark folds every member
fresh under both rulebooks at the as-of time and keeps only their standings (score, band,
tier, perks held: :func:`plaudit.adapters.spark.job.standings_program`), and this process
feeds them, in member order, to the same :class:`~plaudit.domain.backtest.Comparison` a
local backtest fills. Nothing is written to the store. Members with no event at or before
the as-of time are skipped, as locally; the report is equal to the local one
(tests/integration/test_spark_replay.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plaudit.adapters.spark.errors import ExportError
from plaudit.application.backtest import DEFAULT_MIN_GROUP, DEFAULT_TOP, MAX_TOP
from plaudit.application.cohorts import FAIRNESS_CAVEAT, Cohorts
from plaudit.application.ports import Store
from plaudit.application.workers import RulebookText
from plaudit.domain.backtest import Comparison, Side

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def run_spark_backtest(store: Store, published: RulebookText, candidate: RulebookText,
                       as_of_us: int, *, before_label: str, after_label: str,
                       cohorts: Cohorts | None = None, min_group: int = DEFAULT_MIN_GROUP,
                       top: int = DEFAULT_TOP, master: str = "local[2]",
                       workdir: Path | None = None, partitions: int | None = None,
                       spark: SparkSession | None = None,
                       progress: Callable[[str, int, int], Any] | None = None
                       ) -> dict[str, Any]:
    """The backtest report of ``candidate`` against ``published`` at ``as_of_us``, folded
    by Spark at ``master`` (``workdir``, ``spark`` as in
    :func:`plaudit.adapters.spark.run_spark_replay`; the work directory is cleared after)."""
    from plaudit.adapters.spark import export, job
    from plaudit.adapters.spark.fold import STANDING_COLUMNS, row_standings
    from plaudit.adapters.spark.writeback import read_parts

    if not 1 <= top <= MAX_TOP:
        raise ValueError(f"top must be 1 to {MAX_TOP}")
    if min_group < 1:
        raise ValueError("min_group must be at least 1")
    job.require_pyspark()
    before_rb, after_rb = published.compile(), candidate.compile()  # refused here if bad
    comparison = Comparison(Side.of(before_rb, before_label), Side.of(after_rb, after_label),
                            top=top, groups=cohorts.groups if cohorts else None,
                            min_group=min_group)
    step = progress or (lambda *_: None)
    temporary = workdir is None
    work = Path(tempfile.mkdtemp(prefix="plaudit-spark-")) if workdir is None else workdir
    session, ours = None, False
    try:
        manifest = export.export(store, published, work, now_us=as_of_us,
                                 progress=lambda d, t: step("export", d, t))
        step("fold", 0, 1)
        session, ours = job.started(master, spark)
        job.standings_program(session, work / "events", published, candidate, as_of_us,
                              work / "results", partitions)
        step("fold", 1, 1)
        last = 0
        for row in read_parts(work / "results", STANDING_COLUMNS):
            if row[0] <= last:
                raise ExportError(f"{work / 'results'}: member {row[0]} out of member order")
            last = row[0]
            before, after = row_standings(row)
            comparison.add(row[1], before, after)
    finally:
        if ours and session is not None:
            session.stop()
        export.clear(work, remove=temporary)
    report = comparison.report()
    if report["fairness"] is not None and cohorts is not None:
        report["fairness"]["cohorts"] = cohorts.describe()
        report["fairness"]["caveat"] = FAIRNESS_CAVEAT
    return {"schema": report["schema"], "as_of": before_rb.calendar.iso(as_of_us),
            "top": top, "skipped": manifest.members - comparison.members} | report


__all__ = ["run_spark_backtest"]
