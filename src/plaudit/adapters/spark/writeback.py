"""The Spark job's results written back by the one writer, as a local replay writes them.

The exported members and the results are both in member order, so they are streamed side by
side, a page of :data:`~plaudit.application.replay.PAGE` members at a time. Each page
becomes the :class:`~plaudit.application.replay.PageFold` a local fold would have made
(the state rows seen at export, the new state rows, the leaderboard rows) and goes through
the same :func:`~plaudit.application.replay.write_page`: under the page's member locks, a
member whose stored row is no longer the one exported with its events (an ingest, a
dispute or an erasure since) is folded again right there from what is stored now. So the
Spark engine writes exactly what the local one would, and never a state older than the
member's events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from plaudit.adapters.spark.errors import ExportError
from plaudit.adapters.spark.export import Manifest, read_members
from plaudit.adapters.spark.fold import RESULT_COLUMNS, decode_boards, result_state
from plaudit.application.ingest import BoardRows
from plaudit.application.ports import StateRow, Store
from plaudit.application.replay import PAGE, PageFold, write_page
from plaudit.application.workers import Page
from plaudit.domain.rulebook import Rulebook


def read_results(workdir: Path) -> Iterator[tuple[Any, ...]]:
    """The result rows (:data:`~plaudit.adapters.spark.fold.RESULT_COLUMNS`) in member
    order (see :func:`read_parts`)."""
    return read_parts(workdir / "results", RESULT_COLUMNS)


def read_parts(directory: Path, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """Rows of a Spark job's output, part file by part file in name order: member order
    (see :mod:`plaudit.adapters.spark.job`). Refused unless the job completed."""
    if not (directory / "_SUCCESS").exists():
        raise ExportError(f"{directory}: no complete results (run the Spark job first)")

    def rows() -> Iterator[tuple[Any, ...]]:
        for path in sorted(directory.glob("part-*.parquet")):
            for batch in pq.ParquetFile(path).iter_batches(batch_size=PAGE,
                                                           columns=list(columns)):
                cols = [batch.column(name).to_pylist() for name in columns]
                yield from zip(*cols, strict=True)

    return rows()


def _pages(workdir: Path) -> Iterator[tuple[Page, dict[int, StateRow], list[tuple[Any, ...]]]]:
    """(page, state rows seen, result rows of the page's members), in member order."""
    results = read_results(workdir)
    pending = next(results, None)
    last = 0
    page: Page = []
    seen: dict[int, StateRow] = {}
    members = read_members(workdir)
    done = False
    while not done:
        page, seen = [], {}
        for no, member_id, row in members:
            page.append((no, member_id))
            if row is not None:
                seen[no] = row
            if len(page) == PAGE:
                break
        else:
            done = True
        if not page:
            break
        nos = {no for no, _ in page}
        rows: list[tuple[Any, ...]] = []
        while pending is not None and pending[0] <= page[-1][0]:
            if pending[0] <= last or pending[0] not in nos:
                raise ExportError(f"{workdir / 'results'}: member {pending[0]} is out of "
                                  "member order or was not exported: not this export's "
                                  "results")
            rows.append(pending)
            last = pending[0]
            pending = next(results, None)
        yield page, seen, rows
    if pending is not None:
        raise ExportError(f"{workdir / 'results'}: member {pending[0]} was not exported: not "
                          "this export's results")


def write_back(store: Store, rulebook: Rulebook, workdir: Path, *,
               now_us: Callable[[], int],
               progress: Callable[[int, int], Any] | None = None) -> tuple[int, int, int]:
    """Write an export's results under ``rulebook`` (the export's version): (members
    written, events folded, members folded again because they were written meanwhile)."""
    manifest = Manifest.read(workdir)
    if manifest.rulebook_version != rulebook.version:
        raise ExportError(f"{workdir}: exported under rulebook version "
                          f"{manifest.rulebook_version}, not {rulebook.version}: export again")
    with store.write() as tx:  # boards gone from the rulebook list no one (as replay does)
        tx.drop_boards([b.id for b in rulebook.leaderboards])
    done = events = refolded = 0
    for page, seen, rows in _pages(workdir):
        boards = BoardRows()
        for r in rows:
            decode_boards(r[0], r[-1], boards)
        fold = PageFold(page, seen, [result_state(r) for r in rows], boards,
                        sum(r[-2] for r in rows))
        with store.write() as tx:
            refolded += write_page(tx, rulebook, fold, now_us())
        done += len(page)
        events += fold.events
        if progress is not None:
            progress(done, manifest.members)
    return done, events, refolded


__all__ = ["read_parts", "read_results", "write_back"]
