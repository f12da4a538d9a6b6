"""A real ``plaudit serve`` on loopback, in its own process, for tests that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def live_server(database_url: str, home: Path, workers: int = 1,
                env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve ``database_url`` (already migrated) with ``workers`` uvicorn processes (and
    ``env`` on top of this process's environment) and yield the base URL once every worker
    answers /healthz; the server's output goes to ``home/server.log`` and into the
    failure."""
    port = free_port()
    log_path = home / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "plaudit", "serve", "--port", str(port),
             "--database-url", database_url, "--log-level", "warning",
             "--workers", str(workers)],
            env={**os.environ, "PLAUDIT_HOME": str(home), **(env or {})}, stdout=log,
            stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            answered = 0  # consecutive answers: with several workers, let all start
            while answered < 2 * workers:
                try:
                    ok = httpx.get(f"{base}/healthz", timeout=1).status_code == 200
                    answered = answered + 1 if ok else 0
                except httpx.TransportError:
                    answered = 0
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("plaudit serve did not start:\n" + log_path.read_text())
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            proc.wait(10)
