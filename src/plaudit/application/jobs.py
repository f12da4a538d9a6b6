"""Long-running work (publishing a rulebook re-folds every member) as jobs with progress.

A job's status lives in the database, not in the process that runs it, so any API worker
can answer "how far is it?" and the answer survives that worker. The work itself runs on a
thread of the process that started it; progress is written at most every
:data:`PROGRESS_SECONDS`, each write a small transaction of its own.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from plaudit.application.ports import Clock, JobRow, Store
from plaudit.domain.errors import NotFound, PlauditError

PROGRESS_SECONDS = 0.25
STALE_SECONDS = 300
"""A running job with no progress written for this long has lost its process: publishing
writes progress after every page of 500 members, seconds apart at most."""

Progress = Callable[[int, int], None]


class Jobs:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._threads: dict[str, threading.Thread] = {}

    def start(self, kind: str, work: Callable[[Progress], dict[str, Any]]) -> JobRow:
        """Record a running job and run ``work(progress)`` on a thread; returns at once."""
        now = self.clock.now_us()
        row = JobRow(secrets.token_hex(8), kind, "running", 0, 0, None, None, now, now)
        with self.store.write() as tx:
            tx.add_job(row)
        thread = threading.Thread(target=self._run, args=(row.job_id, work),
                                  name=f"plaudit-job-{row.job_id}", daemon=True)
        self._threads[row.job_id] = thread
        thread.start()
        return row

    def _run(self, job_id: str, work: Callable[[Progress], dict[str, Any]]) -> None:
        seen = [0, 0]  # done, total
        written = [0.0]

        def progress(done: int, total: int) -> None:
            seen[0], seen[1] = done, total
            if time.monotonic() - written[0] >= PROGRESS_SECONDS:
                written[0] = time.monotonic()
                self._update(job_id, "running", done, total, None, None)

        try:
            result = work(progress)
        except PlauditError as e:
            self._update(job_id, "failed", seen[0], seen[1], None, str(e))
        except Exception as e:
            self._update(job_id, "failed", seen[0], seen[1], None,
                         f"internal error: {type(e).__name__}")
        else:
            self._update(job_id, "succeeded", seen[1], seen[1], json.dumps(result), None)
        finally:
            self._threads.pop(job_id, None)

    def _update(self, job_id: str, status: str, done: int, total: int, result: str | None,
                error: str | None) -> None:
        with self.store.write() as tx:
            tx.update_job(job_id, status=status, done=done, total=total, result=result,
                          error=error, now_us=self.clock.now_us())

    def get(self, job_id: str) -> JobRow:
        """The job; one whose process stopped (a crash, a restart) reads as failed rather
        than running for ever. Its work was transactional per page: re-publish to finish."""
        with self.store.read() as tx:
            row = tx.job(job_id)
        if row is None:
            raise NotFound(f"no job `{job_id}`")
        idle_us = self.clock.now_us() - row.updated_us
        if row.status == "running" and job_id not in self._threads \
                and idle_us > STALE_SECONDS * 1_000_000:
            return row._replace(status="failed", error=(
                f"no progress for {idle_us // 1_000_000} s: the process running it stopped; "
                "publish again to finish"))
        return row

    def wait(self, job_id: str, timeout: float = 60.0) -> JobRow:
        """Block until a job started by this process ends (tests, the CLI)."""
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(job_id)


__all__ = ["Jobs", "Progress"]
