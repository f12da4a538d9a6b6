"""Generate docs/cli.md from the commands' own ``--help`` (a test keeps the two in step).

Run ``python -m plaudit.entrypoints.cli.reference > docs/cli.md`` after changing a command.
"""

from __future__ import annotations

import os

from typer.testing import CliRunner

COMMANDS: list[list[str]] = [
    [], ["init"], ["rulebook"], ["rulebook", "check"], ["rulebook", "publish"],
    ["rulebook", "list"], ["rulebook", "backtest"], ["ingest"], ["consume"], ["member"],
    ["explain"],
    ["rewards"], ["redeem"],
    ["cancel-redemption"], ["ledger"],
    ["export"], ["opt-out"], ["opt-in"], ["erase"],
    ["leaderboard"], ["demo"],
    ["disputes"], ["disputes", "list"], ["disputes", "accept"], ["disputes", "reject"],
    ["disputes", "open"],
    ["rulebook", "diff"], ["audit"], ["audit", "list"], ["audit", "verify"],
]

HEADER = """# CLI reference

Generated from each command's `--help` by `python -m plaudit.entrypoints.cli.reference`;
`tests/e2e/test_cli_reference.py` fails when this file and the commands disagree.

Settings come from the environment: `PLAUDIT_HOME` (data directory, default `./.plaudit`),
`PLAUDIT_DATABASE_URL` (unset: SQLite in the data directory; PostgreSQL:
`postgresql+psycopg://user@host/db`), `PLAUDIT_CACHE_MEMBERS` (accumulators kept in memory
between batches, default 20000), `PLAUDIT_SNAPSHOT_EVERY` (write a member's fold snapshot
after this many new events, so a cache miss folds only the events after it; default 64, 0
turns snapshots off), `PLAUDIT_MEMORY_MB` (memory budget of each folding process: while
over it and growing, its cache gives up members; Linux; default none),
`PLAUDIT_SQLITE_CACHE_MB` (database pages each SQLite connection keeps in memory, default
64), `PLAUDIT_FOLD_WORKERS` (processes folding members for
`ingest` of a large file, `replay`, `rulebook publish` and `backtest`; default one per core,
in-process for small programs); for `plaudit serve`: `PLAUDIT_HOST` (default 127.0.0.1),
`PLAUDIT_PORT` (8000), `PLAUDIT_WORKERS` (worker processes, 1), `PLAUDIT_THREADS`
(threads per worker for database work and folds; default 1 on SQLite, 4 on PostgreSQL) and
`PLAUDIT_SERVE_FOLD_WORKERS` (fold processes per worker that own the members' accumulators,
fold its writes and answer present-state reads; default 0: fold in the worker);
for `plaudit consume`: `PLAUDIT_NATS_URL` (the NATS server, default nats://127.0.0.1:4222).

Exit codes: 0 success; 1 other plaudit error; 2 usage error; 3 rulebook refused; 4 events
rejected (a file ingest exits 4 when any batch was rejected); 5 not found; 6 conflict;
7 database error; 8 broker error (`consume`: unreachable, no such stream, …).
"""


def render() -> str:
    from plaudit.entrypoints.cli.main import app

    os.environ["TERMINAL_WIDTH"] = "100"
    os.environ["NO_COLOR"] = "1"
    runner = CliRunner()
    parts = [HEADER]
    for cmd in COMMANDS:
        result = runner.invoke(app, [*cmd, "--help"], prog_name="plaudit",
                               env={"TERMINAL_WIDTH": "100", "NO_COLOR": "1",
                                    "COLUMNS": "100"})
        title = " ".join(["plaudit", *cmd])
        text = "\n".join(line.rstrip() for line in result.output.splitlines())
        parts.append(f"## `{title}`\n\n```text\n{text.strip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
