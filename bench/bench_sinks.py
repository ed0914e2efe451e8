"""Benchmark of delivery into sinks, measured side by side in one run.

A whole collection (``CollectorClient.iter_pages`` → ``deliver`` → sink, with the per-page
checkpoint) over the same cursor-paginated pages (100 pages × 500 records of ~450 bytes,
distinct ids, served by an aiohttp server in its own process) vs a bare aiohttp + orjson loop
doing the same writes by hand:

- SQLite: ``SQLiteSink`` committing records + state in one transaction per page, vs
  ``executemany`` ``INSERT OR IGNORE`` + a state row, one commit per page;
- JSONL: ``JSONLSink`` (appends, then commits the file offset, the record keys and the state
  in its SQLite index), vs one file write per page (no idempotency, no state);
- JSONL ceiling: the bare loop's writes done by a sink inside the same ``deliver`` (no index,
  no state, no idempotency), vs the bare loop: what the collector and the delivery loop cost
  on their own, i.e. the best ratio any JSONL sink could reach here;
- PostgreSQL (when the test helper can start a server): ``PostgresSink`` committing records +
  state in one transaction per page, vs ``executemany`` ``INSERT … ON CONFLICT DO NOTHING`` + a
  state upsert, one commit per page.

Goal: ratio >= 0.80 for each. Rounds alternate between the contenders, every run writes into a
fresh database or directory, and the best round counts. Also prints the peak of Python
allocations (tracemalloc) of the SQLite delivery for 20 and 100 pages: flat memory means the
two are about equal. Run: ``python bench/bench_sinks.py`` (under a minute and a half).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from _common import free_port, wait_for

from collectorkit import (
    CollectorBlueprint,
    CollectorClient,
    CollectorRequest,
    JSONLSink,
    PaginationConfig,
    PostgresSink,
    SQLiteSink,
)
from collectorkit.delivery import deliver
from collectorkit.typing import Checkpoint, Envelope, QueryCriteria, StoreResult

PAGE_SIZE = 500
PAGES = 100
RECORDS = PAGE_SIZE * PAGES
ROUNDS = 5
SOURCE = "bench"


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
        }
        for i in range(PAGE_SIZE)
    ]


# --- the API server (own process) ----------------------------------------------------------------


def _serve(port: int, pages: int) -> None:
    from aiohttp import web

    bodies = []
    for page in range(pages):
        cursor = f"p{page + 1}" if page + 1 < pages else None
        body = {"data": {"events": _records(page)}, "meta": {"next_cursor": cursor}}
        bodies.append(orjson.dumps(body))

    async def handle(request: web.Request) -> web.Response:
        page = int(request.query.get("cursor", "p0")[1:])
        return web.Response(body=bodies[page], content_type="application/json")

    app = web.Application()
    app.router.add_get("/events", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- ours ----------------------------------------------------------------------------------------


def _collector(base: str) -> CollectorClient:
    pagination = PaginationConfig(
        mode="cursor", cursor_param="cursor", next_cursor_path="meta.next_cursor"
    )
    request = CollectorRequest(endpoint="/events", data_path="data.events", pagination=pagination)
    return CollectorClient(CollectorBlueprint(name="bench", base_url=base, request=request))


async def ours_sqlite(base: str, work: Path) -> int:
    sink = SQLiteSink(work / "ours.db")
    async with _collector(base) as client, sink:
        report = await deliver(
            client.iter_pages(),
            source=SOURCE,
            sinks=[sink],
            key_fields=["id"],
            checkpoint_sink=sink,
        )
    return report.stored


async def ours_jsonl(base: str, work: Path) -> int:
    sink = JSONLSink(work / "ours" / "events.jsonl")
    async with _collector(base) as client, sink:
        report = await deliver(
            client.iter_pages(),
            source=SOURCE,
            sinks=[sink],
            key_fields=["id"],
            checkpoint_sink=sink,  # keys, offset and state commit in the index database
        )
    return report.stored


async def ours_postgres(base: str, url: str) -> int:
    sink = PostgresSink(url)
    async with _collector(base) as client, sink:
        report = await deliver(
            client.iter_pages(),
            source=SOURCE,
            sinks=[sink],
            key_fields=["id"],
            checkpoint_sink=sink,
        )
    return report.stored


class _PlainJSONL:
    """The bare loop's JSONL writes as a sink: no index, no state, no idempotency."""

    name = "plain-jsonl"

    def __init__(self, path: Path) -> None:
        self._file = path.open("ab")

    async def connect(self) -> None:
        return None

    async def aclose(self) -> None:
        self._file.close()

    async def store(self, batch: Sequence[Envelope]) -> StoreResult:
        self._file.write(
            b"".join(
                orjson.dumps({"key": e.key, "source": e.source, "data": e.data}) + b"\n"
                for e in batch
            )
        )
        self._file.flush()
        return StoreResult(location=self._file.name, written=len(batch))

    async def store_with_checkpoint(
        self, batch: Sequence[Envelope], checkpoint: Checkpoint
    ) -> StoreResult:
        return await self.store(batch)

    async def query(self, criteria: QueryCriteria) -> list[Envelope]:
        return []

    async def delete(self, location_id: str) -> bool:
        return False


async def plain_jsonl(base: str, work: Path) -> int:
    sink = _PlainJSONL(work / "plain.jsonl")
    try:
        async with _collector(base) as client:
            report = await deliver(
                client.iter_pages(),
                source=SOURCE,
                sinks=[sink],
                key_fields=["id"],
                checkpoint_sink=sink,
            )
    finally:
        await sink.aclose()
    return report.stored


# --- bare loops ----------------------------------------------------------------------------------


async def _pages(session: aiohttp.ClientSession, base: str) -> Any:
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
        async for events, cursor in _pages(session, base):
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


async def bare_jsonl(base: str, work: Path) -> int:
    count = 0
    with (work / "bare.jsonl").open("ab") as out:
        async with aiohttp.ClientSession() as session:
            async for events, _ in _pages(session, base):
                out.write(
                    b"".join(
                        orjson.dumps({"key": f"{SOURCE}:{e['id']}", "source": SOURCE, "data": e})
                        + b"\n"
                        for e in events
                    )
                )
                out.flush()
                count += len(events)
    return count


async def bare_postgres(base: str, url: str) -> int:
    import psycopg

    count = 0
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bare_events (seq BIGSERIAL, key TEXT PRIMARY KEY, "
            "source TEXT NOT NULL, data JSONB NOT NULL, "
            "stored_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bare_state (key TEXT PRIMARY KEY, value JSONB)"
        )
        await conn.commit()
        async with aiohttp.ClientSession() as session:
            async for events, cursor in _pages(session, base):
                rows = [(f"{SOURCE}:{e['id']}", SOURCE, orjson.dumps(e).decode()) for e in events]
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO bare_events (key, source, data) VALUES (%s, %s, %s::jsonb) "
                        "ON CONFLICT DO NOTHING",
                        rows,
                    )
                    await cur.execute(
                        "INSERT INTO bare_state VALUES (%s, %s::jsonb) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value",
                        (SOURCE, orjson.dumps({"cursor": cursor}).decode()),
                    )
                await conn.commit()
                count += len(events)
    return count


async def _reset_postgres(url: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for table in ("collectorkit_events", "collectorkit_state", "bare_events", "bare_state"):
            await conn.execute(f"DROP TABLE IF EXISTS {table}")


# --- driver --------------------------------------------------------------------------------------


Run = Callable[[Path], Awaitable[int]]


async def _timed(run: Run, root: Path, index: int) -> float:
    work = root / f"run{index}"
    work.mkdir()
    start = time.perf_counter()
    count = await run(work)
    elapsed = time.perf_counter() - start
    if count != RECORDS:
        raise RuntimeError(f"stored {count} records, expected {RECORDS}")
    return count / elapsed


async def compare(
    pairs: dict[str, tuple[Run, Run]], root: Path, pg: str | None
) -> dict[str, tuple[float, float]]:
    best = dict.fromkeys(pairs, (0.0, 0.0))
    counter = 0
    for _ in range(ROUNDS):
        for name, (ours, bare) in pairs.items():
            results = []
            for run in (ours, bare):
                if pg is not None and name == "postgres":
                    await _reset_postgres(pg)
                counter += 1
                results.append(await _timed(run, root, counter))
            best[name] = (max(best[name][0], results[0]), max(best[name][1], results[1]))
    return best


async def memory_peaks(base_small: str, base_large: str, root: Path) -> tuple[float, float]:
    peaks = []
    for index, base in enumerate((base_small, base_large)):
        work = root / f"mem{index}"
        work.mkdir()
        tracemalloc.start()
        await ours_sqlite(base, work)
        peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return peaks[0], peaks[1]


def _start_server(pages: int) -> tuple[multiprocessing.Process, str]:
    port = free_port()
    process = multiprocessing.Process(target=_serve, args=(port, pages), daemon=True)
    process.start()
    wait_for(port)
    return process, f"http://127.0.0.1:{port}"


def _start_postgres() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    try:
        from tests._servers import MissingServerError, start_postgres
    except ImportError:
        return None
    try:
        return start_postgres()
    except MissingServerError:
        return None


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-sinks-"))
    server, base = _start_server(PAGES)
    small, base_small = _start_server(PAGES // 5)
    pg_server = _start_postgres()
    pg = pg_server.url if pg_server is not None else None
    pairs: dict[str, tuple[Run, Run]] = {
        "sqlite": (lambda w: ours_sqlite(base, w), lambda w: bare_sqlite(base, w)),
        "jsonl": (lambda w: ours_jsonl(base, w), lambda w: bare_jsonl(base, w)),
        "ceiling": (lambda w: plain_jsonl(base, w), lambda w: bare_jsonl(base, w)),
    }
    if pg is not None:
        pairs["postgres"] = (lambda w: ours_postgres(base, pg), lambda w: bare_postgres(base, pg))
    try:
        best = asyncio.run(compare(pairs, root, pg))
        peak_small, peak_large = asyncio.run(memory_peaks(base_small, base, root))
    finally:
        server.terminate()
        small.terminate()
        server.join(timeout=10)
        small.join(timeout=10)
        if pg_server is not None:
            pg_server.stop()
    print(f"delivery into sinks: {PAGES} pages x {PAGE_SIZE} records, per-page checkpoint")
    print(f"(records/s, best of {ROUNDS} alternating rounds)")
    for name, (ours, bare) in best.items():
        ratio = ours / bare
        print(f"  {name:9s} ours {ours:10,.0f}   bare loop {bare:10,.0f}   ratio {ratio:.2f}")
    print("  (ceiling: the bare JSONL writes as a sink inside deliver, no index or state)")
    if pg is None:
        print("  postgres  skipped: no PostgreSQL binaries (run scripts/install-system-deps)")
    print(
        f"peak Python allocations, SQLite delivery: {PAGES // 5} pages {peak_small:.1f} MiB, "
        f"{PAGES} pages {peak_large:.1f} MiB"
    )


if __name__ == "__main__":
    main()
