"""``plaudit demo`` serving, as a person runs it: the real command in its own process, its
printed links opened over real HTTP, then Ctrl-C (``--no-serve`` is in test_cli.py)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..live_server import free_port
from .test_cli import PLAUDIT, run

STARTUP = 180.0
"""Seconds for building the demo and binding the port: a hang guard, not a speed test."""


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "PLAUDIT_HOME": str(home), "NO_COLOR": "1", "TERMINAL_WIDTH": "120"}
    for name in ("PLAUDIT_DATABASE_URL", "PLAUDIT_HOST", "PLAUDIT_PORT"):
        env.pop(name, None)
    return env


class Demo:
    """A running ``plaudit demo``: its output as it comes, line by line."""

    def __init__(self, home: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [PLAUDIT, "demo", "--members", "40", "--days", "60", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(home))
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                         for stream, into in ((self.proc.stdout, self.out),
                                              (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def wait_for(self, pattern: str, seconds: float) -> re.Match[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = re.search(pattern, self.stdout)
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"no {pattern!r} in the demo's output (exit {self.proc.poll()}):\n"
                    f"{self.stdout}\n{self.stderr}")

    def finish(self, seconds: float) -> int:
        code = self.proc.wait(seconds)
        for reader in self._readers:
            reader.join(5)
        return code


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Demo, int]]:
    port = free_port()
    running = Demo(tmp_path / "home", port)
    yield running, port
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait(10)


def test_demo_serves_its_links_until_ctrl_c(demo: tuple[Demo, int]) -> None:
    running, port = demo
    base = f"http://127.0.0.1:{port}"
    member = running.wait_for(r"signed in as (m-\d+):\s+(\S+/portal/signin\?token=\S+)",
                              STARTUP)
    operator = running.wait_for(r"Operator console:\s+(\S+/console/signin\?token=\S+)", 10)
    assert "Demo program ready" in running.stdout
    assert member.group(2).startswith(f"{base}/portal/signin?token=plm_")
    assert operator.group(1).startswith(f"{base}/console/signin?token=plk_")

    with httpx.Client(timeout=30, follow_redirects=True) as browser:
        portal = browser.get(member.group(2))
        assert portal.status_code == 200, portal.text[:500]
        assert str(portal.url) == f"{base}/portal"  # the token left the address bar
        assert portal.headers["content-type"].startswith("text/html")
        assert f"Hello, {member.group(1)}" in portal.text
        assert browser.get(f"{base}/portal").status_code == 200  # the cookie holds
    with httpx.Client(timeout=30, follow_redirects=True) as browser:
        console = browser.get(operator.group(1))
        assert console.status_code == 200, console.text[:500]
        assert str(console.url) == f"{base}/console"
        assert "Program overview" in console.text
        assert re.search(r'data-testid="members">40<', console.text), console.text
    docs = httpx.get(f"{base}/docs", timeout=30)
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    assert httpx.get(f"{base}/openapi.json", timeout=30).status_code == 200

    running.proc.send_signal(signal.SIGINT)
    assert running.finish(15) == 0, running.stderr
    assert "demo stopped" in running.stdout
    assert "Traceback" not in running.stderr + running.stdout
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)


def test_demo_on_a_busy_port_says_so_and_exits_non_zero(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(tmp_path / "home", "demo", "--members", "40", "--days", "60",
                     "--port", str(port), check=False, timeout=STARTUP)
    assert result.returncode != 0
    assert f"cannot serve the demo on 127.0.0.1:{port}" in result.stderr, result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "Demo program ready" not in result.stdout  # refused before building
    assert not (tmp_path / "home" / "demo").exists()
