"""HTTP benchmark: ``plaudit serve`` against a bare Starlette endpoint, in the same run.

    python bench/http.py                       # needs wrk: apt-get install wrk
    python bench/http.py --duration 20 --connections 32 --profile single

1. builds a fresh SQLite database with the sesame-style rulebook, an ingest key and a read
   key, then starts ``plaudit serve`` (one uvicorn worker) on loopback;
2. starts, the same way, a bare Starlette app (uvicorn, one worker) whose ``POST
   /v1/events`` parses the same JSON with orjson, counts the events and answers with a
   small JSON body, and whose ``GET /v1/members/{id}`` returns a fixed document: the floor
   for "HTTP + JSON in Python on this machine";
3. drives both with wrk (one thread, Lua scripts that give every event a unique id, a
   member among ``--members`` and a time that only moves forward) for: single events,
   batches of 100, and member reads (``GET /v1/members/{id}`` of members written in the
   ingest runs);
4. prints req/s, events/s, p50/p99 latency for each, the ratio to the bare endpoint, and
   whether the issue's targets were met.

wrk and the servers share the machine's two cores, as a loopback benchmark must; the bare
endpoint pays the same, which is why the ratio is the figure to compare between machines.
``--profile RUN`` samples the plaudit server with py-spy (``pip install py-spy``) during
that run (single, batch or read) and prints the functions where it spends its own time.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is bench/http.py, as the issue names it. Python puts bench/ first on sys.path,
# where this module would shadow the standard library's `http` that httpx and uvicorn import.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import collections
import os
import re
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass

import httpx

ROOT = Path(__file__).resolve().parents[1]

TARGETS = {"single": (2000.0, 25.0), "batch": 30000.0, "read_p99": 5.0}

BARE_APP = '''
import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

DOC = orjson.dumps({"member": "m", "points": {"balance": 0}, "score": {"value": 600}})


async def events(request):
    data = orjson.loads(await request.body())
    items = data["events"] if isinstance(data, dict) and "events" in data else [data]
    out = {"stored": len(items), "duplicates": 0,
           "items": [{"index": i, "id": e["id"], "member": e["member"], "status": "stored"}
                     for i, e in enumerate(items)]}
    return Response(orjson.dumps(out), status_code=201, media_type="application/json")


async def member(request):
    return Response(DOC, media_type="application/json")


app = Starlette(routes=[Route("/v1/events", events, methods=["POST"]),
                        Route("/v1/members/{member_id}", member)])
'''

# One wrk thread, one Lua state: `n` counts requests, so ids never repeat within a run;
# `run` keeps them unique across runs against the same database.
INGEST_LUA = r'''
local n = 0
local run = "{run}"
local batch = {batch}
local members = {members}
local base = {base}  -- each event one second after the last, all in the past
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local function event(k)
  local t = base + {offset} + k
  return string.format('{{"id":"%s-%d","member":"m-%d","type":"purchase",' ..
    '"at":"%s","attributes":{{"amount":"%d.50","category":"books","order_id":"o-%s-%d"}}}}',
    run, k, k % members, os.date("!%Y-%m-%dT%H:%M:%SZ", t), 10 + k % 90, run, k)
end
request = function()
  local parts = {{}}
  for i = 1, batch do
    n = n + 1
    parts[i] = event(n)
  end
  local body = parts[1]
  if batch > 1 then body = '{{"events":[' .. table.concat(parts, ",") .. ']}}' end
  return wrk.format(nil, "/v1/events", nil, body)
end
'''

READ_LUA = r'''
local n = 0
wrk.headers["Authorization"] = "Bearer {token}"
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/members/m-" .. ((n * 7919) % {members}))
end
'''


@dataclass
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see its output above")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not answer within {seconds:.0f} s")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> Result:
    def latency(pct: str) -> float:
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        if not m:
            raise SystemExit(f"could not read the {pct}% latency from wrk:\n{out}")
        return _ms(m.group(1), m.group(2))

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    if not rps or not total:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    return Result(float(rps.group(1)), latency("50"), latency("99"), errors,
                  int(total.group(1)))


def wrk(url: str, script: str, seconds: int, connections: int, workdir: Path) -> Result:
    lua = workdir / f"s{time.monotonic_ns()}.lua"
    lua.write_text(script)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
           "-s", str(lua), url]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return parse_wrk(out)


class Runs:
    """Numbers each run's ids and times so that no two runs ever send the same event.

    Times start 100 days ago and move one second per event; each run starts 1,000,000
    seconds after the previous one, so no event is ever late (a late event re-folds its
    member from the database, a different and slower path) and none is in the future.
    """

    def __init__(self, members: int) -> None:
        self.members = members
        self.count = 0
        self.base = int(time.time()) - 100 * 86400
        self.offset = 0

    def ingest(self, token: str, batch: int) -> str:
        self.count += 1
        self.offset += 1_000_000
        return INGEST_LUA.format(run=f"r{self.count}", batch=batch, members=self.members,
                                 token=token, base=self.base, offset=self.offset)


def prepare_database(db: Path) -> tuple[str, str]:
    from plaudit.adapters.clock import SystemClock
    from plaudit.adapters.sql.store import SqlStore
    from plaudit.application.service import Plaudit

    svc = Plaudit(SqlStore(f"sqlite:///{db}"), SystemClock())
    svc.publish_rulebook((ROOT / "examples" / "sesame-style.yaml").read_text(),
                         "sesame-style.yaml", actor="bench")
    ingest = svc.access.create_key("bench-ingest", ["ingest"], actor="bench").token
    read = svc.access.create_key("bench-read", ["read"], actor="bench").token
    svc.store.close()
    return ingest, read


def start(cmd: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    wait_up(url, proc)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def profile(pid: int, seconds: int, workdir: Path) -> subprocess.Popen[bytes] | None:
    if shutil.which("py-spy") is None:
        print("  (--profile needs py-spy: pip install py-spy)")
        return None
    return subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--duration", str(seconds),
                             "--format", "raw", "--rate", "200", "--nonblocking",
                             "--output", str(workdir / "profile.txt")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_profile(path: Path, top: int = 25) -> None:
    """Own and inclusive time per function from py-spy's collapsed stacks, idle waits
    left out."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():  # py-spy's notes, e.g. a failed sample
            continue
        # "func (/venv/…/site-packages/pkg/mod.py:123)" or "func (pkg/mod.py:123)" ->
        # "func (pkg/mod.py)": one entry per function, whatever the line
        frames = [re.sub(r" \((?:.*/(?:site-packages|src)/|.*/python3\.\d+/)?(.*?)(?::\d+)?\)$",
                         r" (\1)", f) for f in stack.split(";")]
        if any(w in frames[-1] for w in IDLE):
            continue
        n = int(count)
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
        total += n
    print(f"\n  where the plaudit server spends its time ({total} busy samples)")
    print("  own time:")
    for name, count in own.most_common(top):
        print(f"    {100 * count / total:5.1f} %  {name}")
    print("  inclusive time (plaudit's own code):")
    ours = [(k, v) for k, v in inclusive.items() if "plaudit/" in k]
    for name, count in sorted(ours, key=lambda kv: -kv[1])[:top]:
        print(f"    {100 * count / total:5.1f} %  {name}")


IDLE = ("wait (threading", "select (selectors", "_worker (concurrent", "run_forever", "poll (",
        "_run_once (asyncio")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per run")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--members", type=int, default=1000)
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers for plaudit")
    p.add_argument("--fold-workers", type=int, default=0,
                   help="fold processes per plaudit worker (PLAUDIT_SERVE_FOLD_WORKERS)")
    p.add_argument("--profile", choices=["single", "batch", "read", "read1"],
                   help="sample the plaudit server with py-spy during this run")
    p.add_argument("--keep", type=Path, help="copy the plaudit database here afterwards")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/http.py needs wrk: apt-get install wrk")

    with tempfile.TemporaryDirectory(prefix="plaudit-http-") as tmp:
        work = Path(tmp)
        db = work / "bench.db"
        ingest_token, read_token = prepare_database(db)
        env = {**os.environ, "PLAUDIT_DATABASE_URL": f"sqlite:///{db}"}
        bare_py = work / "bare_app.py"
        bare_py.write_text(textwrap.dedent(BARE_APP))
        plaudit_port, bare_port = free_port(), free_port()
        plaudit_url, bare_url = (f"http://127.0.0.1:{plaudit_port}",
                                 f"http://127.0.0.1:{bare_port}")
        servers = {
            "plaudit": start([sys.executable, "-m", "plaudit", "serve", "--port",
                              str(plaudit_port), "--workers", str(args.workers), "--log-level",
                              "warning", "--fold-workers", str(args.fold_workers)],
                             env, plaudit_url + "/healthz"),
            "bare": start([sys.executable, "-m", "uvicorn", "--app-dir", str(work),
                           "bare_app:app", "--port", str(bare_port), "--workers", "1",
                           "--log-level", "warning", "--no-server-header"],
                          env, bare_url + "/v1/members/x"),
        }
        runs = Runs(args.members)
        results: dict[tuple[str, str], Result] = {}
        try:
            # Warm up both (imports, the rulebook cache, the fold cache of every member).
            for url in (plaudit_url, bare_url):
                wrk(url, runs.ingest(ingest_token, 100), 3, args.connections, work)
            for name, batch in (("single", 1), ("batch", 100)):
                for server, url in (("bare", bare_url), ("plaudit", plaudit_url)):
                    spy = (profile(servers["plaudit"].pid, args.duration, work)
                           if args.profile == name and server == "plaudit" else None)
                    results[(name, server)] = wrk(url, runs.ingest(ingest_token, batch),
                                                  args.duration, args.connections, work)
                    if spy is not None:
                        spy.wait()
            read = READ_LUA.format(token=read_token, members=args.members)
            for name, connections in (("read", args.connections), ("read1", 1)):
                for server, url in (("bare", bare_url), ("plaudit", plaudit_url)):
                    spy = (profile(servers["plaudit"].pid, args.duration, work)
                           if args.profile == name and server == "plaudit" else None)
                    results[(name, server)] = wrk(url, read, args.duration, connections, work)
                    if spy is not None:
                        spy.wait()
        finally:
            for proc in servers.values():
                stop(proc)
        if args.keep:
            shutil.copy(db, args.keep)
        report(results, args)
        if args.profile and (work / "profile.txt").exists():
            print_profile(work / "profile.txt")


def report(results: dict[tuple[str, str], Result], args: argparse.Namespace) -> None:
    per = {"single": 1, "batch": 100, "read": 0, "read1": 0}
    labels = {"single": "event ×1", "batch": "events ×100", "read": "member read",
              "read1": "read, 1 client"}
    print(f"\nwrk: 1 thread, {args.connections} connections (reads also with 1), "
          f"{args.duration} s per run; SQLite; uvicorn workers: plaudit {args.workers} "
          f"(fold workers {args.fold_workers}), "
          f"bare 1; {os.cpu_count()} cores shared with wrk\n")
    print(f"{'run':<16}{'server':<9}{'req/s':>9}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}{'vs bare':>9}")
    for name in per:
        bare = results[(name, "bare")]
        for server in ("bare", "plaudit"):
            r = results[(name, server)]
            events = f"{r.requests_per_s * per[name]:,.0f}" if per[name] else "-"
            ratio = f"{100 * r.requests_per_s / bare.requests_per_s:.1f} %" \
                if server == "plaudit" else ""
            print(f"{labels[name]:<16}{server:<9}{r.requests_per_s:>9,.0f}{events:>10}"
                  f"{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}{ratio:>9}")
    single, batch, read, read1 = (results[(n, "plaudit")] for n in per)
    rps, p99 = TARGETS["single"]
    checks = [
        (f"single event ≥ {rps:,.0f} req/s with p99 ≤ {p99:.0f} ms",
         single.requests_per_s >= rps and single.p99_ms <= p99,
         f"{single.requests_per_s:,.0f} req/s, p99 {single.p99_ms:.1f} ms"),
        (f"batch of 100 ≥ {TARGETS['batch']:,.0f} events/s",
         batch.requests_per_s * 100 >= TARGETS["batch"],
         f"{batch.requests_per_s * 100:,.0f} events/s"),
    ] + [
        (f"member read p99 ≤ {TARGETS['read_p99']:.0f} ms ({n} connection{'s' * (n > 1)})",
         r.p99_ms <= TARGETS["read_p99"], f"p99 {r.p99_ms:.2f} ms")
        for n, r in ((args.connections, read), (1, read1))
    ]
    print()
    for what, met, got in checks:
        print(f"  {'MET   ' if met else 'MISSED'}  {what}: {got}")
    if any(r.errors for r in results.values()):
        raise SystemExit("some requests failed: the figures above are not valid")


if __name__ == "__main__":
    main()
