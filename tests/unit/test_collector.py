"""The writers' cycle-collector policy: what a write left as garbage is collected before the
survivors are frozen, and frozen objects that became garbage are collected within one
period, never kept for ever."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from plaudit.application.collector import FreezeAfterWrites


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it


@pytest.fixture
def clock() -> Iterator[list[float]]:
    now = [0.0]
    yield now
    gc.unfreeze()


def test_survivors_are_frozen_and_young_garbage_is_freed(clock: list[float]) -> None:
    policy = FreezeAfterWrites(period=600, clock=lambda: clock[0])
    garbage = weakref.ref(Node())  # unreachable already: collected before freezing
    policy.after_write()
    assert garbage() is None
    assert gc.get_freeze_count() > 0


def old_garbage() -> weakref.ref[Node]:
    """A cycle that turned into garbage only after surviving a full collection: it sits in
    the oldest generation, where a young collection does not look."""
    node = Node()
    gc.collect()
    ref = weakref.ref(node)
    del node
    return ref


def test_a_bulk_writer_collects_what_is_not_frozen_before_freezing(
        clock: list[float]) -> None:
    young = FreezeAfterWrites(period=600, generation=1, clock=lambda: clock[0])
    ref = old_garbage()
    young.after_write()
    assert ref() is not None  # frozen with the survivors: a server's periodic pass frees it
    gc.unfreeze()
    gc.collect()
    bulk = FreezeAfterWrites(period=600, generation=2, clock=lambda: clock[0])
    ref = old_garbage()
    bulk.after_write()
    assert ref() is None


def test_frozen_garbage_is_collected_within_one_period(clock: list[float]) -> None:
    policy = FreezeAfterWrites(period=600, clock=lambda: clock[0])
    node = Node()
    ref = weakref.ref(node)
    policy.after_write()  # node is alive: frozen
    del node
    clock[0] = 599.0
    policy.after_write()
    assert ref() is not None  # a frozen cycle is out of the collector's sight...
    clock[0] = 600.0
    policy.after_write()
    assert ref() is None  # ...until the periodic full collection
