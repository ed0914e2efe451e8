"""Benchmark of the collector layer, measured side by side in one run.

Over the same cursor-paginated pages (500 records of ~500 bytes each, 200,000 records) served
by nginx from static files (or, without nginx, an aiohttp server in its own process):

(a) records/s of ``collect_events`` with ``StreamCollectionStrategy`` (records handed on, not
    kept) vs a bare aiohttp + orjson loop that only counts records — goal >= 0.80;
(b) records/s of ``collect_events`` keeping every record vs the same bare loop keeping them in
    a list — goal >= 0.85;
(c) peak RSS of a 1,000,000-record stream-strategy run, measured in a fresh subprocess against
    a generated-page server, with the peak after the first 100,000 records for comparison
    (flat memory: goal <= 100 MB).

Rounds alternate between the contenders and the best round counts, to damp noise from other
processes; ratios are printed by wall clock and by the client process's CPU time (steadier on
a shared machine, since the server runs in its own process).
Run: ``python bench/bench_collect.py`` (well under two minutes).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import resource
import shutil
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
    CollectorBlueprint,
    CollectorClient,
    CollectorExecutor,
    CollectorRequest,
    CollectorState,
    PaginationConfig,
    StreamCollectionStrategy,
)

PAGE_SIZE = 500
RECORDS = 200_000
PAGES = RECORDS // PAGE_SIZE
MEMORY_RECORDS = 1_000_000
ROUNDS = 5


def _records(page: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"evt-{page:05d}-{i:04d}",
            "created_at": "2024-05-01T12:00:00.000Z",
            "severity": ("low", "medium", "high")[i % 3],
            "category": "authentication",
            "source": {"ip": f"10.0.{i % 256}.{page % 256}", "host": f"host-{i % 97}.corp.example"},
            "user": {"name": f"user{i % 500}", "domain": "CORP", "id": f"S-1-5-21-{i:06d}"},
            "message": "user login succeeded after multi-factor challenge from managed device",
            "tags": ["auth", "sso", f"t{i % 13}"],
            "score": i % 100,
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/124.0 Safari/537.36",
            "session": f"6f1c2e0a-0b6a-4d7e-8c3f-{page:06d}{i:06d}",
        }
        for i in range(PAGE_SIZE)
    ]


def _page_body(page: int, last: int) -> bytes:
    cursor = f"p{page + 1}" if page + 1 < last else None
    return orjson.dumps({"data": {"events": _records(page)}, "meta": {"next_cursor": cursor}})


# --- servers -------------------------------------------------------------------------------------


class NginxServer:
    """nginx serving ``/events?cursor=pN`` from static files (``pN.json``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        self.root.chmod(0o755)  # nginx workers may run as another user
        data = self.root / "data"
        data.mkdir()
        for page in range(PAGES):
            (data / f"p{page}.json").write_bytes(_page_body(page, PAGES))
        (self.root / "logs").mkdir()
        conf = self.root / "nginx.conf"
        conf.write_text(
            f"""
worker_processes 1;
error_log {self.root}/logs/error.log warn;
pid {self.root}/nginx.pid;
events {{ worker_connections 256; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path {self.root}/tmp_body;
  proxy_temp_path {self.root}/tmp_proxy;
  fastcgi_temp_path {self.root}/tmp_fastcgi;
  uwsgi_temp_path {self.root}/tmp_uwsgi;
  scgi_temp_path {self.root}/tmp_scgi;
  map $arg_cursor $page {{ default p0; "~^p[0-9]+$" $arg_cursor; }}
  server {{
    listen 127.0.0.1:{self.port};
    default_type application/json;
    location = /events {{
      root {data};
      try_files /$page.json =404;
    }}
  }}
}}
"""
        )
        self.process = subprocess.Popen(
            ["nginx", "-p", str(self.root), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.port)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _serve_generated(port: int, pages: int) -> None:
    """Pages generated from one block of records: cheap to serve a million records. Each
    page's ids carry its number (a walk whose pages bring no new id stops: NO_NEW_KEYS)."""
    from aiohttp import web

    block = orjson.dumps(_records(0))
    prefix = b'{"data":{"events":' + block + b'},"meta":{"next_cursor":'

    async def handle(request: web.Request) -> web.Response:
        cursor = request.query.get("cursor", "p0")
        page = int(cursor[1:])
        nxt = b'"p%d"' % (page + 1) if page + 1 < pages else b"null"
        body = prefix.replace(b'"evt-00000-', b'"evt-%05d-' % page) + nxt + b"}}"
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/events", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


class GeneratedServer:
    def __init__(self, pages: int) -> None:
        self.port = free_port()
        self.process = multiprocessing.Process(
            target=_serve_generated, args=(self.port, pages), daemon=True
        )

    def start(self) -> str:
        self.process.start()
        wait_for(self.port)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(timeout=10)


# --- contenders ----------------------------------------------------------------------------------


def _blueprint(base: str) -> CollectorBlueprint:
    pagination = PaginationConfig(
        mode="cursor", cursor_param="cursor", next_cursor_path="meta.next_cursor"
    )
    request = CollectorRequest(endpoint="/events", data_path="data.events", pagination=pagination)
    return CollectorBlueprint(name="bench", base_url=base, request=request)


async def bare_loop(session: aiohttp.ClientSession, base: str, keep: bool) -> int:
    kept: list[dict[str, Any]] = []
    count = 0
    cursor: str | None = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        async with session.get(f"{base}/events", params=params) as response:
            response.raise_for_status()
            body = orjson.loads(await response.read())
        events = body["data"]["events"]
        if keep:
            kept.extend(events)
        else:
            count += len(events)
        cursor = body["meta"]["next_cursor"]
        if not cursor:
            return len(kept) if keep else count


async def collector_stream(client: CollectorClient) -> int:
    counted = 0

    def count(events: list[dict[str, Any]], state: CollectorState) -> None:
        nonlocal counted
        counted += len(events)

    client.executor = CollectorExecutor(on_batch=count)
    await client.collect_events(strategy=StreamCollectionStrategy())
    return counted


async def collector_keep(client: CollectorClient) -> int:
    client.executor = None
    result = await client.collect_events()
    return len(result.events)


async def _timed(run: Callable[[], Awaitable[int]]) -> tuple[float, float]:
    """Records per wall-clock second and per second of this process's CPU."""
    gc.collect()  # every contender starts from the same heap
    start, cpu = time.perf_counter(), time.process_time()
    count = await run()
    elapsed, used = time.perf_counter() - start, time.process_time() - cpu
    if count != RECORDS:
        raise RuntimeError(f"collected {count} records, expected {RECORDS}")
    return count / elapsed, count / max(used, 1e-9)


async def throughput(base: str) -> tuple[dict[str, float], dict[str, float]]:
    session = aiohttp.ClientSession()
    client = CollectorClient(_blueprint(base))
    contenders: dict[str, Callable[[], Awaitable[int]]] = {
        "bare aiohttp+orjson, counting": lambda: bare_loop(session, base, keep=False),
        "collect_events, stream strategy": lambda: collector_stream(client),
        "bare aiohttp+orjson, keeping list": lambda: bare_loop(session, base, keep=True),
        "collect_events, keeping records": lambda: collector_keep(client),
    }
    best = dict.fromkeys(contenders, 0.0)
    best_cpu = dict.fromkeys(contenders, 0.0)
    try:
        for run in contenders.values():  # warm-up: pools, caches, page cache
            await run()
        for _ in range(ROUNDS):
            for name, run in contenders.items():
                wall, cpu = await _timed(run)
                best[name] = max(best[name], wall)
                best_cpu[name] = max(best_cpu[name], cpu)
    finally:
        await session.close()
        await client.aclose()
    return best, best_cpu


# --- memory (child process) ----------------------------------------------------------------------


def _rss_mb() -> float:
    """Peak resident set size of this process (VmHWM: unlike ru_maxrss, not inherited from
    the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _memory_child(base: str) -> None:
    seen = 0
    at_100k = 0.0

    def count(events: list[dict[str, Any]], state: CollectorState) -> None:
        nonlocal seen, at_100k
        seen += len(events)
        if not at_100k and seen >= 100_000:
            at_100k = _rss_mb()

    before = _rss_mb()
    client = CollectorClient(_blueprint(base), executor=CollectorExecutor(on_batch=count))
    async with client:
        result = await client.collect_events(strategy=StreamCollectionStrategy())
    assert seen == MEMORY_RECORDS, seen
    print(
        orjson.dumps(
            {
                "before": before,
                "at_100k": at_100k,
                "peak": _rss_mb(),
                "records": seen,
                "pages": result.metrics.pages,
            }
        ).decode()
    )


def memory_run() -> dict[str, float]:
    server = GeneratedServer(MEMORY_RECORDS // PAGE_SIZE)
    base = server.start()
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--memory-child", base],
            capture_output=True,
            text=True,
            timeout=110,
            check=True,
        )
    finally:
        server.stop()
    figures: dict[str, float] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return figures


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    server: NginxServer | GeneratedServer
    server = NginxServer(tmp) if shutil.which("nginx") else GeneratedServer(PAGES)
    kind = "nginx (static files)" if isinstance(server, NginxServer) else "aiohttp (own process)"
    base = server.start()
    try:
        best, best_cpu = asyncio.run(throughput(base))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    memory = memory_run()

    record_bytes = len(_page_body(0, PAGES)) / PAGE_SIZE
    print(
        f"\n{RECORDS:,} records, {PAGE_SIZE} per page (~{record_bytes:.0f} B each), "
        f"served by {kind}; best of {ROUNDS} alternating rounds:"
    )
    print(f"  {'':<36} {'records/s':>12} {'records/CPU-s':>14}")
    for name, value in best.items():
        print(f"  {name:<36} {value:12,.0f} {best_cpu[name]:14,.0f}")
    for label, table in (("wall clock", best), ("client CPU", best_cpu)):
        stream = table["collect_events, stream strategy"] / table["bare aiohttp+orjson, counting"]
        keep = table["collect_events, keeping records"] / table["bare aiohttp+orjson, keeping list"]
        print(f"  by {label}:")
        print(f"    (a) stream strategy / bare counting loop:       {stream:.2f}  (goal >= 0.80)")
        print(f"    (b) collect_events keeping / bare keeping loop: {keep:.2f}  (goal >= 0.85)")
    print(
        f"\n{MEMORY_RECORDS:,}-record stream-strategy run ({memory['pages']:.0f} pages), "
        "peak RSS of the collecting process:"
    )
    print(
        f"  after imports: {memory['before']:.1f} MB; after 100,000 records: "
        f"{memory['at_100k']:.1f} MB; after 1,000,000: {memory['peak']:.1f} MB  (goal <= 100 MB)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory-child":
        asyncio.run(_memory_child(sys.argv[2]))
    else:
        main()
