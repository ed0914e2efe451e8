"""End-to-end benchmarks of collectorkit, each measured side by side in one run.

1. **End-to-end collection vs a bare aiohttp + orjson loop** over the same cursor-paginated pages
   served by nginx from static files (an aiohttp server in its own process when nginx is
   missing), with 500 and with 50 records per page:
   - *memory strategy*: ``collect_events`` keeping every record vs the bare loop keeping a list;
   - *SQLite sink*: ``collectorkit once`` in-process (config → job → pipeline → ``SQLiteSink``
     with records and state committed per page) vs the bare loop doing ``executemany`` + a
     state row + one commit per page.
2. **64 concurrent shards**, each page answered after 50 ms (aiohttp server in its own process):
   the ``concurrent`` strategy's wall time vs the ideal (pages per shard × 50 ms).
3. **Rate limiter**: requests/s achieved by an ``APIClient`` with ``RateLimitPolicy(50/s,
   burst 1)`` and 16 eager workers over 10 s vs the configured 50/s.
4. **``collectorkit --help`` start time** vs a bare ``python -c pass``.

Rounds alternate between contenders; rates are the best round, ratios the median of the rounds'
pairs. ``measure_all()`` returns the figures for ``bench/bench_report.py``; ``python
bench/bench_e2e.py`` prints them (about 2.5 min).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from _common import free_port, wait_for

from collectorkit import (
    APIClient,
    CollectorBlueprint,
    CollectorClient,
    CollectorRequest,
    PaginationConfig,
    RateLimitPolicy,
    RetryPolicy,
)
from collectorkit.collect import ConcurrentCollectionStrategy

ROUNDS = 5
SOURCE = "bench"
SHARDS = 64
SHARD_PAGES = 4
SHARD_LATENCY = 0.05
RATE = 50.0
RATE_SECONDS = 10.0


# --- pages ---------------------------------------------------------------------------------------


def _records(page: int, per_page: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"evt-{page:05d}-{i:04d}",
            "created_at": f"2024-05-01T12:{(page // 60) % 60:02d}:{page % 60:02d}Z",
            "severity": ("low", "medium", "high")[i % 3],
            "source": {"ip": f"10.0.{i % 256}.{page % 250}", "host": f"host-{i % 97}.example"},
            "user": {"name": f"user{i % 31}", "domain": "corp.example"},
            "message": "user login succeeded after multi-factor challenge from a known device",
            "tags": ["auth", "sso", f"t{i % 13}"],
        }
        for i in range(per_page)
    ]


def page_body(page: int, pages: int, per_page: int) -> bytes:
    cursor = f"p{page + 1}" if page + 1 < pages else None
    body = {"data": {"events": _records(page, per_page)}, "meta": {"next_cursor": cursor}}
    return orjson.dumps(body)


class StaticPages:
    """``/events?cursor=pN`` answered with the file ``pN.json``: nginx when installed, else an
    aiohttp server in its own process."""

    def __init__(
        self,
        pages: int,
        per_page: int,
        *,
        body: Callable[[int, int, int], bytes] | None = None,
        path_name: str = "events",
    ) -> None:
        self.pages, self.per_page = pages, per_page
        self._body = body or page_body
        self._path_name = path_name
        self.root = Path(tempfile.mkdtemp(prefix=f"bench-e2e-{per_page}-"))
        self.port = free_port()
        self.nginx = shutil.which("nginx") is not None
        self._proc: Any = None

    @property
    def kind(self) -> str:
        return "nginx (static files)" if self.nginx else "aiohttp (own process)"

    def start(self) -> str:
        data = self.root / "data"
        data.mkdir(parents=True)
        for page in range(self.pages):
            (data / f"p{page}.json").write_bytes(self._body(page, self.pages, self.per_page))
        if self.nginx:
            self._start_nginx(data)
        else:
            proc = multiprocessing.get_context("spawn").Process(
                target=_serve_files, args=(self.port, str(data)), daemon=True
            )
            proc.start()
            self._proc = proc
        wait_for(self.port)
        return f"http://127.0.0.1:{self.port}"

    def _start_nginx(self, data: Path) -> None:
        self.root.chmod(0o755)  # nginx workers may run as another user
        (self.root / "logs").mkdir()
        temp = " ".join(
            f"{kind}_temp_path {self.root}/tmp_{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf = self.root / "nginx.conf"
        conf.write_text(
            f"""
worker_processes 1;
error_log {self.root}/logs/error.log warn;
pid {self.root}/nginx.pid;
events {{ worker_connections 256; }}
http {{
  access_log off; sendfile on; tcp_nopush on; tcp_nodelay on; keepalive_requests 100000;
  {temp}
  map $arg_cursor $page {{ default p0; "~^p[0-9]+$" $arg_cursor; }}
  server {{
    listen 127.0.0.1:{self.port};
    default_type application/json;
    location = /{self._path_name} {{ root {data}; try_files /$page.json =404; }}
  }}
}}
"""
        )
        self._proc = subprocess.Popen(
            ["nginx", "-p", str(self.root), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if isinstance(self._proc, subprocess.Popen):
            self._proc.terminate()
            self._proc.wait(timeout=10)
        elif self._proc is not None:
            self._proc.terminate()
            self._proc.join(5)
        shutil.rmtree(self.root, ignore_errors=True)


def _serve_files(port: int, data: str) -> None:
    from aiohttp import web

    async def events(request: web.Request) -> web.Response:
        name = request.query.get("cursor", "p0")
        return web.Response(
            body=(Path(data) / f"{name}.json").read_bytes(), content_type="application/json"
        )

    app = web.Application()
    app.router.add_get("/events", events)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- 1. end-to-end collection --------------------------------------------------------------------


async def bare_pages(session: aiohttp.ClientSession, base: str) -> Any:
    cursor: str | None = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        async with session.get(f"{base}/events", params=params) as response:
            response.raise_for_status()
            body = orjson.loads(await response.read())
        cursor = body["meta"]["next_cursor"]
        yield body["data"]["events"], cursor
        if not cursor:
            return


async def bare_memory(base: str, work: Path) -> int:
    kept: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        async for events, _ in bare_pages(session, base):
            kept.extend(events)
    return len(kept)


async def bare_sqlite(base: str, work: Path) -> int:
    db = sqlite3.connect(work / "bare.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
        "source TEXT NOT NULL, data TEXT NOT NULL, stored_at REAL NOT NULL)"
    )
    db.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT)")
    count = 0
    async with aiohttp.ClientSession() as session:
        async for events, cursor in bare_pages(session, base):
            now = time.time()
            rows = [(f"{SOURCE}:{e['id']}", SOURCE, orjson.dumps(e).decode(), now) for e in events]
            db.execute("BEGIN")
            db.executemany("INSERT OR IGNORE INTO events VALUES (NULL, ?, ?, ?, ?)", rows)
            db.execute(
                "INSERT OR REPLACE INTO state VALUES (?, ?)",
                (SOURCE, orjson.dumps({"cursor": cursor}).decode()),
            )
            db.execute("COMMIT")
            count += len(events)
    db.close()
    return count


def _blueprint(base: str) -> CollectorBlueprint:
    pagination = PaginationConfig(
        mode="cursor", cursor_param="cursor", next_cursor_path="meta.next_cursor"
    )
    request = CollectorRequest(endpoint="/events", data_path="data.events", pagination=pagination)
    return CollectorBlueprint(name=SOURCE, base_url=base, request=request)


async def ours_memory(base: str, work: Path) -> int:
    client = CollectorClient(_blueprint(base))
    try:
        result = await client.collect_events()
    finally:
        await client.aclose()
    return len(result.events)


async def ours_sqlite(base: str, work: Path) -> int:
    from collectorkit.cli._once import run_once
    from collectorkit.config import load_config

    db = work / "ours.db"
    config = load_config(
        {
            "state": f"sqlite:///{db}",
            "sinks": [{"type": "sqlite", "path": str(db)}],
            "status": {"enabled": False},
            "sources": [
                {
                    "name": SOURCE,
                    "base_url": base,
                    "request": {
                        "endpoint": "/events",
                        "data_path": "data.events",
                        "pagination": {
                            "mode": "cursor",
                            "cursor_param": "cursor",
                            "next_cursor_path": "meta.next_cursor",
                        },
                    },
                }
            ],
        }
    )
    (result,) = await run_once(config)
    if result.error is not None:
        raise result.error
    return result.stats.records


Run = Callable[[str, Path], Awaitable[int]]


async def _timed(run: Run, base: str, expected: int) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-run-"))
    try:
        gc.collect()
        start = time.perf_counter()
        count = await run(base, work)
        elapsed = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if count != expected:
        raise RuntimeError(f"{run.__name__} collected {count} records, expected {expected}")
    return count / elapsed


async def end_to_end(per_page: int, records: int) -> dict[str, Any]:
    """records/s of each contender (best of the rounds) over ``records`` records."""
    server = StaticPages(records // per_page, per_page)
    base = server.start()
    contenders: dict[str, Run] = {
        "bare_memory": bare_memory,
        "ours_memory": ours_memory,
        "bare_sqlite": bare_sqlite,
        "ours_sqlite": ours_sqlite,
    }
    best = dict.fromkeys(contenders, 0.0)
    pairs: dict[str, list[float]] = {"memory": [], "sqlite": []}
    try:
        for run in contenders.values():  # warm-up: imports, page cache
            await _timed(run, base, records)
        for _ in range(ROUNDS):
            this_round = {}
            for name, run in contenders.items():
                this_round[name] = await _timed(run, base, records)
                best[name] = max(best[name], this_round[name])
            for kind, ratios in pairs.items():
                ratios.append(this_round[f"ours_{kind}"] / this_round[f"bare_{kind}"])
    finally:
        server.stop()
    # the ratio: the median of each round's pair (a lucky round of one side skews best rounds)
    ratios = {f"ratio_{kind}": statistics.median(r) for kind, r in pairs.items()}
    return {"per_page": per_page, "records": records, "server": server.kind, **best, **ratios}


# --- 2. concurrent shards ------------------------------------------------------------------------


def _serve_slow(port: int, pages: int, latency: float) -> None:
    from aiohttp import web

    async def shard(request: web.Request) -> web.Response:
        await asyncio.sleep(latency)
        name = request.query["shard"]
        page = int(request.query.get("cursor") or 0)
        events = [{"id": f"{name}-{page}-{i}", "n": i} for i in range(20)]
        cursor = str(page + 1) if page + 1 < pages else None
        body = {"data": {"events": events}, "meta": {"next_cursor": cursor}}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_get("/shard", shard)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=512)


async def concurrent_shards() -> dict[str, float]:
    port = free_port()
    proc = multiprocessing.get_context("spawn").Process(
        target=_serve_slow, args=(port, SHARD_PAGES, SHARD_LATENCY), daemon=True
    )
    proc.start()
    try:
        wait_for(port)
        pagination = PaginationConfig(
            mode="cursor", cursor_param="cursor", next_cursor_path="meta.next_cursor"
        )
        shards = [{"state_key": f"s{i}", "params": {"shard": f"s{i}"}} for i in range(SHARDS)]
        request = CollectorRequest(
            endpoint="/shard", data_path="data.events", pagination=pagination, shards=shards
        )
        blueprint = CollectorBlueprint(
            name="shards",
            base_url=f"http://127.0.0.1:{port}",
            request=request,
            concurrency=SHARDS,
            default_strategy=ConcurrentCollectionStrategy(),
        )
        walls, bare_walls = [], []
        expected = SHARDS * SHARD_PAGES * 20
        for _ in range(ROUNDS + 1):  # interleaved: collectorkit, then the bare loop
            client = CollectorClient(blueprint)
            try:
                start = time.perf_counter()
                result = await client.collect_events()
                walls.append(time.perf_counter() - start)
            finally:
                await client.aclose()
            if len(result.events) != expected:
                raise RuntimeError(f"shards collected {len(result.events)}, expected {expected}")
            start = time.perf_counter()
            got = await _bare_shards(f"http://127.0.0.1:{port}")
            bare_walls.append(time.perf_counter() - start)
            if got != expected:
                raise RuntimeError(f"bare shards collected {got}, expected {expected}")
    finally:
        proc.terminate()
        proc.join(5)
    ideal = SHARD_PAGES * SHARD_LATENCY
    wall = min(walls[1:])  # the first round warms up
    bare = min(bare_walls[1:])
    return {
        "ideal_s": ideal,
        "wall_s": wall,
        "ratio": ideal / wall,
        "bare_wall_s": bare,
        "bare_ratio": ideal / bare,
    }


async def _bare_shards(base: str) -> int:
    """The same 64 shards by hand: one aiohttp session (new connections, as the client opens
    them), one task per shard walking its cursor, orjson."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

        async def shard(name: str) -> int:
            count, cursor = 0, None
            while True:
                params = {"shard": name, **({"cursor": cursor} if cursor else {})}
                async with session.get(f"{base}/shard", params=params) as response:
                    body = orjson.loads(await response.read())
                count += len(body["data"]["events"])
                cursor = body["meta"]["next_cursor"]
                if not cursor:
                    return count

        counts = await asyncio.gather(*(shard(f"s{i}") for i in range(SHARDS)))
    return sum(counts)


# --- 3. rate limiter -----------------------------------------------------------------------------


def _serve_fast(port: int) -> None:
    from aiohttp import web

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=b'{"ok": true}', content_type="application/json")

    app = web.Application()
    app.router.add_get("/ok", ok)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def rate_limiter() -> dict[str, float]:
    port = free_port()
    proc = multiprocessing.get_context("spawn").Process(target=_serve_fast, args=(port,))
    proc.start()
    try:
        wait_for(port)
        client = APIClient(
            base_url=f"http://127.0.0.1:{port}",
            rate_limit=RateLimitPolicy(rate_per_second=RATE, burst=1),
            retry=RetryPolicy.disabled(),
        )
        stamps: list[float] = []
        try:
            await client.get("/ok")  # connect first; the bucket starts full (1 token)
            start = time.perf_counter()
            deadline = start + RATE_SECONDS

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    await client.get("/ok")
                    stamps.append(time.perf_counter())

            await asyncio.gather(*(worker() for _ in range(16)))
        finally:
            await client.aclose()
    finally:
        proc.terminate()
        proc.join(5)
    done = [t for t in stamps if t <= deadline]
    achieved = len(done) / RATE_SECONDS
    return {"configured": RATE, "achieved": achieved, "ratio": achieved / RATE}


# --- 4. start time -------------------------------------------------------------------------------


def start_time(runs: int = 7) -> dict[str, float]:
    exe = Path(sys.executable).parent / "collectorkit"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "collectorkit"]

    def median_of(argv: list[str]) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    median_of([sys.executable, "-c", "pass"])  # warm the file cache
    help_s = median_of([*command, "--help"])
    bare_s = median_of([sys.executable, "-c", "pass"])
    return {"help_s": help_s, "python_s": bare_s, "ratio": help_s / bare_s}


# --- all -----------------------------------------------------------------------------------------


async def _measure() -> dict[str, Any]:
    return {
        "e2e_500": await end_to_end(500, 100_000),
        "e2e_50": await end_to_end(50, 25_000),
        "shards": await concurrent_shards(),
        "rate": await rate_limiter(),
    }


def measure_all() -> dict[str, Any]:
    figures = asyncio.run(_measure())
    figures["start"] = start_time()
    return figures


def main() -> int:
    f = measure_all()
    for key in ("e2e_500", "e2e_50"):
        e = f[key]
        print(
            f"\n{e['records']:,} records, {e['per_page']} per page, served by {e['server']} "
            f"(records/s, best of {ROUNDS} alternating rounds; ratio: median of the rounds' pairs):"
        )
        for kind in ("memory", "sqlite"):
            ours, bare = e[f"ours_{kind}"], e[f"bare_{kind}"]
            print(
                f"  {kind:7s} collectorkit {ours:10,.0f}   bare aiohttp+orjson {bare:10,.0f}"
                f"   ratio {e[f'ratio_{kind}']:.2f}"
            )
    s, r, t = f["shards"], f["rate"], f["start"]
    print(
        f"\n{SHARDS} shards x {SHARD_PAGES} pages, {SHARD_LATENCY * 1000:.0f} ms each: wall "
        f"{s['wall_s'] * 1000:.0f} ms vs ideal {s['ideal_s'] * 1000:.0f} ms "
        f"(ideal/actual {s['ratio']:.2f})"
    )
    print(
        f"rate limiter over {RATE_SECONDS:g} s: {r['achieved']:.1f}/s achieved vs "
        f"{r['configured']:g}/s configured (ratio {r['ratio']:.3f})"
    )
    print(
        f"collectorkit --help: {t['help_s'] * 1000:.0f} ms vs python -c pass "
        f"{t['python_s'] * 1000:.0f} ms (ratio {t['ratio']:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
