"""The Spark engine of a replay: the same per-member fold, run by PySpark.

``plaudit replay --engine spark`` does three steps, each its own module, which can also run
apart (a cluster: export here, ``spark-submit`` there, write back here; docs/spark.md):

1. :mod:`~plaudit.adapters.spark.export`: events and the state rows they were read with,
   streamed page by page to Parquet in a work directory;
2. :mod:`~plaudit.adapters.spark.job`: Spark folds each member's events with the very
   functions a local replay uses (:mod:`~plaudit.adapters.spark.fold`) and writes one
   result row per member (state row and leaderboard rows);
3. :mod:`~plaudit.adapters.spark.writeback`: the one writer writes the results page by
   page through :func:`~plaudit.application.replay.write_page`, folding again (locally)
   any member written since the export.

So the states it writes are those a local replay writes, byte for byte
(tests/integration/test_spark_replay.py). PySpark and PyArrow are the optional extra
``plaudit[spark]``: nothing here imports them until a step runs.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plaudit.adapters.spark.errors import ExportError, SparkError
from plaudit.application.ports import Store
from plaudit.application.replay import ReplayReport
from plaudit.application.workers import RulebookText
from plaudit.domain.rulebook import Rulebook

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ENGINES = ("local", "spark")
"""``plaudit replay --engine``: fold worker processes of this machine, or Spark."""

Progress = Callable[[str, int, int], Any]
"""(step, done, total): ``export`` and ``write`` count members; ``fold`` is 0 of 1 when the
Spark job starts, 1 of 1 when it is done."""


def run_spark_replay(store: Store, rulebook: Rulebook, source: RulebookText, *,
                     now_us: Callable[[], int], master: str = "local[2]",
                     workdir: Path | None = None, partitions: int | None = None,
                     behind_only: bool = False, keep: bool = False,
                     spark: SparkSession | None = None,
                     progress: Progress | None = None) -> ReplayReport:
    """Replay every member (``behind_only``: those at another version) under ``rulebook``
    (whose text is ``source``) with Spark at ``master``, and write the states as
    :func:`plaudit.application.replay.replay` would.

    ``workdir`` (default: a temporary directory, deleted after) must be empty or new, and
    readable by Spark's executors under the same path (local mode: any directory; a
    cluster: a shared file system). ``keep`` keeps it. ``spark``: a session to use (else
    the running one, else one started for ``master`` and stopped after).
    """
    from plaudit.adapters.spark import export, job, writeback

    job.require_pyspark()
    if source.version != rulebook.version:
        raise ValueError("source and rulebook are not the same version")
    started = time.perf_counter()
    temporary = workdir is None
    work = Path(tempfile.mkdtemp(prefix="plaudit-spark-")) if workdir is None else workdir
    step = progress or (lambda *_: None)
    session, ours = None, False
    try:
        manifest = export.export(store, source, work, now_us=now_us(),
                                 behind_only=behind_only,
                                 progress=lambda d, t: step("export", d, t))
        step("fold", 0, 1)
        session, ours = job.started(master, spark)
        parallel = partitions or 2 * session.sparkContext.defaultParallelism
        job.fold_program(session, work / "events", source, work / "results", parallel)
        step("fold", 1, 1)
        members, events, refolded = writeback.write_back(
            store, rulebook, work, now_us=now_us, progress=lambda d, t: step("write", d, t))
    finally:
        if ours and session is not None:
            session.stop()
        if temporary or not keep:
            export.clear(work, remove=temporary)
    assert members == manifest.members
    return ReplayReport(members, events, refolded, parallel, time.perf_counter() - started)


__all__ = ["ENGINES", "ExportError", "Progress", "SparkError", "run_spark_replay"]
