"""The Spark job: the exported events folded per member, results written as Parquet.

Runs inside ``plaudit replay --engine spark`` (a SparkSession of that process, local mode by
default) or on its own under ``spark-submit`` (see docs/spark.md)::

    spark-submit --master spark://host:7077 .../plaudit/adapters/spark/job.py \\
        --workdir /shared/replay-1

    python -m plaudit.adapters.spark.job --events DIR --rulebook FILE --version N --out DIR

Plan: read the events, ``repartitionByRange`` on ``member_no`` (each partition a
contiguous range of members), ``sortWithinPartitions(member_no, at_us, event_id)`` (so a
member's events are contiguous and in fold order), then ``mapPartitions`` over the sorted
rows (:func:`plaudit.adapters.spark.fold.fold_rows`): a task streams one member at a time,
never a member's group as one list built by Spark (``groupByKey`` would materialise it). The
results keep the partitions' range order, so the part files, in name order, list the
members in member order: the write-back streams them next to the exported members.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plaudit.adapters.spark.errors import SparkError
from plaudit.adapters.spark.fold import EVENT_COLUMNS, fold_rows, standing_rows
from plaudit.application.workers import RulebookText

if TYPE_CHECKING:
    from pyspark import Broadcast
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructField, StructType

APP_NAME = "plaudit-replay"


def _field(name: str, kind: Any, nullable: bool = False) -> StructField:
    from pyspark.sql.types import StructField

    return StructField(name, kind, nullable)


def _result_schema() -> StructType:
    from pyspark.sql.types import LongType, StringType, StructType

    f = _field
    return StructType([
        f("member_no", LongType()), f("rulebook_version", LongType()),
        f("position", LongType()), f("last_at_us", LongType()),
        f("last_event_id", StringType()), f("balance", LongType()),
        f("score", LongType(), True), f("band", StringType(), True),
        f("tier", StringType(), True), f("consents", StringType(), True),
        f("events", LongType()), f("boards", StringType(), True)])


def _standing_schema() -> StructType:
    from pyspark.sql.types import ArrayType, LongType, StringType, StructType

    fields = [_field("member_no", LongType()), _field("member_id", StringType())]
    for side in ("before", "after"):
        fields += [_field(f"{side}_score", LongType(), True),
                   _field(f"{side}_band", StringType(), True),
                   _field(f"{side}_tier", StringType(), True),
                   _field(f"{side}_perks", ArrayType(StringType(), False))]
    return StructType(fields)


def require_pyspark() -> None:
    """Fail clearly when PySpark or Java is missing, before anything is exported."""
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as e:
        raise SparkError(f"the Spark engine needs PySpark and PyArrow ({e.name} is not "
                         "installed): pip install 'plaudit[spark]'") from None
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise SparkError("the Spark engine needs Java 17 or later: install it (a JDK or "
                         "JRE) or set JAVA_HOME")


def session(master: str | None = "local[2]", conf: dict[str, str] | None = None
            ) -> SparkSession:
    """A SparkSession (the active one if any). Python workers run this interpreter in
    local mode; on a cluster they run what ``spark.pyspark.python`` names."""
    require_pyspark()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(APP_NAME)
    if master:
        builder = builder.master(master)
    local = master is None or master.startswith("local")
    settings = {"spark.ui.showConsoleProgress": "false",
                "spark.sql.execution.arrow.pyspark.enabled": "false"}
    if local:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        settings |= {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "8"}
    for key, value in (settings | (conf or {})).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as e:  # the JVM did not start (Py4J / RuntimeError)
        raise SparkError(f"Spark did not start: {e}") from e
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def started(master: str | None, spark: SparkSession | None = None) -> tuple[SparkSession, bool]:
    """``spark``, else the running session, else a new one for ``master``; and whether it
    is new (then the caller stops it: never a session someone else is using)."""
    if spark is not None:
        return spark, False
    require_pyspark()
    from pyspark.sql import SparkSession

    if (active := SparkSession.getActiveSession()) is not None:
        return active, False
    return session(master), True


def _fold_partition(source: Broadcast[RulebookText], rows: Iterable[Sequence[Any]]
                    ) -> Iterator[tuple[Any, ...]]:
    return fold_rows(source.value, rows)


def _standings_partition(sources: Broadcast[tuple[RulebookText, RulebookText]], as_of_us: int,
                         rows: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    before, after = sources.value
    return standing_rows(before, after, as_of_us, rows)


def fold_program(spark: SparkSession, events: Path | str, source: RulebookText,
                 out: Path | str, partitions: int | None = None) -> None:
    """Fold every member of the Parquet ``events`` under ``source``; write one result row
    per member (see :data:`plaudit.adapters.spark.fold.RESULT_COLUMNS`) to ``out``,
    replacing what is there. ``partitions``: default twice Spark's parallelism."""
    text = spark.sparkContext.broadcast(source)
    try:
        _run(spark, events, functools.partial(_fold_partition, text), _result_schema(), out,
             partitions)
    finally:
        text.unpersist()


def standings_program(spark: SparkSession, events: Path | str, before: RulebookText,
                      after: RulebookText, as_of_us: int, out: Path | str,
                      partitions: int | None = None) -> None:
    """A backtest's fold: every member of ``events`` with an event at or before
    ``as_of_us``, folded under both rulebooks; one row of standings each (see
    :data:`plaudit.adapters.spark.fold.STANDING_COLUMNS`) written to ``out``."""
    texts = spark.sparkContext.broadcast((before, after))
    try:
        _run(spark, events, functools.partial(_standings_partition, texts, as_of_us),
             _standing_schema(), out, partitions)
    finally:
        texts.unpersist()


def _run(spark: SparkSession, events: Path | str,
         task: Callable[[Iterable[Sequence[Any]]], Iterator[tuple[Any, ...]]],
         schema: StructType, out: Path | str, partitions: int | None) -> None:
    """``task`` over each range of members' events, sorted; its rows written to ``out``
    in member order (part files in name order)."""
    n = partitions or 2 * spark.sparkContext.defaultParallelism
    rows = (spark.read.parquet(str(events))
            .select(*EVENT_COLUMNS)
            .repartitionByRange(n, "member_no")
            .sortWithinPartitions("member_no", "at_us", "event_id"))
    folded = rows.rdd.mapPartitions(task, preservesPartitioning=True)
    try:
        spark.createDataFrame(folded, schema).write.mode("overwrite").parquet(str(out))
    except Exception as e:
        raise SparkError(f"the Spark fold failed: {_reason(e)}") from e


def _reason(e: BaseException) -> str:
    """The Python error a Spark task raised (the last ``SomeError: message`` line of the
    worker's traceback the exception carries), else the exception's first line."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    raised = [ln for ln in lines if _RAISED.match(ln)]
    return (raised[-1] if raised else lines[0] if lines else repr(e))[:500]


_RAISED = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Points|Event)"
                     r"(?:\[\w-]+\])?: ")


def main(argv: list[str] | None = None) -> int:
    """``spark-submit`` / ``python -m`` entry: fold an export's events into its results."""
    from plaudit.adapters.spark.export import Manifest

    parser = argparse.ArgumentParser(
        prog="python -m plaudit.adapters.spark.job",
        description="Fold exported plaudit events per member with Spark (see docs/spark.md).")
    parser.add_argument("--workdir", type=Path,
                        help="an export's work directory: reads events/ and rulebook.yaml, "
                             "writes results/")
    parser.add_argument("--events", help="the events' Parquet directory (instead of "
                                         "--workdir; any path Spark reads: hdfs://, s3a://)")
    parser.add_argument("--rulebook", type=Path, help="the rulebook's YAML file")
    parser.add_argument("--version", type=int, help="the rulebook's version number")
    parser.add_argument("--out", help="where to write the results' Parquet")
    parser.add_argument("--master", default=None,
                        help="Spark master (default: what spark-submit says, else local[*])")
    parser.add_argument("--partitions", type=int, default=None)
    args = parser.parse_args(argv)
    if args.workdir is not None:
        manifest = Manifest.read(args.workdir)
        source = manifest.source(args.workdir)
        events, out = str(args.workdir / "events"), str(args.workdir / "results")
    elif args.events and args.rulebook and args.version is not None and args.out:
        source = RulebookText(args.rulebook.read_text(encoding="utf-8"), str(args.rulebook),
                              args.version)
        events, out = args.events, args.out
    else:
        parser.error("give --workdir, or all of --events, --rulebook, --version and --out")
    source.compile()  # a bad rulebook fails here, not in every task
    # under spark-submit the JVM is already there with its master; on its own: local
    master = args.master or (None if "PYSPARK_GATEWAY_PORT" in os.environ else "local[*]")
    spark, ours = started(master)
    try:
        fold_program(spark, events, source, out, args.partitions)
    finally:
        if ours:
            spark.stop()
    print(f"folded {events} into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
