"""Watermark PUT+GET round trips per second through the storage service: SQLite vs PostgreSQL.

    python bench/bench_service.py

Starts its own PostgreSQL (throwaway, from the machine's binaries, as in the tests) and, for each
back-end, the storage service in a separate process (``collectorkit.service.serve``) on
127.0.0.1. A round trip is one ``update_watermark`` (PUT) and one ``get_watermark`` (GET) with
``StorageServiceClient``. Measured with 1 client and with 8 concurrent clients, and the same work
against the store directly (``WatermarkManager``, no HTTP) for the cost of the service hop.
Bounded: about 2 seconds per measurement, well under 2 minutes in all.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collectorkit.state import StorageServiceClient, WatermarkManager, open_state_store

ROOT = Path(__file__).resolve().parents[1]

SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))
CLIENTS = 8
T0 = datetime(2024, 1, 1, tzinfo=UTC)

RoundTrip = Callable[[str, int], Awaitable[None]]


async def measure(round_trip: RoundTrip, clients: int) -> float:
    """Round trips per second with ``clients`` concurrent loops, each on its own source."""
    deadline = time.perf_counter() + SECONDS
    counts = [0] * clients

    async def loop(n: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            i += 1
            await round_trip(f"bench-{n}", i)
        counts[n] = i

    started = time.perf_counter()
    await asyncio.gather(*(loop(n) for n in range(clients)))
    return sum(counts) / (time.perf_counter() - started)


def via_client(client: StorageServiceClient) -> RoundTrip:
    async def round_trip(source: str, i: int) -> None:
        await client.update_watermark(source, T0 + timedelta(seconds=i), "success", None)
        record = await client.get_watermark(source)
        assert record is not None

    return round_trip


def via_manager(manager: WatermarkManager) -> RoundTrip:
    async def round_trip(source: str, i: int) -> None:
        await manager.update_watermark(source, T0 + timedelta(seconds=i), "success")
        record = await manager.get_watermark(source)
        assert record is not None

    return round_trip


def start_service(store_url: str) -> tuple[subprocess.Popen[bytes], str]:
    from tests._servers import free_port

    port = free_port()
    code = f"from collectorkit.service import serve; serve('127.0.0.1', {port}, {store_url!r})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    return process, f"http://127.0.0.1:{port}"


async def wait_healthy(client: StorageServiceClient, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not await client.health_check():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("storage service did not start")
        await asyncio.sleep(0.05)


async def bench_backend(name: str, store_url: str) -> dict[str, float]:
    results: dict[str, float] = {}
    process, base_url = start_service(store_url)
    try:
        client = StorageServiceClient(base_url, timeout=30)
        await wait_healthy(client, process)
        await measure(via_client(client), 1)  # warm-up (connections, tables, JIT-free paths)
        results["service, 1 client"] = await measure(via_client(client), 1)
        results[f"service, {CLIENTS} clients"] = await measure(via_client(client), CLIENTS)
        await client.aclose()
    finally:
        process.terminate()
        process.wait(timeout=15)
    store = await open_state_store(store_url)
    manager = WatermarkManager(store)
    results["direct store, 1 client"] = await measure(via_manager(manager), 1)
    results[f"direct store, {CLIENTS} clients"] = await measure(via_manager(manager), CLIENTS)
    await store.aclose()
    return results


async def main() -> None:
    sys.path.insert(0, str(ROOT))  # the tests' server helpers (throwaway PostgreSQL)
    from tests._servers import MissingServerError, start_postgres

    table: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        table["SQLite"] = await bench_backend("SQLite", f"sqlite:///{tmp}/storage.db")
    try:
        postgres = start_postgres()
    except MissingServerError as exc:
        print(f"PostgreSQL skipped: {exc}")
    else:
        try:
            table["PostgreSQL"] = await bench_backend("PostgreSQL", postgres.url)
        finally:
            postgres.stop()

    rows = list(next(iter(table.values())))
    print(f"\nwatermark PUT+GET round trips per second ({SECONDS:g} s each)")
    print(f"{'':28}" + "".join(f"{name:>14}" for name in table))
    for row in rows:
        print(f"{row:28}" + "".join(f"{table[name][row]:>14.0f}" for name in table))
    for name, figures in table.items():
        for clients in ("1 client", f"{CLIENTS} clients"):
            hop = figures[f"direct store, {clients}"] / figures[f"service, {clients}"]
            print(f"{name}: direct store / service ({clients}) = {hop:.2f}x")
    if "PostgreSQL" in table:
        for row in rows:
            ratio = table["PostgreSQL"][row] / table["SQLite"][row]
            print(f"PostgreSQL / SQLite, {row}: {ratio:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
