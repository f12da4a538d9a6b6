"""Fold snapshots: a member's accumulator as compact, versioned bytes, and back.

A cache miss would otherwise re-fold the member's whole history. A snapshot holds
everything the fold keeps (every mechanic's state, the lots they share, position, last
event, first day, warnings) and nothing the rulebook says: the compiled rulebook holds
code objects and is the same for every member, so a snapshot restores only against the
rulebook version (and digest) it was taken under, and the caller folds the events after
it. ``restore(snapshot(fold(prefix)))`` followed by the rest of the events is the same
accumulator as folding them all: a property test compares views, stored rows and the
bytes of the next snapshot.

**Format.** Plain data — lists, strings, integers, booleans, null, decimals (``{"$d":
"120.50"}``, exponent kept) and sets (``{"$s": [...]}``, sorted, so that bytes never
depend on hash order) — written as JSON and compressed with zlib; each mechanic says what
its state is (:meth:`~plaudit.domain.mechanics.base.Mechanic.dump`), in a fixed order, so
the same state always gives the same bytes. Not pickle: these bytes come back from the
database, and loading them must never be able to construct an arbitrary object or run
code, whoever wrote the row; JSON can only ever give data, which each mechanic checks
against the rulebook as it loads it. :data:`FORMAT` is bumped whenever what a mechanic
dumps changes: an older snapshot is then refused (:class:`SnapshotMismatch`) and the
caller folds from the events, so snapshots never need a migration.

A fold that keeps history (awards, badge changes, expiries for a statement) is not
snapshotted: those lists grow with history, and only reads that want them build them.
"""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from typing import Any

from plaudit.domain.fold import MemberFold
from plaudit.domain.ledger import LotTable
from plaudit.domain.rulebook import Rulebook

FORMAT = 1
"""The snapshot format: bumped whenever any mechanic's :meth:`dump` changes shape."""
_LEVEL = 1
"""zlib level: the bodies are small and repetitive; level 1 gets most of the gain (~4x)
for a fraction of the time of the default."""


class SnapshotMismatch(ValueError):
    """The snapshot cannot be restored against this rulebook (another version or digest,
    another format, other mechanics) or is damaged: fold from the events instead."""


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, set | frozenset):
        return {"$s": sorted(value, key=_order)}
    raise TypeError(f"cannot snapshot a {type(value).__name__}")


def _order(value: Any) -> tuple[str, str]:
    """A total order over the scalars a set can hold (one attribute's values)."""
    return type(value).__name__, repr(value)


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "$d" in obj:
            return Decimal(obj["$d"])
        if "$s" in obj:
            return set(obj["$s"])
    raise SnapshotMismatch(f"unexpected object in a snapshot: {sorted(obj)}")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_default,
                            allow_nan=False, check_circular=False)


def snapshot(acc: MemberFold) -> bytes:
    """The accumulator as bytes (deterministic: the same state gives the same bytes).
    Raises ValueError for a fold that keeps history."""
    rb = acc.rulebook
    lots = LotTable()
    parts = [part.dump(lots) for part in acc.parts]
    last = list(acc.last_key) if acc.last_key is not None else None
    tree = [FORMAT, rb.version, rb.digest, [k.name for k in rb.plan.kinds], acc.position,
            last, acc.first_day, acc.warnings, lots.dump(), parts]
    return zlib.compress(_ENCODER.encode(tree).encode(), _LEVEL)


def restore(rulebook: Rulebook, member: str, body: bytes, *, revision: int = 0
            ) -> MemberFold:
    """The accumulator ``body`` was taken from, for ``member`` under ``rulebook``, ready to
    apply the events after it. Raises :class:`SnapshotMismatch` if it is not one of this
    rulebook's (or cannot be read)."""
    try:
        tree = json.loads(zlib.decompress(body).decode(), object_hook=_hook)
    except (zlib.error, UnicodeDecodeError, ValueError) as e:
        raise SnapshotMismatch(f"unreadable snapshot: {e}") from None
    if not isinstance(tree, list) or len(tree) != 10 or tree[0] != FORMAT:
        raise SnapshotMismatch("another snapshot format")
    _, version, digest, kinds, position, last, first_day, warnings, lots, parts = tree
    if version != rulebook.version or digest != rulebook.digest:
        raise SnapshotMismatch(f"taken under rulebook version {version}, "
                               f"not {rulebook.version}")
    if kinds != [k.name for k in rulebook.plan.kinds] or len(parts) != len(kinds):
        raise SnapshotMismatch("the rulebook's mechanics differ")
    acc = MemberFold(rulebook, member)
    try:
        table = LotTable.load(lots)
        for part, data in zip(acc.parts, parts, strict=True):
            part.load(rulebook, data, table)
        acc.position = position
        acc.last_key = (last[0], last[1]) if last is not None else None
        acc.first_day = first_day
        acc.warnings = list(warnings)
    except (TypeError, ValueError, KeyError, IndexError) as e:
        raise SnapshotMismatch(f"the snapshot does not fit the rulebook: {e}") from None
    if acc.participation.opted_out:
        assert rulebook.plan.paused is not None
        acc.plan = rulebook.plan.paused
    acc.revision = revision
    return acc


__all__ = ["FORMAT", "SnapshotMismatch", "restore", "snapshot"]
