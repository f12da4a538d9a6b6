"""Group commit's queue: a request in flight when the server stops hears so."""

from __future__ import annotations

import asyncio
import contextlib
import time

from plaudit.application.service import Plaudit
from plaudit.entrypoints.http.coalesce import Coalescer

from .conftest import Api, purchase


def test_a_request_in_flight_when_the_server_stops_is_never_left_waiting(api: Api) -> None:
    """Shutting down cancels the writer task; a request whose group was already being
    written must hear that (cancelled), not wait for ever."""
    svc: Plaudit = api.svc

    async def scenario() -> bool:
        coalescer = Coalescer(svc)
        batch = [purchase(f"e{i}", f"m{i % 50}") for i in range(1000)]
        request = asyncio.ensure_future(coalescer.submit(batch))
        await asyncio.sleep(0.01)  # the group is being written on a worker thread
        assert coalescer._task is not None
        coalescer._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(request), timeout=5)
        return request.done()

    assert asyncio.run(scenario())
    # The write itself runs on to its end (all of it, being atomic); wait for it.
    deadline = time.monotonic() + 30
    while svc.summary()["events"] < 1000:
        assert time.monotonic() < deadline, "the cancelled group's write never ended"
        time.sleep(0.02)
    assert svc.summary()["events"] == 1000
