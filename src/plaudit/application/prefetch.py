"""Produce the next item on a thread while the caller works on this one.

Bulk ingest decodes a batch (pure Python, ~half of the writer's time) while it waits for
the fold workers and for SQLite, both of which release the GIL: decoding the next batch
then costs the writer almost nothing. The thread stays at most ``depth`` items ahead (so
memory holds at most ``depth + 1`` batches), re-raises its failure in the caller at the
item where it happened, and stops when the caller stops early.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as e:  # handed to the caller, raised there
            put(_Failure(e))
            return
        put(_DONE)

    thread = threading.Thread(target=produce, name="plaudit-prefetch", daemon=True)
    thread.start()
    try:
        while (value := slots.get()) is not _DONE:
            if isinstance(value, _Failure):
                raise value.error
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


__all__ = ["prefetched"]
