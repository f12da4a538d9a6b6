"""Every curl example in docs/api.md, run in order against a real ``plaudit serve``.

A small interpreter for the curl subset the page uses (``-s``, ``-X``, ``-H``, ``-d``,
``--data-binary`` with text or ``@file``, quoted strings across lines, ``\\`` line
continuations, ``$VAR`` expansion) sends each command with httpx, so no curl binary is
needed. Each command must be followed by ``# → STATUS``; ``# $NAME = .field`` stores a field
of the answer for later examples. The page must also show every operation of the OpenAPI
document at least once.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit

from ..live_server import live_server

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"


@dataclass
class Example:
    line: int
    command: str
    status: int
    captures: list[tuple[str, str]]
    shown: Any = None
    """The answer the page shows right after the command's block (a ``json`` block), if any."""


def examples(text: str) -> list[Example]:
    """The curl commands of the ``sh`` blocks, with their expected statuses and, when a
    ``json`` block follows, the answer shown for the block's last command."""
    found: list[Example] = []
    in_sh = False
    in_json: list[str] | None = None
    after_sh = False  # only blank lines since an sh block closed
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if in_json is not None:
            if line.startswith("```"):
                found[-1].shown = json.loads("\n".join(in_json))
                in_json = None
            else:
                in_json.append(line)
            continue
        if line.startswith("```"):
            if line.strip() == "```json" and after_sh:
                in_json = []
                continue
            after_sh = in_sh and line.strip() == "```"
            in_sh = line.strip() == "```sh"
            assert not current, f"docs/api.md:{start}: curl without `# → STATUS` before the fence"
            continue
        if not in_sh:
            after_sh = after_sh and not line.strip()
            continue
        status = re.fullmatch(r"# → (\d{3})", line.strip())
        capture = re.fullmatch(r"# \$(\w+) = \.(\w+)", line.strip())
        if status:
            assert current, f"docs/api.md:{number}: status without a command"
            found.append(Example(start, "\n".join(current), int(status.group(1)), []))
            current = []
        elif capture:
            assert found and found[-1].line >= start, f"docs/api.md:{number}: stray capture"
            found[-1].captures.append((capture.group(1), capture.group(2)))
        elif line.strip():
            if not current:
                start = number
                assert line.startswith("curl "), f"docs/api.md:{number}: not a curl command"
            current.append(line)
    return found


def expand(command: str, env: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in env:
            raise AssertionError(f"${name} is not set (yet) in docs/api.md")
        return env[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, command)


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


def parse_curl(command: str) -> Request:
    words = shlex.split(command.replace("\\\n", " "))
    assert words[0] == "curl", words
    method, url, headers, body = None, None, {}, None
    it = iter(words[1:])
    for word in it:
        if word == "-s":
            continue
        if word == "-X":
            method = next(it)
        elif word == "-H":
            name, _, val = next(it).partition(":")
            headers[name.strip()] = val.strip()
        elif word in ("-d", "--data-binary"):
            data = next(it)
            if word == "--data-binary" and data.startswith("@"):
                body = (ROOT / data[1:]).read_bytes()
            else:
                body = data.encode()
        elif word.startswith("-"):
            raise AssertionError(f"curl option {word} is not in the tested subset")
        else:
            assert url is None, f"two URLs: {url} and {word}"
            url = word
    assert url is not None, command
    if method is None:
        method = "POST" if body is not None else "GET"
    if body is not None and "Content-Type" not in headers:
        headers["Content-Type"] = "application/x-www-form-urlencoded"  # what curl sends
    return Request(method, url, headers, body)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`plaudit serve` over a fresh database with the keys the page's Setup creates."""
    home = tmp_path_factory.mktemp("api-docs")
    url = f"sqlite:///{(home / 'plaudit.db').as_posix()}"
    svc = Plaudit(SqlStore(url), SystemClock())
    svc.publish_rulebook((ROOT / "examples" / "sesame-style.yaml").read_text(),
                         "sesame-style.yaml", actor="cli:ops")
    access, ops = svc.access, "cli:ops"  # as `plaudit keys create` records its user
    env = {
        "ADMIN": access.create_key("admin-console", ["admin"], actor=ops).token,
        "INGEST": access.create_key("shop-backend", ["ingest"], actor=ops).token,
        "READ": access.create_key("dashboard", ["read"], actor=ops).token,
        "BACKEND": access.create_key("member-app", ["read", "ingest"], actor=ops).token,
        "RENTALS": access.create_partner_key("rentals", "city-rentals", actor=ops).token,
    }
    svc.store.close()
    with live_server(url, home) as base:
        yield {"PLAUDIT": base, **env}


def test_every_example_answers_as_documented(served: dict[str, str]) -> None:
    env = dict(served)
    found = examples(DOC.read_text(encoding="utf-8"))
    assert len(found) >= 30, "docs/api.md lost its examples"
    with httpx.Client(timeout=30) as client:
        for ex in found:
            req = parse_curl(expand(ex.command, env))
            r = client.request(req.method, req.url, headers=req.headers, content=req.body)
            assert r.status_code == ex.status, (
                f"docs/api.md:{ex.line}: expected {ex.status}, got {r.status_code}\n"
                f"{ex.command}\n→ {r.text[:500]}")
            if r.status_code >= 400:
                assert r.headers["content-type"] == "application/problem+json", ex.line
            if ex.shown is not None:
                assert shape(r.json()) == shape(ex.shown), (
                    f"docs/api.md:{ex.line}: the answer shown has other fields than the real "
                    f"one\nshown: {shape(ex.shown)}\nreal:  {shape(r.json())}")
            for name, field in ex.captures:
                env[name] = str(r.json()[field])
            if req.url.endswith("/publish"):
                _wait_for_job(client, env, r.headers["Location"])


def shape(value: Any) -> Any:
    """Field names all the way down (a list of objects by its first); values left out,
    since times, ids and tokens differ from run to run."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value and isinstance(value[0], dict | list) else []
    return None


def test_shown_answers_are_attached_to_their_commands() -> None:
    found = examples(DOC.read_text(encoding="utf-8"))
    assert sum(ex.shown is not None for ex in found) >= 10


def _wait_for_job(client: httpx.Client, env: dict[str, str], location: str) -> None:
    """The page reads the job right after publishing; let it finish so the rest of the
    page runs against the published version, as a reader following along would."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(env["PLAUDIT"] + location,
                         headers={"Authorization": f"Bearer {env['ADMIN']}"}).json()
        if job["status"] != "running":
            assert job["status"] == "succeeded", job
            return
        time.sleep(0.05)
    raise AssertionError("the publish job did not finish in 30 s")


def test_every_operation_has_an_example(served: dict[str, str]) -> None:
    spec = httpx.get(served["PLAUDIT"] + "/openapi.json").json()
    shown: set[tuple[str, str]] = set()
    for ex in examples(DOC.read_text(encoding="utf-8")):
        req = parse_curl(ex.command)
        path = req.url.split("?")[0].replace("$PLAUDIT", "")
        shown.add((req.method, path))
    missing = []
    for path, operations in spec["paths"].items():
        pattern = re.compile("^" + "[^/]+".join(re.escape(p) for p in
                                                re.split(r"\{[^/}]+\}", path)) + "$")
        for method in operations:
            if not any(m == method.upper() and pattern.match(p) for m, p in shown):
                missing.append(f"{method.upper()} {path}")
    assert not missing, f"docs/api.md has no example for: {', '.join(missing)}"
