"""The server's cycle-collector policy: frozen between writes, but never forever."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from plaudit.entrypoints.http.coalesce import FreezeAfterWrites


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
