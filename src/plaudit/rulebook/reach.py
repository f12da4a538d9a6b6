"""Reachability: can a condition on score, band and tier ever hold?

Used to refuse perks (and anything else gated on score, band or tier) that no member could
ever reach, such as ``score > 2000`` on a 350–950 range. Conservative: only a condition that
provably never holds is refused.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from plaudit.domain.expressions import Type

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
}


def satisfiable(node: ast.expr, names: Mapping[str, Type],
                 ranges: Mapping[str, range]) -> bool:
    """Conservative: False only when the condition provably never holds."""
    return _constraints(node, names, ranges) is not None


def _constraints(node: ast.expr, names: Mapping[str, Type],
                 ranges: Mapping[str, range]) -> dict[str, frozenset[int]] | None:
    if isinstance(node, ast.BoolOp):
        parts = [_constraints(v, names, ranges) for v in node.values]
        if isinstance(node.op, ast.And):
            merged: dict[str, frozenset[int]] = {}
            for part in parts:
                if part is None:
                    return None
                for var, allowed in part.items():
                    merged[var] = merged.get(var, allowed) & allowed
                    if not merged[var]:
                        return None
            return merged
        alive = [p for p in parts if p is not None]
        if not alive:
            return None
        shared = set.intersection(*(set(p) for p in alive))
        return {v: frozenset().union(*(p[v] for p in alive)) for v in shared}
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right = node.left, node.comparators[0]
        op = type(node.ops[0])
        if isinstance(left, ast.Constant) and isinstance(right, ast.Name):
            left, right = right, left
            op = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE,
                  ast.GtE: ast.LtE}.get(op, op)
        if isinstance(left, ast.Name) and left.id in ranges and \
                isinstance(right, ast.Constant) and op in _COMPARE:
            value = right.value
            t = names[left.id]
            if t.kind == "level" and isinstance(value, str) and t.values:
                value = t.values.index(value)
            if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                test = _COMPARE[op]
                allowed = frozenset(v for v in ranges[left.id] if test(v, value))
                return {left.id: allowed} if allowed else None
    if isinstance(node, ast.Constant) and node.value is False:
        return None
    return {}


__all__ = ["satisfiable"]
