"""A long bulk ingest keeps nothing it dropped: each batch's reference cycles (SQLAlchemy
makes a few per statement, holding its parameters) are collected before the survivors are
frozen out of the cycle collector's sight. Frozen with them, they were never freed: ~0.8 MB
more live objects per 50,000-event batch, for as long as the run lasted."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from plaudit.adapters.clock import FixedClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit

from ..conftest import NOW
from .test_fold_pool import BATCH, program_file, sesame_text_module  # noqa: F401


def test_garbage_of_earlier_batches_is_not_kept_frozen(
        store: SqlStore, program_file: Path, sesame_text_module: str) -> None:  # noqa: F811
    svc = Plaudit(store, FixedClock(NOW), cache_size=2, snapshot_every=4)  # many misses
    svc.publish_rulebook(sesame_text_module, actor="test")
    frozen_garbage: list[int] = []

    def after_batch(_done: int, report: Any) -> None:
        if report.batches == 4:  # once: looking collects what it finds
            gc.collect()  # this batch's own garbage, not frozen yet
            gc.unfreeze()  # what the three batches before left frozen...
            frozen_garbage.append(gc.collect())  # ...and nothing reaches

    with program_file.open("rb") as stream:
        report = svc.ingest_stream(stream, batch_size=BATCH, progress=after_batch)
    assert report.batches > 4 and report.stored > 0
    assert frozen_garbage == [0]
