"""Group commit's queue and the server's cycle-collector policy (frozen between writes,
but never forever)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import weakref
from collections.abc import Iterator

import pytest

from plaudit.application.service import Plaudit
from plaudit.entrypoints.http.coalesce import Coalescer, FreezeAfterWrites

from .conftest import Api, purchase


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it


@pytest.fixture
def policy() -> Iterator[tuple[FreezeAfterWrites, list[float]]]:
    now = [0.0]
    yield FreezeAfterWrites(period=600, clock=lambda: now[0]), now
    gc.unfreeze()


def test_survivors_are_frozen_and_young_garbage_is_freed(
        policy: tuple[FreezeAfterWrites, list[float]]) -> None:
    gc_policy, _ = policy
    garbage = weakref.ref(Node())  # unreachable already: collected before freezing
    gc_policy.after_write()
    assert garbage() is None
    assert gc.get_freeze_count() > 0


def test_frozen_garbage_is_collected_within_one_period(
        policy: tuple[FreezeAfterWrites, list[float]]) -> None:
    gc_policy, now = policy
    node = Node()
    ref = weakref.ref(node)
    gc_policy.after_write()  # node is alive: frozen
    del node
    now[0] = 599.0
    gc_policy.after_write()
    assert ref() is not None  # a frozen cycle is out of the collector's sight...
    now[0] = 600.0
    gc_policy.after_write()
    assert ref() is None  # ...until the periodic full collection


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
