"""Benchmark of the HTTP layer, measured side by side in one run.

1. requests/s of ``APIClient`` with every policy enabled (bearer auth, retry, token bucket,
   circuit breaker, redirects, metrics) vs a bare aiohttp + orjson loop over the same local
   server (goal: ratio >= 0.90), for both transports, plus bare httpx vs bare aiohttp;
2. client CPU per page for a ~250 KB JSON page: APIClient vs a bare aiohttp + orjson loop.

The server runs in a separate process so that it does not share the client's event loop.
Rounds alternate between the contenders and the best round counts, to damp noise from
other processes. Run: ``python bench/bench_http.py`` (about a minute).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx2
import orjson
from _common import free_port, wait_for

from collectorkit import (
    AiohttpTransport,
    APIClient,
    BearerTokenAuthHandler,
    CircuitBreakerPolicy,
    HttpxTransport,
    RateLimitPolicy,
    RetryPolicy,
    TimeoutSettings,
)

SMALL_REQUESTS = 1500
CONCURRENCY = 16
PAGES = 60
ROUNDS = 7
TOKEN = "bench-token-123456"


def _page() -> bytes:
    events = [
        {
            "id": f"evt-{i:06d}",
            "created_at": "2024-05-01T12:00:00Z",
            "severity": ["low", "medium", "high"][i % 3],
            "source": {"ip": f"10.0.{i % 256}.{i % 200}", "host": f"host-{i % 97}.corp.example"},
            "message": "user login succeeded after multi-factor challenge " * 2,
            "tags": ["auth", "sso", f"t{i % 13}"],
        }
        for i in range(930)
    ]
    return orjson.dumps({"data": {"events": events}, "meta": {"next_cursor": "c-2"}})


def _serve(port: int) -> None:
    from aiohttp import web

    small = orjson.dumps({"data": {"events": [{"id": 1, "msg": "ok"}]}, "meta": {}})
    page = _page()

    async def handle_small(_: web.Request) -> web.Response:
        return web.Response(body=small, content_type="application/json")

    async def handle_page(_: web.Request) -> web.Response:
        return web.Response(body=page, content_type="application/json")

    app = web.Application()
    app.router.add_get("/small", handle_small)
    app.router.add_get("/page", handle_page)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


Fetch = Callable[[str], Awaitable[object]]


async def _run(fetch: Fetch, url: str, total: int, concurrency: int) -> tuple[float, float]:
    """Requests per second, and client CPU microseconds per request, for ``total`` GETs with
    ``concurrency`` workers."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await fetch(url)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
    return total / elapsed, cpu_used / total * 1e6


def _full_client(base: str, transport: object) -> APIClient:
    return APIClient(
        base_url=base,
        auth=BearerTokenAuthHandler(TOKEN),
        retry=RetryPolicy(max_attempts=3),
        rate_limit=RateLimitPolicy(rate_per_second=1_000_000, burst=1000),
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=5),
        timeout=TimeoutSettings(connect=5, read=30),
        transport=transport,  # type: ignore[arg-type]
        name="bench",
    )


async def _contenders(base: str) -> tuple[dict[str, Fetch], list[Callable[[], Awaitable[None]]]]:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
    httpx_client = httpx2.AsyncClient(
        limits=httpx2.Limits(max_connections=100, max_keepalive_connections=20)
    )
    aiohttp_transport, httpx_transport = AiohttpTransport(), HttpxTransport()
    via_aiohttp = _full_client(base, aiohttp_transport)
    via_httpx = _full_client(base, httpx_transport)
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}

    async def bare_aiohttp(url: str) -> object:
        async with session.get(url, headers=headers) as response:
            return orjson.loads(await response.read())

    async def bare_httpx(url: str) -> object:
        return orjson.loads((await httpx_client.get(url, headers=headers)).content)

    async def apiclient_aiohttp(url: str) -> object:
        return (await via_aiohttp.get(url)).json()

    plain_transport = AiohttpTransport()
    plain = APIClient(base_url=base, retry=RetryPolicy.disabled(), transport=plain_transport)

    async def apiclient_plain(url: str) -> object:
        return (await plain.get(url)).json()

    async def apiclient_httpx(url: str) -> object:
        return (await via_httpx.get(url)).json()

    fetchers: dict[str, Fetch] = {
        "bare aiohttp+orjson": bare_aiohttp,
        "APIClient (aiohttp)": apiclient_aiohttp,
        "APIClient, no policies": apiclient_plain,
        "bare httpx2+orjson": bare_httpx,
        "APIClient (httpx2)": apiclient_httpx,
    }
    closers = [
        session.close,
        httpx_client.aclose,
        aiohttp_transport.aclose,
        httpx_transport.aclose,
        plain_transport.aclose,
    ]
    return fetchers, closers


Round = dict[str, tuple[float, float]]  # contender -> (requests/s, CPU us/request)


async def _throughput(base: str, fetchers: dict[str, Fetch]) -> list[Round]:
    """Each round runs every contender once, in turn, so paired ratios see the same load."""
    url = f"{base}/small"
    for fetch in fetchers.values():  # warm-up: open the pools
        await _run(fetch, url, 100, CONCURRENCY)
    rounds: list[Round] = []
    for _ in range(ROUNDS):
        this_round: Round = {}
        for name, fetch in fetchers.items():
            this_round[name] = await _run(fetch, url, SMALL_REQUESTS, CONCURRENCY)
        rounds.append(this_round)
    return rounds


def _paired(rounds: list[Round], top: str, bottom: str) -> tuple[float, float]:
    """Median over rounds of top/bottom requests/s, and of bottom/top CPU per request."""
    rps = statistics.median(r[top][0] / r[bottom][0] for r in rounds)
    cpu = statistics.median(r[bottom][1] / r[top][1] for r in rounds)
    return rps, cpu


async def _cpu_per_page(base: str, fetchers: dict[str, Fetch]) -> dict[str, float]:
    url = f"{base}/page"
    chosen = {
        k: fetchers[k] for k in ("bare aiohttp+orjson", "APIClient (aiohttp)", "APIClient (httpx2)")
    }
    samples: dict[str, list[float]] = {name: [] for name in chosen}
    for fetch in chosen.values():
        await fetch(url)
    for _ in range(ROUNDS):
        for name, fetch in chosen.items():
            start = time.process_time()
            for _ in range(PAGES):
                await fetch(url)
            samples[name].append((time.process_time() - start) / PAGES * 1000)
    return {name: min(values) for name, values in samples.items()}


async def _main(base: str) -> None:
    fetchers, closers = await _contenders(base)
    try:
        rounds = await _throughput(base, fetchers)
        cpu = await _cpu_per_page(base, fetchers)
    finally:
        for close in closers:
            await close()
    _report(rounds, cpu)


def _report(rounds: list[Round], cpu: dict[str, float]) -> None:
    print(
        f"\nsmall JSON GETs, {CONCURRENCY} concurrent, "
        f"{ROUNDS} alternating rounds x {SMALL_REQUESTS} (medians):"
    )
    print(f"  {'':24} {'req/s':>8} {'CPU us/req':>11}")
    for name in rounds[0]:
        rps = statistics.median(r[name][0] for r in rounds)
        us = statistics.median(r[name][1] for r in rounds)
        print(f"  {name:<24} {rps:8.0f} {us:11.1f}")
    print("  paired ratios (median of rounds)                     req/s   CPU-bound")
    pairs = [
        (
            "APIClient all policies / bare aiohttp+orjson",
            "APIClient (aiohttp)",
            "bare aiohttp+orjson",
        ),
        (
            "APIClient all policies / APIClient no policies",
            "APIClient (aiohttp)",
            "APIClient, no policies",
        ),
        ("APIClient all policies / bare, on httpx2", "APIClient (httpx2)", "bare httpx2+orjson"),
        ("APIClient on aiohttp / APIClient on httpx2", "APIClient (aiohttp)", "APIClient (httpx2)"),
    ]
    for label, top, bottom in pairs:
        rps, cpu_ratio = _paired(rounds, top, bottom)
        print(f"  {label:<52} {rps:5.2f}   {cpu_ratio:5.2f}")
    print("  (goal for the first two: >= 0.90)")
    page_kb = len(_page()) / 1024
    print(f"\nclient CPU ms per {page_kb:.0f} KB JSON page (best of {ROUNDS} x {PAGES}):")
    for name, value in cpu.items():
        print(f"  {name:<24} {value:7.2f}")
    overhead = cpu["APIClient (aiohttp)"] / cpu["bare aiohttp+orjson"]
    print(f"  ratio APIClient(aiohttp) / bare aiohttp+orjson: {overhead:.2f}  (1.00 = no overhead)")
    print(
        f"  ratio APIClient(httpx2) / APIClient(aiohttp):   "
        f"{cpu['APIClient (httpx2)'] / cpu['APIClient (aiohttp)']:.2f}"
    )


def main() -> int:
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        wait_for(port)
        asyncio.run(_main(f"http://127.0.0.1:{port}"))
    finally:
        server.terminate()
        server.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
