"""Incremental edge cases against a real local server on a fake clock: a future-dated record
does not freeze collection, ``max_window`` bounds every window, client-side time filtering and
integer cursors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from structlog.testing import capture_logs
from werkzeug import Request, Response

from collectorkit import (
    CollectorClient,
    CollectorState,
    ConfigError,
    IncrementalConfig,
    PaginationConfig,
    collect_into,
)
from collectorkit.sinks import SQLiteSink
from tests.collect.conftest import FakeAPI, blueprint, ids, make_records

CURSOR = PaginationConfig(
    mode="cursor", next_cursor_path="meta.next_cursor", page_size_param="limit", page_size=5
)


def _now(clock: Any) -> datetime:
    return datetime.fromtimestamp(clock.time(), tz=UTC)


def _open_ended(api: FakeAPI, clock: Any, **inc: Any) -> Any:
    config = IncrementalConfig(timestamp_field="created", start_param="since", **inc)
    request = {"data_path": "data.events", "incremental": config}
    return blueprint(api, clock, "/cursor", CURSOR, request=request)


class _IngestAPI:
    """Filters by ingestion time (``ingested``) while records carry their own event time
    (``created``), as Cortex XDR's server_creation_time vs creation_time: a clock-skewed device
    sends records whose event time lies far ahead of the window they were ingested in."""

    def __init__(self, server: HTTPServer) -> None:
        self.records: list[dict[str, Any]] = []
        self.requests: list[dict[str, str]] = []
        server.expect_request("/ingest").respond_with_handler(self)
        self.base_url = server.url_for("/").rstrip("/")

    def __call__(self, request: Request) -> Response:
        args = dict(request.args)
        self.requests.append(args)
        low, high = _instant(args["since"]), _instant(args["until"])
        rows = [r for r in self.records if low <= _instant(r["ingested"]) <= high]
        start = int(args.get("cursor") or 0)
        size = int(args.get("limit", 10))
        nxt = str(start + size) if start + size < len(rows) else ""
        body = {"data": {"events": rows[start : start + size]}, "meta": {"next_cursor": nxt}}
        return Response(json.dumps(body), mimetype="application/json")


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ingested(count: int, start: datetime, step: float) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        at = (start + timedelta(seconds=i * step)).isoformat()
        out.append({"id": f"r{i}", "created": at, "ingested": at})
    return out


# --- 1. a future-dated record ---------------------------------------------------------------------


async def test_a_future_dated_record_does_not_end_a_windowed_walk(
    httpserver: HTTPServer, clock: Any
) -> None:
    now = _now(clock)
    api = _IngestAPI(httpserver)
    api.records = _ingested(24, now - timedelta(days=1), 3600)
    api.records[3]["created"] = (now + timedelta(days=365)).isoformat()  # a skewed device
    config = IncrementalConfig(
        timestamp_field="created",
        start_param="since",
        end_param="until",
        initial_lookback="1d",
        max_window="6h",
    )
    request = {"data_path": "data.events", "incremental": config}
    bp = blueprint(api, clock, "/ingest", CURSOR, request=request)  # type: ignore[arg-type]
    with capture_logs() as logs:
        async with CollectorClient(bp) as client:
            first = await client.collect_events()
    assert ids(first.events) == [f"r{i}" for i in range(24)]
    assert first.state.watermark == now
    assert first.metrics.records_beyond_window == 1
    warned = [e for e in logs if e["log_level"] == "warning"]
    assert len(warned) == 1
    assert warned[0]["record_id"] == "r3"
    assert warned[0]["timestamp"].startswith(str(now.year + 1))
    assert warned[0]["window_end"] == (now - timedelta(hours=18)).isoformat().replace("+00:00", "Z")
    # the next run still asks, and finds what is new
    api.records += _ingested(1, now + timedelta(minutes=30), 0)
    api.records[-1]["id"] = "new"
    clock.advance(3600)
    async with CollectorClient(bp) as client:
        second = await client.collect_events(resume_state=first.state)
    assert ids(second.events) == ["new"]


async def test_a_future_dated_record_does_not_freeze_open_ended_collection(
    api: FakeAPI, clock: Any
) -> None:
    now = _now(clock)
    api.records = [
        *make_records(4, start=now - timedelta(hours=1), step=600),
        {"id": "skewed", "created": (now + timedelta(days=30)).isoformat()},
    ]
    bp = _open_ended(api, clock)
    with capture_logs() as logs:
        async with CollectorClient(bp) as client:
            first = await client.collect_events()
    assert ids(first.events) == ["r00000", "r00001", "r00002", "r00003", "skewed"]
    # the newest record within the collector's now (minus end lag), not the skewed one
    assert first.state.watermark == datetime.fromisoformat(api.records[3]["created"])
    assert first.metrics.records_beyond_window == 1
    assert [e["record_id"] for e in logs if e["log_level"] == "warning"] == ["skewed"]
    api.records.insert(4, {"id": "new", "created": (now + timedelta(seconds=30)).isoformat()})
    clock.advance(60)
    sent = len(api.requests)
    async with CollectorClient(bp) as client:
        second = await client.collect_events(resume_state=first.state)
    assert len(api.requests) > sent
    assert ids(second.events) == ["new"]  # the skewed record comes back, and is not repeated
    assert second.state.watermark == datetime.fromisoformat(api.records[4]["created"])


async def test_a_record_created_during_the_run_is_not_future_dated(
    api: FakeAPI, clock: Any
) -> None:
    """Open-ended: the limit is the collector's now when the page arrives, not when the window
    opened — a record created meanwhile moves the watermark and is not fetched again."""
    now = _now(clock)
    api.records = make_records(3, start=now - timedelta(minutes=30), step=600)
    fresh = {"id": "fresh", "created": (now + timedelta(seconds=1.5)).isoformat()}

    def arrive(_: Any) -> None:  # the request takes a while; a record lands meanwhile
        clock.advance(2)
        if fresh not in api.records:
            api.records.append(fresh)

    api.on_request = arrive
    async with CollectorClient(_open_ended(api, clock)) as client:
        first = await client.collect_events()
    assert ids(first.events) == ["r00000", "r00001", "r00002", "fresh"]
    assert first.metrics.records_beyond_window == 0
    assert first.state.watermark == datetime.fromisoformat(fresh["created"])
    async with CollectorClient(_open_ended(api, clock)) as client:
        second = await client.collect_events(resume_state=first.state)
    assert ids(second.events) == []  # nothing fetched again as new


async def test_a_future_dated_record_through_collect_into(
    api: FakeAPI, clock: Any, tmp_path: Path
) -> None:
    now = _now(clock)
    api.records = [
        *make_records(3, start=now - timedelta(hours=1), step=600),
        {"id": "skewed", "created": (now + timedelta(days=30)).isoformat()},
    ]
    db = tmp_path / "c.db"
    bp = _open_ended(api, clock)
    first = await collect_into(bp, sinks=[SQLiteSink(db)], state=f"sqlite:///{db}")
    assert first.metrics is not None
    assert first.metrics.records_beyond_window == 1
    api.records.insert(3, {"id": "new", "created": (now + timedelta(seconds=30)).isoformat()})
    clock.advance(60)
    second = await collect_into(bp, sinks=[SQLiteSink(db)], state=f"sqlite:///{db}")
    assert (first.stored, second.stored) == (4, 1)
    assert second.records == 1


# --- 2. max_window -------------------------------------------------------------------------------


async def test_max_window_bounds_every_window_even_with_a_longer_overlap(
    api: FakeAPI, clock: Any
) -> None:
    now = _now(clock)
    api.records = make_records(48, start=now - timedelta(days=1), step=3600)
    config = IncrementalConfig(
        timestamp_field="created",
        start_param="since",
        end_param="until",
        initial_lookback="1d",
        overlap="3d",
        max_window="1d",
    )
    request = {"data_path": "data.events", "incremental": config}
    bp = blueprint(api, clock, "/cursor", CURSOR, request=request)
    async with CollectorClient(bp) as client:
        first = await client.collect_events()
        clock.advance(86400)
        second = await client.collect_events(resume_state=first.state)
    assert ids(first.events + second.events) == ids(api.records[:49])
    windows = {(r.args["since"], r.args["until"]) for r in api.requests}
    for since, until in windows:
        assert _instant(until) - _instant(since) <= timedelta(days=1)
    # the second run re-reads the three days of overlap, a day at a time, then the new day
    assert len({w for w in windows if _instant(w[0]) < now}) >= 3
    assert second.state.window_start is None
    assert second.state.watermark == now + timedelta(days=1)


def test_plan_window_measures_max_window_from_the_window_start() -> None:
    config = IncrementalConfig(timestamp_field="ts", overlap="3d", max_window="1d")
    wm = datetime(2024, 5, 10, tzinfo=UTC)
    window = config.plan_window(CollectorState(watermark=wm), wm + timedelta(days=2))
    assert window is not None
    assert window.start == wm - timedelta(days=3)
    assert window.end - window.start == timedelta(days=1)


@pytest.mark.parametrize("ordered", [True, False])
def test_a_record_after_the_window_end_does_not_move_the_watermark(ordered: bool) -> None:
    config = IncrementalConfig(timestamp_field="ts", ordered=ordered)
    end = datetime(2024, 5, 10, tzinfo=UTC)
    state = CollectorState(window_start=end - timedelta(hours=1), window_end=end)
    future = {"id": "f", "ts": "2099-01-01T00:00:00Z"}
    state = config.delivered(state, [{"id": "a", "ts": "2024-05-09T23:30:00Z"}, future])
    closed = config.close_window(state, bounded=False)
    assert closed.watermark == datetime(2024, 5, 9, 23, 30, tzinfo=UTC)
    assert config.close_window(state).watermark == end
    assert config.is_duplicate(closed, future)


# --- 6. APIs without a server-side time filter ---------------------------------------------------


async def test_client_side_filter_delivers_only_what_is_new(api: FakeAPI, clock: Any) -> None:
    now = _now(clock)
    api.records = make_records(96, start=now - timedelta(days=1), step=1800)
    tie = {"id": "tie", "created": api.records[48]["created"]}  # at the watermark instant
    api.records.insert(49, tie)
    config = IncrementalConfig(
        timestamp_field="created", filter="client", initial_lookback="6h", overlap="1h"
    )
    request = {"data_path": "data.events", "incremental": config}
    bp = blueprint(api, clock, "/cursor", CURSOR, request=request)
    async with CollectorClient(bp) as client:
        first = await client.collect_events()
        clock.advance(3 * 3600)
        second = await client.collect_events(resume_state=first.state)
        third = await client.collect_events(resume_state=second.state)
    # the API ignores time: every run reads the whole feed, and keeps only its window
    assert all("since" not in r.args for r in api.requests)
    assert ids(first.events) == [*ids(api.records[36:49]), "tie"]
    assert first.state.watermark == now
    assert ids(second.events) == ids(api.records[50:56])
    assert third.events == []


def test_client_side_filter_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"incremental\.filter.*'clinet'"):
        IncrementalConfig(timestamp_field="ts", filter="clinet")  # type: ignore[arg-type]


# --- 9. integer cursors ---------------------------------------------------------------------------


class _SequenceAPI:
    """Records with an integer ``seq``; ``?after=`` keeps those with a greater seq (``>=`` with
    ``inclusive``), ``?upto=`` those up to it; cursor paging as Slack."""

    def __init__(self, server: HTTPServer, *, inclusive: bool = False) -> None:
        self.records: list[dict[str, Any]] = []
        self.requests: list[dict[str, str]] = []
        self.inclusive = inclusive
        server.expect_request("/seq").respond_with_handler(self)
        self.base_url = server.url_for("/").rstrip("/")

    def add(self, *seqs: int) -> None:
        self.records += [{"id": f"e{n}", "seq": n} for n in seqs]

    def __call__(self, request: Request) -> Response:
        args = dict(request.args)
        self.requests.append(args)
        after = int(args.get("after", -1))
        rows = [
            r for r in self.records if r["seq"] > after or (self.inclusive and r["seq"] == after)
        ]
        if "upto" in args:
            rows = [r for r in rows if r["seq"] <= int(args["upto"])]
        start = int(args.get("cursor") or 0)
        size = int(args.get("limit", 10))
        nxt = str(start + size) if start + size < len(rows) else ""
        body = {"data": {"events": rows[start : start + size]}, "meta": {"next_cursor": nxt}}
        return Response(json.dumps(body), mimetype="application/json")


def _sequence_bp(api: _SequenceAPI, clock: Any, **inc: Any) -> Any:
    config = IncrementalConfig(timestamp_field="seq", start_param="after", **inc)
    request = {"data_path": "data.events", "incremental": config}
    return blueprint(api, clock, "/seq", CURSOR, request=request)  # type: ignore[arg-type]


@pytest.mark.parametrize("inclusive", [False, True])
async def test_an_integer_cursor_delivers_each_record_once(
    httpserver: HTTPServer, clock: Any, inclusive: bool
) -> None:
    api = _SequenceAPI(httpserver, inclusive=inclusive)
    api.add(*range(1, 13))
    bp = _sequence_bp(api, clock, initial_value=0)
    seen: list[str] = []
    state = None
    async with CollectorClient(bp) as client:
        for limit in (7, None, None):
            result = await client.collect_events(limit=limit, resume_state=state)
            seen += ids(result.events)
            state = result.state
        assert state is not None
        assert state.last_value == 12
        api.records.append({"id": "e12b", "seq": 12})  # a second record at the boundary value
        api.add(13, 14)
        result = await client.collect_events(resume_state=state)
    seen += ids(result.events)
    assert seen == [f"e{n}" for n in range(1, 13)] + (["e12b"] * inclusive) + ["e13", "e14"]
    assert api.requests[0]["after"] == "0"
    assert api.requests[-1]["after"] == "12"
    assert result.state.last_value == 14
    round_trip = CollectorState.from_dict(json.loads(json.dumps(result.state.to_dict())))
    assert round_trip == result.state


async def test_an_integer_cursor_stops_at_its_end_value(httpserver: HTTPServer, clock: Any) -> None:
    api = _SequenceAPI(httpserver)
    api.add(*range(1, 13))
    bp = _sequence_bp(api, clock, initial_value=3, end_value=8, end_param="upto")
    async with CollectorClient(bp) as client:
        first = await client.collect_events()
        sent = len(api.requests)
        second = await client.collect_events(resume_state=first.state)
    assert ids(first.events) == [f"e{n}" for n in range(4, 9)]
    assert api.requests[0]["upto"] == "8"
    assert second.events == []
    assert len(api.requests) == sent  # nothing left to ask for


def test_integer_cursor_values_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"incremental\.initial_value.*'ten'"):
        IncrementalConfig(timestamp_field="seq", initial_value="ten")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"incremental\.end_value.*2"):
        IncrementalConfig(timestamp_field="seq", initial_value=5, end_value=2)
