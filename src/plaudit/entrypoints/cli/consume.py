"""``plaudit consume``: streamed ingest from NATS JetStream (docs/consume.md).

A thin wrapper over :class:`~plaudit.application.consume.Consumer` and the JetStream source:
options, signals, progress and the report. Registered on the main app when ``main``
imports this module (at its end), like ``rights``.

SIGINT and SIGTERM stop it after the batch in hand is stored and settled (a second
SIGINT interrupts at once: what was not acked is delivered again). The exit code is 0, or
4 when some message was refused during the run (as ``ingest`` does for a rejected batch),
7 when the database failed (the batch was handed back to the broker), 8 when the broker
cannot be reached or refuses the stream, consumer or dead-letter subject.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import orjson
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from plaudit.application.consume import (
    MAX_MESSAGE_BYTES,
    Consumer,
    ConsumeReport,
    Delivery,
    Refusal,
)
from plaudit.bootstrap import nats_source
from plaudit.entrypoints.cli.main import _service, app, err, handles_errors, out

PAUSE_ENV = "PLAUDIT_CONSUME_PAUSE_AFTER_COMMIT"
"""Test hook: seconds to sleep between a batch's commit and its acks, after saying so on
stderr, so a test can kill the process exactly there."""


@app.command()
@handles_errors
def consume(
    url: Annotated[str, typer.Option(envvar="PLAUDIT_NATS_URL",
                                     help="The NATS server.")] = "nats://127.0.0.1:4222",
    stream: Annotated[str, typer.Option(help="The JetStream stream to read.")] = "PLAUDIT",
    subject: Annotated[str, typer.Option(
        help="Subject filter of the durable consumer (wildcards allowed); also the "
             "subject a stream made by --create-stream keeps.")] = "plaudit.events",
    durable: Annotated[str, typer.Option(
        help="Durable consumer name: where the stream position is kept between runs. "
             "Processes sharing it share the work.")] = "plaudit",
    batch: Annotated[int, typer.Option(min=1, max=10_000,
                                       help="Messages per fetch, stored as one "
                                            "transaction.")] = 500,
    max_wait: Annotated[float, typer.Option(
        min=0.05, max=60, help="Seconds one fetch waits when no message is there (also "
                               "how soon a stop is noticed when idle).")] = 1.0,
    ack_wait: Annotated[float, typer.Option(
        min=1, max=3600, help="Seconds before the broker redelivers a message not acked "
                              "(used when the durable is created).")] = 30.0,
    create_stream: Annotated[bool, typer.Option(
        "--create-stream", help="Create the stream (keeping --subject) if it is "
                                "missing.")] = False,
    dead_letter: Annotated[str | None, typer.Option(
        help="Republish each refused message to this subject (a stream must keep it), "
             "with Plaudit-Problems and Plaudit-Sequence headers, before terminating "
             "it.")] = None,
    max_bytes: Annotated[int, typer.Option(
        min=256, max=1_048_576, help="Largest message accepted; larger ones are "
                                     "refused unread.")] = MAX_MESSAGE_BYTES,
    max_messages: Annotated[int | None, typer.Option(
        min=1, help="Stop after this many messages.")] = None,
    idle_exit: Annotated[float | None, typer.Option(
        min=0, help="Stop once no message came for this many seconds (0: as soon as "
                    "the stream is drained).")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the final report as "
                                                      "JSON.")] = False,
) -> None:
    """Consume events from a NATS JetStream stream, one event object per message.

    Each fetched batch is stored in one transaction and acked only after it commits;
    redelivered events are stored once (event ids are idempotency keys). A message that
    can never be stored (not JSON, over a limit, refused by the rulebook) is terminated
    and reported with its stream sequence, field and reason, and its neighbours are
    stored. Runs until SIGINT/SIGTERM, --max-messages or --idle-exit.
    """
    from plaudit.entrypoints.http.limits import check_items

    service = _service()
    pause = float(os.environ.get(PAUSE_ENV) or 0)
    with nats_source(url, stream=stream, subject=subject, durable=durable,
                     create_stream=create_stream, ack_wait=ack_wait,
                     dead_letter=dead_letter, notice=_notice) as source, \
            _progress() as progress:
        task = progress.add_task(f"consuming {stream} ({subject})", total=None, counts="")

        def on_batch(report: ConsumeReport) -> None:
            progress.update(task, completed=report.messages,
                            total=report.messages + report.pending,
                            counts=f"{report.stored} stored, {report.duplicates} "
                                   f"duplicates, {report.refused} refused")

        def on_refused(r: Refusal) -> None:
            d = r.delivery
            for p in r.problems[:20]:
                err.print(f"refused {p} (subject {d.subject}, delivery {d.deliveries})",
                          highlight=False, markup=False)

        def after_commit(stored: Sequence[Delivery]) -> None:
            if pause:
                sys.stderr.write(f"paused after commit ({len(stored)} messages)\n")
                sys.stderr.flush()
                time.sleep(pause)

        consumer = Consumer(service, source, batch=batch, wait=max_wait,
                            max_bytes=max_bytes, screen=check_items, on_refused=on_refused,
                            on_batch=on_batch, after_commit=after_commit)
        with _stop_on_signals(consumer):
            try:
                report = consumer.run(max_messages=max_messages, idle_exit=idle_exit)
            finally:
                progress.stop()
                _render(consumer.report, json=json)
    if not report.ok:
        raise typer.Exit(4)


def _notice(text: str) -> None:
    err.print(f"[yellow]broker:[/] {text}", highlight=False)


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("{task.fields[counts]}"),
                    TimeElapsedColumn(), console=err, transient=True,
                    disable=not err.is_terminal)


@contextmanager
def _stop_on_signals(consumer: Consumer) -> Iterator[None]:
    """SIGINT and SIGTERM ask the consumer to stop after its batch; a second SIGINT
    interrupts (the default)."""
    def stop(signum: int, _frame: FrameType | None) -> None:
        if consumer.stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        consumer.stop.set()
        err.print(f"stopping after this batch ({signal.Signals(signum).name})",
                  highlight=False)

    previous: dict[int, Any] = {s: signal.signal(s, stop)
                                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _render(report: ConsumeReport, *, json: bool) -> None:
    if json:
        sys.stdout.write(orjson.dumps(report.as_dict()).decode() + "\n")
        sys.stdout.flush()
        return
    rate = report.messages / report.seconds if report.seconds > 0 else 0.0
    out.print(f"{report.messages} messages in {report.batches} batch(es): "
              f"{report.stored} events stored, {report.duplicates} duplicates, "
              f"{report.refused} refused, {report.redelivered} redelivered; "
              f"{report.pending} left in the stream ({rate:,.0f} messages/s)",
              highlight=False)


__all__ = ["consume"]
