"""``collect_into`` / ``collect_into_sync``: a blueprint into sinks exactly once, resuming.

A small cursor-paginated API (pytest-httpserver) serves 7 pages of 10 records; the collection
goes into a SQLite file that also holds the state, so records and checkpoint commit together.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectorkit import (
    CollectorBlueprint,
    CollectorClient,
    CollectorError,
    CollectorRequest,
    DeliveryReport,
    PaginationConfig,
    RetryPolicy,
    SyncInAsyncError,
    collect_into,
    collect_into_sync,
)
from collectorkit.delivery import read_checkpoint
from collectorkit.sinks import SQLiteSink
from collectorkit.state import SQLiteStateStore
from collectorkit.testing import no_backoff

PAGES, PER_PAGE = 7, 10


class _API:
    """Serves the pages; ``fail_at`` answers that page with a 500 (once it is set)."""

    def __init__(self) -> None:
        self.requests: Counter[int] = Counter()
        self.fail_at: int | None = None

    def __call__(self, request: Request) -> Response:
        page = int(request.args.get("cursor", 0))
        self.requests[page] += 1
        if page == self.fail_at:
            return Response("boom", status=500)
        data = [{"id": f"e{page * PER_PAGE + i}", "page": page} for i in range(PER_PAGE)]
        body = {"data": data, "next": str(page + 1) if page + 1 < PAGES else None}
        return Response(orjson.dumps(body), content_type="application/json")


@pytest.fixture
def api(httpserver: HTTPServer) -> _API:
    handler = _API()
    httpserver.expect_request("/events").respond_with_handler(handler)
    return handler


def _blueprint(httpserver: HTTPServer) -> CollectorBlueprint:
    return CollectorBlueprint(
        name="events",
        base_url=httpserver.url_for("/").rstrip("/"),
        request=CollectorRequest(
            endpoint="/events",
            data_path="data",
            pagination=PaginationConfig(
                mode="cursor", cursor_param="cursor", next_cursor_path="next"
            ),
        ),
        retry_policy=RetryPolicy(max_attempts=1),
    )


def _stored(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT key, data FROM events ORDER BY seq").fetchall()


def _state(db: Path) -> Any:
    with sqlite3.connect(db) as conn:
        (value,) = conn.execute(
            "SELECT value FROM collectorkit_state WHERE namespace = 'collector_state'"
        ).fetchone()
    return orjson.loads(value)


def test_sync_and_async_store_the_same_records_and_state(
    httpserver: HTTPServer, api: _API, tmp_path: Path
) -> None:
    blueprint = _blueprint(httpserver)
    a, b = tmp_path / "async.db", tmp_path / "sync.db"
    by_async = asyncio.run(collect_into(blueprint, sinks=[SQLiteSink(a)], state=f"sqlite:///{a}"))
    by_sync = collect_into_sync(blueprint, sinks=[SQLiteSink(b)], state=f"sqlite:///{b}")

    assert _stored(a) == _stored(b)
    assert len(_stored(a)) == PAGES * PER_PAGE
    assert _state(a) == _state(b)
    for report in (by_async, by_sync):
        assert (report.records, report.stored, report.duplicates) == (70, 70, 0)
        assert (report.pages, report.checkpoints, report.dead_letters) == (PAGES, PAGES, 0)
        assert report.stop_reason == "no_next"
        assert report.metrics is not None
    assert by_async.metrics is not None
    assert by_sync.metrics is not None
    assert by_async.metrics.as_dict() == by_sync.metrics.as_dict()
    assert by_async.last_state == by_sync.last_state == _state(a)
    assert set(api.requests.values()) == {2}  # every page once per run


def test_a_run_resumes_from_the_checkpoint_and_stores_nothing_twice(
    httpserver: HTTPServer, api: _API, tmp_path: Path
) -> None:
    db = tmp_path / "c.db"
    blueprint = _blueprint(httpserver)
    first = collect_into_sync(blueprint, sinks=[SQLiteSink(db)], state=f"sqlite:///{db}")
    again = collect_into_sync(blueprint, sinks=[SQLiteSink(db)], state=f"sqlite:///{db}")
    assert first.stored == 70
    assert len(_stored(db)) == 70
    # the second run starts at the saved cursor: only the last page is asked for again, and
    # the records it already delivered are recognised in it (by content), not re-stored
    assert (again.pages, again.records, again.stored) == (1, 0, 0)
    assert api.requests == Counter({**dict.fromkeys(range(PAGES - 1), 1), PAGES - 1: 2})


@pytest.mark.parametrize("failing_page", [0, 3, PAGES - 1])
async def test_a_collection_that_fails_after_page_n_resumes_there_and_stores_every_record_once(
    httpserver: HTTPServer, api: _API, tmp_path: Path, failing_page: int
) -> None:
    db = tmp_path / "crash.db"
    sink, store = SQLiteSink(db), SQLiteStateStore(db)
    api.fail_at = failing_page
    async with sink, store, CollectorClient(_blueprint(httpserver)) as client:
        with no_backoff(), pytest.raises(CollectorError) as failed:
            await collect_into(client, sinks=[sink], state=store)
        partial = failed.value.partial_result
        assert isinstance(partial, DeliveryReport)
        assert (partial.pages, partial.stored) == (failing_page, failing_page * PER_PAGE)
        assert len(_stored(db)) == failing_page * PER_PAGE
        saved = await read_checkpoint(store, "events")
        assert saved is None if failing_page == 0 else saved is not None

        api.fail_at = None
        report = await collect_into(client, sinks=[sink], state=store)
    keys = [key for key, _ in _stored(db)]
    assert len(keys) == len(set(keys)) == PAGES * PER_PAGE
    assert report.stored == (PAGES - failing_page) * PER_PAGE
    assert report.duplicates == 0
    # pages before the failure were fetched once; the failed one twice (failure, then resume)
    assert all(api.requests[p] == 1 for p in range(failing_page))
    assert api.requests[failing_page] == 2


async def test_stopping_between_pages_checkpoints_what_was_stored(
    httpserver: HTTPServer, api: _API, tmp_path: Path
) -> None:
    db = tmp_path / "stop.db"
    sink = SQLiteSink(db)
    delivered: list[int] = []

    async with sink:
        first = await collect_into(
            _blueprint(httpserver),
            sinks=[sink],
            state=f"sqlite:///{db}",
            on_delivered=lambda records: delivered.append(len(records)),
            should_stop=lambda: len(delivered) == 3,
        )
        assert first.stopped
        assert (first.pages, first.stored) == (3, 30)
        rest = await collect_into(_blueprint(httpserver), sinks=[sink], state=f"sqlite:///{db}")
    assert (rest.stored, rest.duplicates) == (40, 0)
    keys = [key for key, _ in _stored(db)]
    assert len(keys) == len(set(keys)) == PAGES * PER_PAGE


async def test_the_sync_entry_point_inside_an_event_loop_points_at_the_async_one(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    with pytest.raises(SyncInAsyncError, match="collect_into"):
        collect_into_sync(
            _blueprint(httpserver), sinks=[SQLiteSink(tmp_path / "x.db")], state="memory://"
        )
