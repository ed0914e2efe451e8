"""Seed 003's processing and storage layers, runnable: mocks, validation, events, error reports,
and a whole collection delivered exactly once into SQLite with the checkpoint in the same
transaction.

    python examples/seed003_pipeline_and_storage.py

runs every part against a temporary directory and a small local API it starts.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from collectorkit import (
    CollectorBlueprint,
    CollectorClient,
    CollectorRequest,
    DeadLetterSink,
    DedupProcessor,
    EnrichProcessor,
    ErrorInfo,
    ErrorType,
    EventType,
    JSONLSink,
    JSONValidationProcessor,
    MaskProcessor,
    PaginationConfig,
    Pipeline,
    QueryCriteria,
    SQLiteSink,
    SystemEvent,
    TimestampProcessor,
    collect_into,
)
from collectorkit.state import SQLiteStateStore
from collectorkit.testing import (
    MockDataSource,
    MockErrorHandler,
    MockEventEmitter,
    MockProcessor,
    MockStorageBackend,
)

# --- Getting started: mock implementations -------------------------------------------------


async def test_pipeline() -> str:
    source = MockDataSource(source_id="test_source", data=b"test_data")
    processor = MockProcessor(name="test_processor")
    storage = MockStorageBackend(backend_id="test_storage")

    await source.connect()
    await storage.connect()

    data = await source.collect()
    result = await processor.process({"raw": data.raw_data})
    location = await storage.store(result.processed_data)

    print(f"Data stored at: {location.path}")

    await source.disconnect()
    await storage.disconnect()
    return location.path


# --- Pattern 2 and "Integration testing": validate, store, query back ----------------------


async def processing_pipeline(db_path: Path, payload: bytes) -> list[Any] | None:
    validator = JSONValidationProcessor(
        name="validator", required_fields=["sensor_id", "value", "timestamp"]
    )
    storage = SQLiteSink(db_path)
    await storage.connect()
    try:
        result = await validator.process(payload)
        if not result.success:
            print(f"Validation failed: {result.error}")
            return None

        location = await storage.store(result.processed_data)
        print(f"Stored at: {location.path}")

        criteria = QueryCriteria(filters={}, sort_by=None, limit=1, offset=0)
        results = await storage.query(criteria)
        assert len(results) > 0
        return [r.data for r in results]
    finally:
        await storage.aclose()


# --- Pattern 4: events ----------------------------------------------------------------------


async def event_driven_pipeline() -> list[str]:
    storage = MockStorageBackend(backend_id="events_demo")
    emitter = MockEventEmitter()
    seen: list[str] = []

    async def on_collection_complete(event: SystemEvent) -> None:
        seen.append(f"collection: {dict(event.data)}")

    async def on_storage_complete(event: SystemEvent) -> None:
        seen.append(f"storage: {dict(event.data)}")

    await emitter.subscribe(EventType.COLLECTION_COMPLETE, on_collection_complete)
    await emitter.subscribe(EventType.STORAGE_COMPLETE, on_storage_complete)

    await storage.connect()
    data = b'{"sensor_id": "s1", "value": 3}'
    await emitter.emit(
        SystemEvent(
            event_type=EventType.COLLECTION_COMPLETE,
            timestamp=datetime.now(),
            source="pipeline",
            data={"source_id": "mock", "size": len(data)},
        )
    )
    location = await storage.store({"data": data.decode()})
    await emitter.emit(
        SystemEvent(
            event_type=EventType.STORAGE_COMPLETE,
            timestamp=datetime.now(),
            source="pipeline",
            data={"location_id": location.location_id},
        )
    )
    await storage.aclose()
    for line in seen:
        print(f"[Event] {line}")
    return seen


# --- Pattern 5: error handling ----------------------------------------------------------------


async def error_handling_pipeline(blocked_dir: Path) -> MockErrorHandler:
    storage = SQLiteSink(blocked_dir / "sub" / "events.db")  # blocked_dir is a file: fails
    error_handler = MockErrorHandler()
    try:
        location = await storage.store({"data": "x"})
        print(f"Success: {location.path}")
    except Exception as e:
        error = ErrorInfo(
            error_type=ErrorType.STORAGE,
            timestamp=datetime.now(),
            layer_name="storage",
            operation="store",
            message=str(e),
            details={"backend_id": storage.get_backend_id()},
            is_critical=True,
        )
        await error_handler.handle_error(error)
    finally:
        await storage.aclose()
    return error_handler


# --- The whole flow: API -> pipeline -> SQLite + dead letters, checkpoint per page -------------


def build_collector(base_url: str) -> CollectorClient:
    pagination = PaginationConfig(
        mode="cursor", cursor_param="cursor", next_cursor_path="meta.next_cursor"
    )
    request = CollectorRequest(endpoint="/v1/alerts", data_path="data", pagination=pagination)
    return CollectorClient(CollectorBlueprint(name="alerts", base_url=base_url, request=request))


async def collect_into_sqlite(base_url: str, workdir: Path) -> dict[str, Any]:
    """One run; run it again and it resumes where the last one stopped, storing no duplicate."""
    db = workdir / "collectorkit.db"
    sink = SQLiteSink(db)
    dead_letters = DeadLetterSink(JSONLSink(workdir / "dead_letters.jsonl"))
    state_store = SQLiteStateStore(db)
    pipeline = Pipeline(
        [
            JSONValidationProcessor(required_fields=["id", "created_at"]),
            TimestampProcessor(["created_at"]),
            MaskProcessor(["user.email"], mode="hash"),
            EnrichProcessor(source="alerts"),
            DedupProcessor("id"),
        ]
    )
    async with build_collector(base_url) as collector, sink, dead_letters:
        # resumes from the saved checkpoint; the sink shares the store's file, so records and
        # state commit in one transaction
        report = await collect_into(
            collector,
            sinks=[sink],
            state=state_store,
            key_fields=["id"],
            pipeline=pipeline,
            dead_letter=dead_letters,
        )
        total = len(await sink.query(QueryCriteria()))
    await state_store.aclose()
    print(
        f"pages={report.pages} stored={report.stored} duplicates={report.duplicates} "
        f"dead_letters={report.dead_letters} total_in_sqlite={total}"
    )
    return {"report": report, "total": total}


# --- a small local API to run against -------------------------------------------------------


def demo_alerts(count: int = 45) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = []
    for i in range(count):
        alert: dict[str, Any] = {"id": f"a{i:03d}", "created_at": 1_700_000_000 + i * 60}
        alert["user"] = {"email": f"user{i % 5}@example.com"}
        if i % 20 == 7:
            del alert["created_at"]  # malformed: goes to dead-letter
        alerts.append(alert)
    return alerts


def start_demo_api(alerts: list[dict[str, Any]], page_size: int = 10) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            start = int(query.get("cursor", ["0"])[0])
            end = min(start + page_size, len(alerts))
            body = {
                "data": alerts[start:end],
                "meta": {"next_cursor": str(end) if end < len(alerts) else None},
            }
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        await test_pipeline()
        await processing_pipeline(
            work / "p2.db", b'{"sensor_id": "s1", "value": 2, "timestamp": 1}'
        )
        await processing_pipeline(work / "p2.db", b'{"sensor_id": "s1"}')
        await event_driven_pipeline()
        (work / "blocked").write_text("not a directory")
        handler = await error_handling_pipeline(work / "blocked")
        print(f"errors reported: {[e.message for e in handler.errors]}")
        server = start_demo_api(demo_alerts())
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}"
            await collect_into_sqlite(url, work)
            await collect_into_sqlite(url, work)  # resumes: nothing new, nothing twice
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    asyncio.run(main())
