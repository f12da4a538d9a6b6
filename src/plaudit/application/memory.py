"""This process's resident memory, for the fold cache's memory budget (``PLAUDIT_MEMORY_MB``).

An accumulator's size varies with the rulebook and the member's history (~20 KB for a member
with one event, ~75–150 KB after a year or three: docs/benchmarks.md), so a cache bounded
by a count of members is bounded in memory only for one program. The budget instead watches
what the process holds, after each write, and lets the cache give up members while it
grows past it (:meth:`~plaudit.application.ingest.FoldCache.fit`).

Linux's ``/proc/self/statm`` is read (a few microseconds); where it is missing the budget
is not enforced and the count alone bounds the cache. Not psutil: one file read does not
justify a compiled dependency.
"""

from __future__ import annotations

import os

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_mb() -> float | None:
    """The resident set size of this process in MB, or None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except (OSError, ValueError, IndexError):
        return None


__all__ = ["resident_mb"]
