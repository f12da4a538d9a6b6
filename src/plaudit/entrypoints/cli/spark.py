"""``plaudit replay --engine spark``: the options and the run, for the ``replay`` command.

Kept apart from main.py: the ``replay`` command declares these options (the ``Annotated``
types below) and, for ``--engine spark``, hands them to :func:`replay`, which prints its
progress on ``console`` and returns the line to print. Nothing here imports PySpark: the
engine checks it is installed before it exports anything (``pip install 'plaudit[spark]'``).

Steps (``--step``): ``all`` (default) exports, folds in Spark and writes back in this
process; on a cluster, ``export`` writes the work directory, ``spark-submit`` runs the job
on it (docs/spark.md), and ``write`` writes its results back; ``fold`` runs the job from
here (the ``--master`` given) on an existing export. :func:`backtest` is the same for
``plaudit rulebook backtest --engine spark`` (nothing written; the work directory cleared).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from plaudit.application.backtest import DEFAULT_MIN_GROUP, DEFAULT_TOP
from plaudit.application.cohorts import Cohorts
from plaudit.application.service import Plaudit
from plaudit.application.workers import RulebookText
from plaudit.domain.errors import InvalidRequest, NotFound, Problem
from plaudit.domain.expressions import closest

ENGINES = ("local", "spark")
"""``--engine``: fold worker processes of this machine, or Spark."""
STEPS = ("all", "export", "fold", "write")

EngineOption = Annotated[str, typer.Option(
    "--engine", help="Who folds: `local` (this machine's fold worker processes) or `spark` "
                     "(PySpark over the events exported as Parquet; plaudit[spark]).")]
MasterOption = Annotated[str, typer.Option(
    "--master", help="Spark master URL (--engine spark): local[N], spark://host:7077, "
                     "yarn, k8s://...")]
WorkdirOption = Annotated[Path | None, typer.Option(
    "--workdir", file_okay=False,
    help="Work directory of the export and the results (--engine spark); on a cluster a "
         "path every executor reads. Default: a temporary directory.")]
PartitionsOption = Annotated[int | None, typer.Option(
    "--partitions", min=1, help="Spark partitions to fold in (default: twice the "
                                "master's parallelism).")]
StepOption = Annotated[str, typer.Option(
    "--step", help="--engine spark: `all`, or one step of it: `export`, `fold` (the "
                   "Spark job from here), `write` (write back a job's results).")]
KeepOption = Annotated[bool, typer.Option(
    "--keep", help="Keep the work directory's export and results after writing back.")]


def check_engine(engine: str) -> str:
    """``engine`` if it is one; otherwise refused, naming the option and the choices."""
    if engine not in ENGINES:
        raise InvalidRequest([Problem("--engine", "engine",
                                      f"unknown engine {engine!r}: choose one of "
                                      f"{', '.join(ENGINES)}", closest(engine, ENGINES))])
    return engine


def check_step(step: str, workdir: Path | None) -> None:
    if step not in STEPS:
        raise InvalidRequest([Problem("--step", "step", f"unknown step {step!r}: choose one "
                                      f"of {', '.join(STEPS)}", closest(step, STEPS))])
    if step != "all" and workdir is None:
        raise InvalidRequest([Problem("--workdir", "workdir",
                                      f"--step {step} needs the work directory the steps "
                                      "share")])


def replay(service: Plaudit, *, master: str = "local[*]", workdir: Path | None = None,
           partitions: int | None = None, step: str = "all", keep: bool = False,
           behind_only: bool = False, console: Console | None = None) -> str:
    """Run ``step`` of a Spark replay of ``service``'s program under its rulebook in force;
    the line that says what was done."""
    from plaudit.adapters.spark import export, job, run_spark_replay, writeback

    check_step(step, workdir)
    job.require_pyspark()
    rulebook = service.rulebook()
    source = _source(service, rulebook.version)
    started = time.perf_counter()
    with _Bars(console) as bars:
        if step == "all":
            report = run_spark_replay(service.store, rulebook, source,
                                      now_us=service.clock.now_us, master=master,
                                      workdir=workdir, partitions=partitions,
                                      behind_only=behind_only, keep=keep,
                                      progress=bars.update)
            return (f"replayed {report.members} member(s), {report.events} event(s) with "
                    f"Spark ({master}, {report.workers} partitions) in "
                    f"{report.seconds:.1f} s; {report.refolded} written meanwhile and "
                    "folded again")
        assert workdir is not None
        if step == "export":
            manifest = export.export(service.store, source, workdir,
                                     now_us=service.clock.now_us(), behind_only=behind_only,
                                     progress=lambda d, t: bars.update("export", d, t))
            return (f"exported {manifest.members} member(s), {manifest.events} event(s) "
                    f"under rulebook version {manifest.rulebook_version} to {workdir}; "
                    f"fold them (spark-submit .../plaudit/adapters/spark/job.py --workdir "
                    f"{workdir}, or --step fold), then --step write")
        if step == "fold":
            manifest = export.Manifest.read(workdir)
            bars.update("fold", 0, 1)
            spark, ours = job.started(master)
            try:
                job.fold_program(spark, workdir / "events", manifest.source(workdir),
                                 workdir / "results", partitions)
            finally:
                if ours:
                    spark.stop()
            bars.update("fold", 1, 1)
            return (f"folded {manifest.members} member(s) with Spark ({master}) into "
                    f"{workdir / 'results'} in {time.perf_counter() - started:.1f} s")
        members, events, refolded = writeback.write_back(
            service.store, rulebook, workdir, now_us=service.clock.now_us,
            progress=lambda d, t: bars.update("write", d, t))
        if not keep:
            export.clear(workdir)
        return (f"wrote {members} member(s) ({events} event(s)) from {workdir} in "
                f"{time.perf_counter() - started:.1f} s; {refolded} written meanwhile and "
                "folded again")


def backtest(service: Plaudit, candidate: str, label: str, *, as_of_us: int | None = None,
             cohorts: Cohorts | None = None, min_group: int = DEFAULT_MIN_GROUP,
             top: int = DEFAULT_TOP, master: str = "local[*]", workdir: Path | None = None,
             partitions: int | None = None, console: Console | None = None
             ) -> dict[str, Any]:
    """``plaudit rulebook backtest --engine spark``: the report of ``service.backtest``
    for the candidate's text, folded by Spark (see
    :mod:`plaudit.adapters.spark.backtest`)."""
    from plaudit.adapters.spark.backtest import run_spark_backtest

    published = service.rulebook()
    source = _source(service, published.version)
    with _Bars(console) as bars:
        return run_spark_backtest(
            service.store, source, RulebookText(candidate, label, 0),
            as_of_us if as_of_us is not None else service.clock.now_us(),
            before_label=f"published v{published.version}", after_label=label,
            cohorts=cohorts, min_group=min_group, top=top, master=master, workdir=workdir,
            partitions=partitions, progress=bars.update)


def _source(service: Plaudit, version: int) -> RulebookText:
    with service.store.read() as tx:
        row = tx.rulebook(version)
    if row is None:
        raise NotFound(f"no rulebook version {version}")
    return RulebookText(row.source, f"rulebook v{row.version}", row.version)


class _Bars:
    """One bar per step (export, fold, write), on ``console`` when it is a terminal."""

    LABELS: ClassVar[dict[str, str]] = {"export": "exporting members", "fold": "folding in Spark",
                                        "write": "writing states"}

    def __init__(self, console: Console | None) -> None:
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                                 transient=True,
                                 disable=console is None or not console.is_terminal)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Bars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def update(self, step: str, done: int, total: int) -> None:
        task = self.tasks.get(step)
        if task is None:
            task = self.tasks[step] = self.progress.add_task(self.LABELS[step], total=total)
        self.progress.update(task, completed=done, total=total)


__all__ = [
    "EngineOption",
    "KeepOption",
    "MasterOption",
    "PartitionsOption",
    "StepOption",
    "WorkdirOption",
    "backtest",
    "check_engine",
    "check_step",
    "replay",
]
