"""The ``plaudit`` command line. Each command is a thin wrapper over one use case.

Errors: every :class:`~plaudit.domain.errors.PlauditError` becomes a message on stderr
(one line, then the list of problems if any) and a non-zero exit code — see
:data:`EXIT_CODES`. Nothing else is caught: a bug shows its traceback.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from datetime import time as dtime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from plaudit.application import backtest as bt
from plaudit.application.access import CONSOLE
from plaudit.application.audit import ACTIONS, Head
from plaudit.application.consume import BrokerError
from plaudit.application.ingest import DEFAULT_BATCH, IngestReport
from plaudit.application.service import Plaudit
from plaudit.bootstrap import bootstrap
from plaudit.config import Settings
from plaudit.domain.calendar import in_range, to_us
from plaudit.domain.errors import (
    Conflict,
    EventRejected,
    NotFound,
    PlauditError,
    RulebookError,
    StoreError,
)
from plaudit.domain.expressions import closest
from plaudit.domain.state import to_dict
from plaudit.entrypoints.cli import render
from plaudit.entrypoints.cli import spark as spark_cli
from plaudit.entrypoints.cli.explanation import explanation

if TYPE_CHECKING:
    from plaudit.demo import PlayReport
from plaudit.rulebook import load_rulebook

EXIT_CODES: dict[type[PlauditError], int] = {
    RulebookError: 3,
    EventRejected: 4,
    NotFound: 5,
    Conflict: 6,
    StoreError: 7,
    BrokerError: 8,
}
"""Exit codes by error; any other PlauditError exits with 1, a usage error with 2."""

app = typer.Typer(help="plaudit: an open, explainable loyalty and reputation engine.",
                  no_args_is_help=True, add_completion=False)
rulebook_app = typer.Typer(help="Check, backtest and publish rulebooks.", no_args_is_help=True)
app.add_typer(rulebook_app, name="rulebook")
keys_app = typer.Typer(help="Create, list and revoke API keys and member tokens.",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")
disputes_app = typer.Typer(help="Members' disputes of their events: list, decide, open.",
                           no_args_is_help=True)
app.add_typer(disputes_app, name="disputes")
audit_app = typer.Typer(help="The audit log of operator actions: list and verify.",
                        no_args_is_help=True)
app.add_typer(audit_app, name="audit")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

AsOf = Annotated[str | None, typer.Option(
    "--as-of", help="RFC 3339 time, or a date (its end, in the program's timezone). "
                    "Default: now.")]
"""The one `--as-of` of every command that reads a member or history (see _parse_as_of)."""


def handles_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PlauditError as e:
            problems = getattr(e, "problems", None)
            if problems:
                head = str(e).splitlines()[0]
                err.print(f"[bold red]error:[/] {head}", highlight=False)
                for p in problems:
                    err.print(f"  {p}", highlight=False, markup=False)
            else:
                err.print(f"[bold red]error:[/] {e}", highlight=False)
            code = next((c for t, c in EXIT_CODES.items() if isinstance(e, t)), 1)
            raise typer.Exit(code) from None
    return wrapper  # type: ignore[return-value]


def _service() -> Plaudit:
    return bootstrap(Settings())


def starter_rulebook() -> str:
    return resources.files("plaudit").joinpath("starter.yaml").read_text(encoding="utf-8")


def example_rulebook(name: str) -> str:
    """An example rulebook: packaged in a wheel, or from the checkout's examples/."""
    packaged = resources.files("plaudit").joinpath("examples", name)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[4] / "examples" / name
    return checkout.read_text(encoding="utf-8")


@app.command()
@handles_errors
def init(rulebook: Annotated[Path | None, typer.Option(
        "--rulebook", "-r", exists=True, dir_okay=False,
        help="Rulebook to publish; a starter rulebook when omitted.")] = None) -> None:
    """Create the data directory and database, and publish a rulebook."""
    settings = Settings()
    text = rulebook.read_text(encoding="utf-8") if rulebook else starter_rulebook()
    name = str(rulebook) if rulebook else "starter.yaml"
    service = bootstrap(settings)
    result = service.publish_rulebook(text, name, actor=_actor())
    where = settings.home if settings.is_sqlite else "the database at PLAUDIT_DATABASE_URL"
    state = "published" if result.created else "already published"
    out.print(f"plaudit initialised in [bold]{where}[/]; rulebook {name} {state} as "
              f"version {result.version}.")


@rulebook_app.command("check")
@handles_errors
def rulebook_check(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
                   strict: Annotated[bool, typer.Option(
                       "--strict", help="Fail (exit 1) on warnings too.")] = False) -> None:
    """Validate, type-check and lint a rulebook without publishing it.

    Errors refuse the rulebook (exit 3). Warnings name what compiles but may mislead
    members, such as a factor that scores members without data as if they did badly."""
    rb = load_rulebook(file.read_text(encoding="utf-8"), str(file))
    for w in rb.warnings:
        out.print(f"[yellow]warning:[/] {w}", soft_wrap=True, highlight=False)
    out.print(f"[green]ok[/] {file}: program {rb.program.id}, {len(rb.events)} event types, "
              f"{len(rb.rules)} point rules, {len(rb.features)} features, "
              f"{len(rb.score.factors) if rb.score else 0} score factors, "
              f"{len(rb.tiers.levels) if rb.tiers else 0} tiers, {len(rb.perks)} perks"
              + (f", {len(rb.warnings)} warning(s)" if rb.warnings else ""))
    if strict and rb.warnings:
        raise typer.Exit(1)


Workers = Annotated[int | None, typer.Option(
    "--workers", min=1, max=64,
    help="Processes folding members [default: PLAUDIT_FOLD_WORKERS, else one per core; "
         "small programs fold in-process].")]


@rulebook_app.command("publish")
@handles_errors
def rulebook_publish(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
                     workers: Workers = None) -> None:
    """Publish a rulebook as the next version and re-fold every member under it."""
    service = _service()
    if workers is not None:
        service.fold_workers = workers
    with _progress("re-folding members", count=True) as (progress, task):
        result = service.publish_rulebook(
            file.read_text(encoding="utf-8"), str(file), actor=_actor(),
            progress=lambda done, total: progress.update(task, completed=done, total=total))
    if result.created:
        out.print(f"published {file} as version {result.version}; "
                  f"{result.members} member(s) re-folded")
    else:
        finished = (f"; finished an interrupted re-fold of {result.members} member(s)"
                    if result.members else "")
        out.print(f"{file} is already the current rulebook (version {result.version})"
                  f"{finished}")


# -- rulebook backtest (application/backtest.py; rendering in backtest_render.py and
#    entrypoints/backtest_html.py) --------------------------------------------------------

@rulebook_app.command("backtest")
@handles_errors
def rulebook_backtest(
        candidate: Annotated[str, typer.Argument(
            help="The candidate rulebook: a YAML file, or `draft:N` for an uploaded draft.")],
        as_of: AsOf = None,
        cohorts: Annotated[Path | None, typer.Option(
            "--cohorts", exists=True, dir_okay=False,
            help="Audit cohort file: CSV `member_id,<group column>` (header required) or "
                 "a JSON object {member_id: group}. Used for this report only.")] = None,
        min_group: Annotated[int, typer.Option(
            "--min-group", min=1, max=1_000_000,
            help="Smallest group whose adverse impact ratio is judged.")
                             ] = bt.DEFAULT_MIN_GROUP,
        special_category_audit: Annotated[bool, typer.Option(
            "--special-category-audit",
            help="Accept a cohort file whose groups look like special-category data "
                 "(health, ethnic origin, ...) for a lawful bias audit.")] = False,
        top: Annotated[int, typer.Option(min=1, max=bt.MAX_TOP,
                                         help="Largest movers listed each way.")
                       ] = bt.DEFAULT_TOP,
        json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")
                        ] = False,
        html: Annotated[Path | None, typer.Option(
            "--html", dir_okay=False, help="Also write a self-contained HTML report here.")
                        ] = None,
        workers: Workers = None,
        engine: spark_cli.EngineOption = "local",
        master: spark_cli.MasterOption = "local[*]") -> None:
    """Fold all history under a candidate rulebook and under the published one, at the
    same as-of time, and compare them, without publishing or writing anything."""
    from plaudit.application.cohorts import AUDIT_REMINDER, CohortError, load_cohorts
    from plaudit.entrypoints import backtest_html
    from plaudit.entrypoints.cli import backtest_render

    service = _service()
    if candidate.startswith("draft:"):
        number = candidate.removeprefix("draft:")
        if not number.isdigit():
            raise typer.BadParameter(f"`{candidate}`: give `draft:N` with a draft number",
                                     param_hint="CANDIDATE")
        draft = service.draft(int(number))
        text, label = draft.source, candidate
    else:
        path = Path(candidate)
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {candidate}", param_hint="CANDIDATE")
        text, label = path.read_text(encoding="utf-8"), str(path)
    compiled = load_rulebook(text, label)
    if html is not None and not html.parent.is_dir():
        raise typer.BadParameter(f"no such directory: {html.parent}", param_hint="--html")
    groups = None
    if cohorts is not None:
        try:
            groups = load_cohorts(cohorts, allow_special=special_category_audit)
        except CohortError as e:
            err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
            raise typer.Exit(2) from None
        err.print(f"note: {AUDIT_REMINDER}", highlight=False)
    as_of_us = _parse_as_of(service, as_of) if as_of else None
    if workers is not None:
        service.fold_workers = workers
    if spark_cli.check_engine(engine) == "spark":
        report = spark_cli.backtest(service, text, label, as_of_us=as_of_us, cohorts=groups,
                                    min_group=min_group, top=top, master=master, console=err)
    else:
        with _progress("folding members under both rulebooks", count=True) as (progress,
                                                                                task):
            report = service.backtest(
                compiled, label, as_of_us=as_of_us, cohorts=groups, min_group=min_group,
                top=top, candidate_text=text,
                progress=lambda done, total: progress.update(task, completed=done,
                                                             total=total))
    if html is not None:
        html.write_text(backtest_html.render(report), encoding="utf-8")
        err.print(f"wrote {html}", highlight=False)
    if json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        backtest_render.report(out, report)


@rulebook_app.command("list")
@handles_errors
def rulebook_list() -> None:
    """List published rulebook versions and who published each."""
    render.rulebooks(out, _service().rulebook_versions())


@rulebook_app.command("diff")
@handles_errors
def rulebook_diff(
        before: Annotated[str, typer.Argument(
            help="A published version (`3` or `v3`), an uploaded draft (`draft:N`) or a "
                 "YAML file.")],
        after: Annotated[str, typer.Argument(help="The same kinds, compared with BEFORE.")],
        text: Annotated[bool, typer.Option(
            "--text", help="Also print the unified diff of the two texts.")] = False,
        json: Annotated[bool, typer.Option(
            "--json", help="Print JSON: the summary, each change and the text diff.")
                        ] = False) -> None:
    """What changed from one rulebook to another, section by section: factors, bands,
    tiers, perks, point rules, rewards, badges, quests, streaks, leaderboards. Exits 0
    whether or not anything changed."""
    from plaudit.rulebook.diff import diff_texts

    service = functools.cache(_service)  # two files need no database
    old, old_label = _rulebook_source(service, before, "BEFORE")
    new, new_label = _rulebook_source(service, after, "AFTER")
    result = diff_texts(old, new, old_label, new_label)
    if json:
        sys.stdout.write(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode()
                         + "\n")
        return
    render.rulebook_diff(out, result, text=text)


def _rulebook_source(service: Callable[[], Plaudit], spec: str, hint: str
                     ) -> tuple[str, str]:
    """The text and label of a version number, ``draft:N`` or a file (usage error, exit 2,
    when there is no such thing)."""
    number = spec.removeprefix("v")
    if number.isdigit():
        rows = {r.version: r for r in service().rulebook_versions()}
        row = rows.get(int(number))
        if row is None:
            known = f"published: {min(rows)} to {max(rows)}" if rows else "none published"
            raise typer.BadParameter(f"no rulebook version {number} ({known})",
                                     param_hint=hint)
        return row.source, f"v{row.version}"
    if spec.startswith("draft:"):
        draft_no = spec.removeprefix("draft:")
        if not draft_no.isdigit():
            raise typer.BadParameter(f"`{spec}`: give `draft:N` with a draft number",
                                     param_hint=hint)
        try:
            draft = service().draft(int(draft_no))
        except NotFound as e:
            raise typer.BadParameter(str(e), param_hint=hint) from None
        return draft.source, spec
    path = Path(spec)
    if not path.is_file():
        raise typer.BadParameter(f"no such file, version or draft: {spec}", param_hint=hint)
    return path.read_text(encoding="utf-8"), str(path)


@app.command()
@handles_errors
def ingest(files: Annotated[list[str], typer.Argument(
               help="JSONL files (.gz accepted); `-` reads standard input.")],
           batch_size: Annotated[int, typer.Option(min=1, max=1_000_000,
                                                   help="Events per atomic batch.")
                                 ] = DEFAULT_BATCH,
           workers: Workers = None) -> None:
    """Ingest events from JSON Lines files, one event per line, in atomic batches.

    Files of more than two batches are folded on worker processes that each own a share
    of the members, this process decoding and writing (see docs/benchmarks.md)."""
    for name in files:
        if name != "-" and not Path(name).is_file():
            raise typer.BadParameter(f"no such file: {name}", param_hint="FILES")
    service = _service()
    failed = False
    for name in files:
        if name == "-":
            report = service.ingest_stream(sys.stdin.buffer, batch_size=batch_size,
                                           workers=workers or 1)
            label = Path("<stdin>")
        else:
            label = Path(name)
            report = ingest_with_progress(service, label, batch_size, workers)
        render.ingest_report(out, err, label, report)
        failed = failed or not report.ok
    if failed:
        raise typer.Exit(4)


@app.command()
@handles_errors
def replay(workers: Workers = None,
           behind_only: Annotated[bool, typer.Option(
               "--behind-only",
               help="Only members whose stored state is not at the current version (finish "
                    "an interrupted publish).")] = False,
           engine: spark_cli.EngineOption = "local",
           master: spark_cli.MasterOption = "local[*]",
           workdir: spark_cli.WorkdirOption = None,
           partitions: spark_cli.PartitionsOption = None,
           step: spark_cli.StepOption = "all",
           keep: spark_cli.KeepOption = False) -> None:
    """Re-fold every member's stored state from their events under the current rulebook.

    States are derived: this rewrites them from the event log (after restoring a backup,
    or to check that nothing drifted), one transaction per page of members, while ingest
    goes on. Safe to stop and run again. ``--engine spark`` folds with PySpark over the
    events exported as Parquet (docs/spark.md); the results are written back here.
    """
    service = _service()
    if spark_cli.check_engine(engine) == "spark":
        out.print(spark_cli.replay(service, master=master, workdir=workdir,
                                   partitions=partitions, step=step, keep=keep,
                                   behind_only=behind_only, console=err), highlight=False)
        return
    with _progress("re-folding members", count=True) as (progress, task):
        report = service.replay(
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            behind_only=behind_only, workers=workers)
    rate = report.events / report.seconds if report.seconds else 0.0
    out.print(f"re-folded {report.members:,} member(s), {report.events:,} events in "
              f"{report.seconds:.1f} s ({rate:,.0f} events/s) on {report.workers} "
              f"process(es)" + (f"; {report.refolded} written meanwhile were folded again"
                                if report.refolded else ""), highlight=False)


def ingest_with_progress(service: Plaudit, file: Path, batch_size: int,
                         workers: int | None = None) -> IngestReport:
    # a .gz file's size is not the size of what is read from it: no total then
    size = None if file.suffix == ".gz" else file.stat().st_size
    with _progress(f"ingesting {file.name}", count=False) as (progress, task):
        progress.update(task, total=size)
        return service.ingest_file(
            file, batch_size=batch_size, workers=workers,
            progress=lambda done, _report: progress.update(task, completed=done))


@app.command()
@handles_errors
def member(member_id: Annotated[str, typer.Argument(help="The operator's member id.")],
           as_of: AsOf = None,
           json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
           history: Annotated[bool, typer.Option(
               "--history", help="Also list every award, reversal and spend.")] = False
           ) -> None:
    """Show a member: score, band, factors, reasons, points, lots, tier and perks."""
    service = _service()
    as_of_us = _parse_as_of(service, as_of) if as_of else None
    state = service.member_state(member_id, as_of_us, history=history or json)
    if json:
        sys.stdout.write(orjson.dumps(to_dict(state), option=orjson.OPT_INDENT_2).decode()
                         + "\n")
        return
    render.member(out, state, show_history=history)


@app.command()
@handles_errors
def explain(member_id: Annotated[str, typer.Argument(help="The operator's member id.")],
            as_of: AsOf = None,
            json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
            ) -> None:
    """Why a member has their score: each factor's input, curve position and points, the
    reasons, the ledger, and the smallest changes that reach the next band."""
    service = _service()
    as_of_us = _parse_as_of(service, as_of) if as_of else None
    x = service.explain(member_id, as_of_us)
    if json:
        sys.stdout.write(orjson.dumps(x, default=str, option=orjson.OPT_INDENT_2).decode()
                         + "\n")
        return
    if x is None:
        out.print("this rulebook has no score")
        return
    explanation(out, x)


@app.command()
@handles_errors
def rewards(member_id: Annotated[str | None, typer.Argument(
                help="Show the catalogue as this member sees it (can they redeem?).")] = None,
            as_of: AsOf = None
            ) -> None:
    """List the rewards catalogue: cost, limit, requirement, stock left."""
    service = _service()
    as_of_us = _parse_as_of(service, as_of) if as_of else None
    render.catalogue(out, service.catalogue(member_id, as_of_us), member_id)


@app.command()
@handles_errors
def redeem(member_id: Annotated[str, typer.Argument(help="The operator's member id.")],
           reward: Annotated[str, typer.Argument(help="A reward id of the catalogue.")],
           key: Annotated[str, typer.Option(
               "--key", help="Idempotency key: the same key again returns the first "
                             "redemption and spends nothing more.")]) -> None:
    """Redeem a reward for a member (checked against their state now)."""
    view, created = _service().redeem_once(member_id, reward, key)
    verb = "redeemed" if created else "already redeemed with this key"
    out.print(f"{verb}: {view.label} for {view.points} points (redemption {view.id})")


@app.command("cancel-redemption")
@handles_errors
def cancel_redemption(member_id: Annotated[str, typer.Argument(help="The operator's member id.")],
                      redemption_id: Annotated[str, typer.Argument(
                          help="The redemption's id, as `plaudit redeem` printed it.")]
                      ) -> None:
    """Cancel a redemption: its points return to their lots (unless expired meanwhile)."""
    view = _service().cancel_redemption(member_id, redemption_id)
    expired = f", {view.expired_meanwhile} expired meanwhile" if view.expired_meanwhile else ""
    out.print(f"cancelled: {view.label}; {view.returned} points returned{expired}")


@app.command()
@handles_errors
def ledger(member_id: Annotated[str, typer.Argument(help="The operator's member id.")],
           as_of: AsOf = None
           ) -> None:
    """Print a member's points statement: every movement with the balance after it."""
    service = _service()
    as_of_us = _parse_as_of(service, as_of) if as_of else None
    render.ledger(out, service.ledger(member_id, as_of_us))


@app.command()
@handles_errors
def leaderboard(board: Annotated[str, typer.Argument(help="A leaderboard id of the rulebook.")],
                period: Annotated[str | None, typer.Option(
                    "--period", help="`2026-07` (month), `2026-W27` (ISO week) or `all`. "
                                     "Default: the current period.")] = None,
                limit: Annotated[int, typer.Option(min=1, max=100,
                                                   help="How many to list.")] = 10) -> None:
    """Show a leaderboard's top members, by pseudonym (only members who opted in)."""
    render.leaderboard(out, _service().leaderboard(board, period, limit))


# -- disputes ---------------------------------------------------------------------------

def _actor() -> str:
    """Who acts from the command line, as disputes, published versions and the audit log
    keep it: the operator's login on this machine (its uid in a container that has no
    name for it, where ``getpass`` finds none)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"cli:{user}"


@disputes_app.command("list")
@handles_errors
def disputes_list(status: Annotated[str | None, typer.Option(
                      "--status", help="open, accepted or rejected. Default: all.")] = None,
                  after: Annotated[int, typer.Option(
                      min=0, help="Start after this position (the `next` shown).")] = 0,
                  limit: Annotated[int, typer.Option(min=1, max=500,
                                                     help="How many to list.")] = 100,
                  json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
                  ) -> None:
    """List disputes in the order they were opened."""
    page = _service().disputes.page(status, after, limit)
    if json:
        sys.stdout.write(orjson.dumps(page, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    render.disputes(out, page.disputes, page.next)


@disputes_app.command("accept")
@handles_errors
def disputes_accept(dispute_id: Annotated[str, typer.Argument(help="The dispute's id.")]
                    ) -> None:
    """Accept a dispute: the event is voided (left out of the member's fold for good)."""
    view = _service().disputes.accept(dispute_id, actor=_actor())
    out.print(f"accepted: event {view.event.id} of {view.member} is voided")


@disputes_app.command("reject")
@handles_errors
def disputes_reject(dispute_id: Annotated[str, typer.Argument(help="The dispute's id.")],
                    reason: Annotated[str, typer.Option(
                        "--reason", help="Your explanation, shown to the member.")]) -> None:
    """Reject a dispute: the event counts again; the member sees your reason."""
    view = _service().disputes.reject(dispute_id, reason, actor=_actor())
    out.print(f"rejected: event {view.event.id} of {view.member} counts again")


@disputes_app.command("open")
@handles_errors
def disputes_open(member_id: Annotated[str, typer.Argument(help="The operator's member id.")],
                  event_id: Annotated[str, typer.Argument(help="One of the member's events.")],
                  reason: Annotated[str, typer.Option(
                      "--reason", help="not-mine, wrong-amount, wrong-time, duplicate or "
                                       "other.")]) -> None:
    """Open a dispute for a member (as they would from their app)."""
    view, created = _service().disputes.open(member_id, event_id, reason, actor=_actor())
    verb = "opened" if created else "already open"
    left_out = " (left out of the fold until decided)" if view.excluded else ""
    out.print(f"{verb}: dispute {view.id} of event {view.event.id}{left_out}")


def _parse_as_of(service: Plaudit, text: str) -> int:
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            tz = service.rulebook().calendar.tz
            at = datetime.combine(day, dtime(23, 59, 59, 999999), tzinfo=tz)
        else:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"`{text}` is not an RFC 3339 time or a date",
                                 param_hint="--as-of") from None
    if at.tzinfo is None:
        raise typer.BadParameter("give the time with its offset, like "
                                 "2026-06-01T10:00:00+08:00", param_hint="--as-of")
    try:
        return to_us(in_range(at))
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--as-of") from None


@app.command()
@handles_errors
def demo(members: Annotated[int, typer.Option(min=10, max=200_000,
                                              help="Synthetic members.")] = 3000,
         days: Annotated[int, typer.Option(min=1, max=3650, help="Days of history.")] = 365,
         seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
         serve_: Annotated[bool, typer.Option(
             "--serve/--no-serve", help="Serve the member portal, the operator console and "
             "the API after building, until Ctrl-C.")] = True,
         host: Annotated[str | None, typer.Option(help="Listen address [default: "
                                                  "PLAUDIT_HOST or 127.0.0.1].")] = None,
         port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port [default: "
                                                  "PLAUDIT_PORT or 8000].")] = None) -> None:
    """Build a demo program (sesame-style rulebook, synthetic members, a year of events)
    in $PLAUDIT_HOME/demo, print a summary, then serve it: the printed links sign you in to
    a member's portal and to the operator console."""
    from plaudit.demo import play
    from plaudit.synthetic import generate, today_utc

    settings = Settings()
    host = host or settings.host
    port = port if port is not None else settings.port
    if serve_:
        _port_free(host, port)  # before minutes of building, not after
    home = settings.home / "demo"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    service = bootstrap(Settings(home=home, database_url=None))
    text = example_rulebook("sesame-style.yaml")
    service.publish_rulebook(text, "sesame-style.yaml", actor=_actor())
    start = today_utc().toordinal() - days
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        with _progress("generating events", count=True) as (progress, task), \
                path.open("wb") as f:
            progress.update(task, total=None)
            for n, event in enumerate(
                    generate(members, days, start=date.fromordinal(start), seed=seed), 1):
                f.write(orjson.dumps(event) + b"\n")
                if n % 5000 == 0:
                    progress.update(task, completed=n)
        report = ingest_with_progress(service, path, DEFAULT_BATCH)
    elapsed = time.perf_counter() - started
    with _progress("members playing", count=True) as (progress, task):
        played = play(service, members, seed=seed,
                      progress=lambda done, total: progress.update(task, completed=done,
                                                                   total=total))
    render.demo_summary(out, service, report, elapsed, home, played)
    if serve_:
        _serve_demo(service, played, settings, host, port)


def _port_free(host: str, port: int) -> None:
    """Say plainly that the port is taken, rather than let uvicorn exit with a traceback."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as e:
        reason = os.strerror(e.errno) if e.errno else str(e)
        raise PlauditError(f"cannot serve the demo on {host}:{port} ({reason}): pass "
                           "--port with a free port, or --no-serve") from None


def _serve_demo(service: Plaudit, played: PlayReport, settings: Settings, host: str,
                port: int) -> None:
    """Serve the demo's own service in this process (one worker: the demo's SQLite file),
    print the sign-in links once the port is ours, and stop cleanly on Ctrl-C."""
    import socket

    import uvicorn

    from plaudit.demo import links
    from plaudit.entrypoints.http.app import create_app

    _port_free(host, port)  # still free after the build
    demo_links = links(service, played, actor=_actor())
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"

    class Server(uvicorn.Server):
        """Prints the links once the port listens: a link opened at once must answer."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                render.demo_links(out, base, demo_links)

    server = Server(uvicorn.Config(create_app(service), host=host, port=port,
                                   log_level="warning", server_header=False))
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it ends on
        server.run()
    service.store.close()
    out.print("demo stopped; the program stays in "
              f"{settings.home / 'demo'} (run `plaudit demo` again to rebuild it)")


@app.command()
@handles_errors
def serve(host: Annotated[str | None, typer.Option(help="Listen address [default: "
                                                   "PLAUDIT_HOST or 127.0.0.1].")] = None,
          port: Annotated[int | None, typer.Option(help="Port [default: PLAUDIT_PORT or "
                                                   "8000].")] = None,
          workers: Annotated[int | None, typer.Option(min=1, max=64, help="Worker processes "
                                                      "[default: PLAUDIT_WORKERS or 1].")
                             ] = None,
          database_url: Annotated[str | None, typer.Option(
              help="Database URL [default: PLAUDIT_DATABASE_URL or SQLite in "
                   "PLAUDIT_HOME].")] = None,
          fold_workers: Annotated[int | None, typer.Option(
              min=0, max=64,
              help="Fold processes per worker: writes are folded there, each owning a "
                   "share of the members, and present-state reads answered from them "
                   "[default: PLAUDIT_SERVE_FOLD_WORKERS or 0, folding in the worker]."
          )] = None,
          log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
          forwarded_allow_ips: Annotated[str | None, typer.Option(
              help="Behind a TLS-terminating proxy: the proxy's addresses (comma-separated) "
                   "whose X-Forwarded-Proto/-For to trust, so that the pages' forms see the "
                   "https origin the browser sends and cookies are Secure [default: trust "
                   "no proxy].")] = None) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, interactive docs at /docs), the member
    portal (/portal) and the operator console (/console)."""
    import uvicorn

    if database_url:
        os.environ["PLAUDIT_DATABASE_URL"] = database_url  # inherited by worker processes
    if fold_workers is not None:
        os.environ["PLAUDIT_SERVE_FOLD_WORKERS"] = str(fold_workers)
    settings = Settings()
    bootstrap(settings).store.close()  # create and migrate the database once, up front
    uvicorn.run("plaudit.entrypoints.http.app:app_factory", factory=True,
                host=host or settings.host, port=port if port is not None else settings.port,
                workers=workers or settings.workers, log_level=log_level,
                proxy_headers=forwarded_allow_ips is not None,
                forwarded_allow_ips=forwarded_allow_ips, server_header=False)


@keys_app.command("create")
@handles_errors
def keys_create(name: Annotated[str, typer.Argument(help="What the key is for.")],
                scope: Annotated[list[str] | None, typer.Option(
                    "--scope", "-s", help="admin, ingest, read or erase (repeat for several).")
                ] = None,
                partner: Annotated[str | None, typer.Option(
                    help="Create a partner key for this partner id instead.")] = None
                ) -> None:
    """Create an operator key (with --scope) or a partner key (with --partner); prints the
    token once."""
    access = _service().access
    if (partner is None) == (not scope):
        err.print("[bold red]error:[/] give --scope (operator key) or --partner, not both")
        raise typer.Exit(2)
    try:
        issued = (access.create_partner_key(name, partner, actor=_actor())
                  if partner is not None else access.create_key(name, scope or [],
                                                                actor=_actor()))
    except ValueError as e:
        err.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(2) from None
    err.print(f"created key {issued.row.key_id} ({issued.row.kind}); the token is shown "
              "only now:")
    out.print(issued.token, highlight=False)


@keys_app.command("list")
@handles_errors
def keys_list() -> None:
    """List operator and partner keys (never their tokens)."""
    render.keys(out, _service().access.list_keys())


@keys_app.command("revoke")
@handles_errors
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id from `keys list`.")]
                ) -> None:
    """Revoke a key, and every member token it issued, at once."""
    _service().access.revoke(key_id, actor=_actor())
    out.print(f"revoked {key_id}")


@keys_app.command("token")
@handles_errors
def keys_token(member_id: Annotated[str, typer.Argument(help="The member the token reads.")],
               seconds: Annotated[int, typer.Option(min=1, max=86_400,
                                                    help="Lifetime.")] = 900,
               consents: Annotated[bool, typer.Option(
                   "--consents/--read-only",
                   help="Whether the token may also grant and revoke the member's "
                        "partner consents.")] = True) -> None:
    """Issue a short-lived member token (reads only that member); prints the token."""
    issued = _service().access.issue_member_token(member_id, seconds, issued_by=CONSOLE,
                                                  actor=_actor(), consents=consents)
    out.print(issued.token, highlight=False)


# -- the audit log (application/audit.py) ------------------------------------------------

@audit_app.command("list")
@handles_errors
def audit_list(limit: Annotated[int, typer.Option(min=1, max=500, help="How many to list.")
                                ] = 50,
               before: Annotated[int | None, typer.Option(
                   min=1, help="Only entries before this seq (the `more:` shown).")] = None,
               action: Annotated[str | None, typer.Option(
                   help=f"Only this action: {', '.join(ACTIONS)}.")] = None,
               json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
               ) -> None:
    """List audit entries, newest first: who did what to which subject, when."""
    if action is not None and action not in ACTIONS:
        hint = closest(action, list(ACTIONS))
        raise typer.BadParameter(f"`{action}` is not an audit action"
                                 + (f" (did you mean `{hint}`?)" if hint else ""),
                                 param_hint="--action")
    page = _service().audit_page(limit, before, action)
    if json:
        sys.stdout.write(orjson.dumps(page, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    render.audit_entries(out, page)


@audit_app.command("verify")
@handles_errors
def audit_verify(anchor: Annotated[str | None, typer.Option(
                     "--anchor", help="`SEQ:HASH` of a head noted earlier: also check the "
                                      "log still holds that entry with that hash.")] = None,
                 json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
                 ) -> None:
    """Check the whole hash chain: exit 0 when intact, 1 naming the first entry that is
    not (changed, missing, out of place) and what is wrong with it."""
    head = None
    if anchor is not None:
        seq, _, digest_ = anchor.partition(":")
        if not seq.isdigit() or len(digest_) != 64:
            raise typer.BadParameter("give `SEQ:HASH`, as `plaudit audit verify` prints the "
                                     "head", param_hint="--anchor")
        head = Head(int(seq), digest_)
    verdict = _service().verify_audit(head)
    if json:
        sys.stdout.write(orjson.dumps(verdict, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif verdict.first_bad is None:
        assert verdict.head is not None
        out.print(f"{verdict.entries} entries, chain intact; head {verdict.head.seq}:"
                  f"{verdict.head.hash}", highlight=False)
    else:
        err.print(f"[bold red]tampered:[/] entry {verdict.first_bad.seq}: "
                  f"{escape(verdict.first_bad.problem)} ({verdict.entries} entries read)",
                  highlight=False)
    if not verdict.ok:
        raise typer.Exit(1)


class _ProgressCtx:
    def __init__(self, label: str, count: bool) -> None:
        columns: list[Any] = [TextColumn("[bold]{task.description}"), BarColumn()]
        if count:
            columns.append(MofNCompleteColumn())
        else:
            columns += [DownloadColumn(), TransferSpeedColumn()]
        columns.append(TimeRemainingColumn())
        self.progress = Progress(*columns, console=err, transient=True,
                                 disable=not err.is_terminal)
        self.label = label

    def __enter__(self) -> tuple[Progress, Any]:
        self.progress.__enter__()
        return self.progress, self.progress.add_task(self.label, total=None)

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)


def _progress(label: str, *, count: bool) -> _ProgressCtx:
    return _ProgressCtx(label, count)


def main() -> None:  # pragma: no cover - console script entry
    app()


# Commands kept in modules of their own register themselves on `app` when imported.
from plaudit.entrypoints.cli import consume as _consume  # noqa: E402, F401
from plaudit.entrypoints.cli import rights as _rights  # noqa: E402, F401

__all__ = ["app", "main"]
