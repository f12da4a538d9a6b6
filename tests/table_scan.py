"""Every row of every table, read back from the database itself, and the rows that still
mention a member.

Tables are reflected from the database (not from plaudit's table list), so a table added
later is scanned without anyone remembering to add it here. Used by every erasure test:
the store's, the HTTP API's, the command line's and the erasure requests'.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.engine import Engine


def every_row(engine: Engine | str) -> dict[str, list[dict[str, Any]]]:
    """``{table: [row as a dict, …]}`` for every table the database holds."""
    own = isinstance(engine, str)
    bound = create_engine(engine) if isinstance(engine, str) else engine
    try:
        meta = MetaData()
        meta.reflect(bound)
        with bound.connect() as conn:
            return {name: [dict(r._mapping) for r in conn.execute(select(table))]
                    for name, table in meta.tables.items()}
    finally:
        if own:
            bound.dispose()


def leaks(rows: dict[str, list[dict[str, Any]]], member_id: str, member_no: int
          ) -> list[str]:
    """Every text value containing ``member_id`` and every ``*member_no`` column equal to
    ``member_no``, as ``table.column: value``. Pick a member id no other value of the test
    contains, so that a substring hit is a real leak."""
    found = []
    for table, table_rows in rows.items():
        for row in table_rows:
            for column, value in row.items():
                if isinstance(value, str) and member_id in value:
                    found.append(f"{table}.{column}: {value[:120]}")
                if column.endswith("member_no") and value == member_no:
                    found.append(f"{table}.{column} = {member_no}")
    return found


__all__ = ["every_row", "leaks"]
