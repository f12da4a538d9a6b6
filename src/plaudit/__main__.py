"""``python -m plaudit``: the same CLI as the ``plaudit`` console script, for when the venv's
``bin/`` is not on PATH (subprocesses in tests and benchmarks start the server this way)."""

from plaudit.entrypoints.cli.main import app

app(prog_name="plaudit")
