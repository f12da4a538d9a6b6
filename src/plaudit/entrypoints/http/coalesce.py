"""Group commit for ``POST /v1/events``: requests that arrive while a write is running go
into the next write together.

One worker writes one transaction at a time anyway (SQLite has one writer; the service
thread is CPU-bound), so a request that arrives meanwhile would only wait. Waiting in a
group costs it nothing more, and the group shares one transaction, one thread hop and one
statement of each kind: single-event throughput roughly doubles under load, and nothing
changes for a lone request (no timer: a group is whatever queued during the previous write).
Each request stays atomic and gets its own result or its own errors
(:meth:`~plaudit.application.service.Plaudit.ingest_requests`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool

from plaudit.application.collector import FreezeAfterWrites
from plaudit.application.ingest import BatchResult
from plaudit.application.service import Plaudit

MAX_GROUP_ITEMS = 5_000
"""A group's events at most: bounds one transaction's time, hence the group's latency."""


class Coalescer:
    """Queues ingest requests of one event loop and writes them in groups.

    Lives on ``app.state``; uvicorn runs one loop per worker. A test client may run each
    request on a loop of its own: a request from another loop than the running group's is
    written on its own, never mixed with futures of a foreign loop.
    """

    def __init__(self, svc: Plaudit, gc_policy: FreezeAfterWrites | None = None) -> None:
        self.svc = svc
        self.gc = gc_policy
        self._pending: list[tuple[list[Any], asyncio.Future[BatchResult]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, items: list[Any]) -> BatchResult:
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop:
            return await run_in_threadpool(self.svc.ingest_items, items)
        future: asyncio.Future[BatchResult] = loop.create_future()
        self._pending.append((items, future))
        if self._loop is None:
            self._loop = loop
            self._task = loop.create_task(self._drain())  # held: the loop keeps weak refs
        return await future

    async def _drain(self) -> None:
        group: list[tuple[list[Any], asyncio.Future[BatchResult]]] = []
        try:
            while self._pending:
                group = [self._pending.pop(0)]
                total = len(group[0][0])
                while self._pending and total + len(self._pending[0][0]) <= MAX_GROUP_ITEMS:
                    group.append(self._pending.pop(0))
                    total += len(group[-1][0])
                try:  # every request's own failure comes back in its place...
                    results: list[Any] = await run_in_threadpool(
                        self.svc.ingest_requests, [items for items, _ in group])
                except Exception as e:  # ...but a failing database fails the whole group
                    results = [e] * len(group)
                if self.gc is not None:
                    self.gc.after_write()
                for (_, future), result in zip(group, results, strict=True):
                    if future.done():  # the client went away; what it sent is stored
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._loop = None
            for _, future in [*group, *self._pending]:  # only if this task was cancelled
                if not future.done():
                    future.cancel()
            self._pending.clear()


__all__ = ["MAX_GROUP_ITEMS", "Coalescer"]
