"""Web pages benchmark: each portal and console page against the JSON read it is built on.

    python bench/web.py [--members 300] [--days 365] [--requests 200]

Builds the demo program (seeded), serves it with uvicorn on loopback in this process and
requests, over one keep-alive HTTP connection, each page and, as the same-run baseline,
``GET /v1/members/{id}`` (the JSON state a portal page starts from) for the same member.
Prints requests/s, p50 and p99 per page and the ratio of the page's median to the JSON
read's: what server-side rendering adds on top of the use case. Pages re-read the member
each time (nothing is cached per page), so the ratio is the honest cost of a click.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ is first on sys.path when this runs, where bench/http.py shadows the standard
# library's `http` that httpx and uvicorn import.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import statistics
import tempfile
import time

import httpx

from plaudit.adapters.clock import SystemClock
from plaudit.adapters.sql.store import SqlStore
from plaudit.application.service import Plaudit
from plaudit.demo import build, links, serving

ROOT = Path(__file__).resolve().parents[1]
PORTAL = ["", "/score", "/points", "/perks", "/play", "/leaderboards", "/rewards", "/data"]
CONSOLE = ["", "/rulebooks", "/disputes", "/audit", "/keys"]


def _time(client: httpx.Client, url: str, n: int, **kw: object) -> list[float]:
    client.get(url, **kw)  # type: ignore[arg-type]  # warm: templates compiled, fold cached
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(url, **kw)  # type: ignore[arg-type]
        out.append(time.perf_counter() - t)
        assert r.status_code == 200, (url, r.status_code)
    return out


def _row(name: str, times: list[float], base: float | None) -> str:
    p50 = statistics.median(times)
    p99 = sorted(times)[max(0, int(len(times) * 0.99) - 1)]
    ratio = f"{p50 / base:5.2f}×" if base else "  1.00× (baseline)"
    return f"{name:<28} {len(times) / sum(times):8.0f}/s  p50 {p50 * 1e3:6.2f} ms  " \
           f"p99 {p99 * 1e3:6.2f} ms  {ratio}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{Path(tmp) / 'plaudit.db'}")
        svc = Plaudit(store, SystemClock())
        played = build(svc, (ROOT / "examples" / "sesame-style.yaml").read_text(),
                       args.members, args.days, actor="bench")
        demo = links(svc, played, actor="bench")
        with serving(svc) as base:
            n = args.requests
            with httpx.Client(base_url=base) as client:
                json_read = _time(client, f"/v1/members/{demo.member}", n,
                                  headers={"Authorization": f"Bearer {demo.member_token}"})
                floor = statistics.median(json_read)
                print(f"member {demo.member}, {args.members} members, {n} requests each, "
                      "one connection\n")
                print(_row("GET /v1/members/{id}", json_read, None))
                client.get(f"/portal/signin?token={demo.member_token}")
                for sub in PORTAL:
                    print(_row(f"/portal{sub}", _time(client, f"/portal{sub}", n), floor))
            with httpx.Client(base_url=base) as client:
                client.get(f"/console/signin?token={demo.operator_key}")
                for sub in CONSOLE:
                    print(_row(f"/console{sub}", _time(client, f"/console{sub}", n), floor))
                print(_row(f"/console/members/{demo.member}",
                           _time(client, f"/console/members/{demo.member}", n), floor))
        store.close()


if __name__ == "__main__":
    main()
