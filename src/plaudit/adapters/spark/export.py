"""The program exported for Spark: events and the state rows they were read with, as Parquet.

A work directory holds one export (see :data:`MANIFEST`)::

    manifest.json   format, rulebook version and name, counts
    rulebook.yaml   the rulebook's text: every Spark worker compiles it once
    events/         part-NNNNN.parquet: one row per counted event (EVENTS)
    members/        part-NNNNN.parquet: every member paged, in member order, with the
                    state row stored when its events were read (MEMBERS)
    results/        written by the Spark job (job.py): one row per folded member (RESULTS)

Members are exported page by page, each page's events and state rows read in one snapshot
(as a local replay's fold reads them), and streamed to Parquet with one writer per table,
a new file every :data:`ROWS_PER_FILE` rows: memory is bounded by a page, whatever the
size of the program. The state rows are what the write-back compares with the stored ones
to find members written since (:mod:`plaudit.adapters.spark.writeback`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from plaudit.adapters.spark.errors import ExportError
from plaudit.application.ports import StateRow, Store
from plaudit.application.workers import RulebookText, pages

FORMAT = 1
MANIFEST = "manifest.json"
RULEBOOK = "rulebook.yaml"
PAGE = 1000
"""Members per export page (one snapshot read each)."""
ROWS_PER_FILE = 1_000_000
"""Rows per Parquet file: Spark reads files in parallel; a row group per page."""

EVENTS = pa.schema([
    ("event_id", pa.string()), ("member_no", pa.int64()), ("member_id", pa.string()),
    ("type", pa.string()), ("at_us", pa.int64()), ("at", pa.string()),
    ("attributes", pa.string()),
])
"""One counted event (what a fold reads: events a dispute leaves out are not exported)."""

STATE_FIELDS = ("rulebook_version", "position", "last_at_us", "last_event_id", "balance",
                "score", "band", "tier", "consents")
MEMBERS = pa.schema([
    ("member_no", pa.int64()), ("member_id", pa.string()), ("has_state", pa.bool_()),
    ("rulebook_version", pa.int64()), ("position", pa.int64()), ("last_at_us", pa.int64()),
    ("last_event_id", pa.string()), ("balance", pa.int64()), ("score", pa.int64()),
    ("band", pa.string()), ("tier", pa.string()), ("consents", pa.string()),
    ("revision", pa.int64()),
])
"""Every member paged, with the state row stored when its events were read (``has_state``
false: none)."""


@dataclass(frozen=True)
class Manifest:
    format: int
    rulebook_version: int
    rulebook_name: str
    members: int
    events: int
    behind_only: bool
    exported_us: int

    @staticmethod
    def read(workdir: Path) -> Manifest:
        path = workdir / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ExportError(f"{path}: no export here (run the export first)") from None
        except ValueError as e:
            raise ExportError(f"{path}: not a plaudit export manifest: {e}") from None
        found = data.get("format") if isinstance(data, dict) else None
        if found != FORMAT:
            raise ExportError(f"{path}: format {found!r} is not {FORMAT}")
        try:
            return Manifest(**{k: data[k] for k in Manifest.__dataclass_fields__})
        except KeyError as e:
            raise ExportError(f"{path}: field {e.args[0]} is missing") from None

    def source(self, workdir: Path) -> RulebookText:
        text = (workdir / RULEBOOK).read_text(encoding="utf-8")
        return RulebookText(text, self.rulebook_name, self.rulebook_version)


class _Sink:
    """Rows of one table streamed to ``dir/part-NNNNN.parquet``, a new file every
    :data:`ROWS_PER_FILE` rows (at least one file, even empty, so readers see the schema)."""

    def __init__(self, directory: Path, schema: pa.Schema) -> None:
        directory.mkdir(parents=True)
        self.directory = directory
        self.schema = schema
        self.files = 0
        self.rows_in_file = 0
        self.writer: pq.ParquetWriter | None = None

    def write(self, columns: dict[str, list[Any]]) -> None:
        n = len(next(iter(columns.values())))
        if self.writer is None or (n and self.rows_in_file >= ROWS_PER_FILE):
            self._next_file()
        if n:
            assert self.writer is not None
            self.writer.write_table(pa.table(columns, schema=self.schema))
            self.rows_in_file += n

    def _next_file(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = pq.ParquetWriter(self.directory / f"part-{self.files:05d}.parquet",
                                       self.schema, compression="zstd")
        self.files += 1
        self.rows_in_file = 0

    def close(self) -> None:
        if self.writer is None:
            self._next_file()
        assert self.writer is not None
        self.writer.close()


def _columns(schema: pa.Schema) -> dict[str, list[Any]]:
    return {name: [] for name in schema.names}


def export(store: Store, source: RulebookText, workdir: Path, *, now_us: int,
           behind_only: bool = False,
           progress: Callable[[int, int], Any] | None = None) -> Manifest:
    """Export every member (with ``behind_only``: those whose state is at another version
    than ``source``'s) into ``workdir``, which must not hold an export already."""
    if workdir.exists() and any(workdir.iterdir()):
        raise ExportError(f"{workdir}: not empty (give a new or empty work directory)")
    workdir.mkdir(parents=True, exist_ok=True)
    behind = source.version if behind_only else None
    with store.read() as tx:
        total = tx.count_members(behind)
    events_sink = _Sink(workdir / "events", EVENTS)
    members_sink = _Sink(workdir / "members", MEMBERS)
    members = events = 0
    try:
        for page in pages(store, behind, PAGE):
            events += _export_page(store, page, events_sink, members_sink)
            members += len(page)
            if progress is not None:
                progress(members, total)
    finally:
        events_sink.close()
        members_sink.close()
    (workdir / RULEBOOK).write_text(source.text, encoding="utf-8")
    manifest = Manifest(FORMAT, source.version, source.name, members, events, behind_only,
                        now_us)
    (workdir / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n",
                                    encoding="utf-8")
    return manifest


def _export_page(store: Store, page: Sequence[tuple[int, str]], events_sink: _Sink,
                 members_sink: _Sink) -> int:
    nos = [no for no, _ in page]
    with store.snapshot() as tx:  # the events and the state rows they go with
        seen = tx.states(nos)
        rows = tx.events_of_members(nos)
    ev = _columns(EVENTS)
    for no, e in rows:
        ev["event_id"].append(e.event_id)
        ev["member_no"].append(no)
        ev["member_id"].append(e.member_id)
        ev["type"].append(e.type)
        ev["at_us"].append(e.at_us)
        ev["at"].append(e.at)
        ev["attributes"].append(e.attributes)
    events_sink.write(ev)
    mem = _columns(MEMBERS)
    for no, member_id in page:
        row = seen.get(no)
        mem["member_no"].append(no)
        mem["member_id"].append(member_id)
        mem["has_state"].append(row is not None)
        for name in (*STATE_FIELDS, "revision"):
            mem[name].append(getattr(row, name) if row is not None else None)
    members_sink.write(mem)
    return len(rows)


def read_members(workdir: Path) -> Iterator[tuple[int, str, StateRow | None]]:
    """The exported members in member order: (member_no, member id, the state row seen)."""
    for path in sorted((workdir / "members").glob("part-*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=PAGE):
            cols = batch.to_pydict()
            for i, no in enumerate(cols["member_no"]):
                row = None
                if cols["has_state"][i]:
                    row = StateRow._make(
                        [no, *(cols[name][i] for name in (*STATE_FIELDS, "revision"))])
                yield no, cols["member_id"][i], row


def clear(workdir: Path, *, remove: bool = False) -> None:
    """Delete what an export (and its Spark job) put in ``workdir``; with ``remove``, the
    directory too (a temporary one). Nothing else in it is touched."""
    for name in ("events", "members", "results"):
        shutil.rmtree(workdir / name, ignore_errors=True)
    for name in (MANIFEST, RULEBOOK):
        (workdir / name).unlink(missing_ok=True)
    if remove:
        shutil.rmtree(workdir, ignore_errors=True)


__all__ = ["EVENTS", "MANIFEST", "MEMBERS", "ExportError", "Manifest", "clear", "export",
           "read_members"]
