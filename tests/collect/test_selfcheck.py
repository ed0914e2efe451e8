"""Self-checks: a configuration that does not match the responses is a finding, not a clean run.

Each mistake a new user makes most (a wrong ``data_path``, next-page path, timestamp field,
has-more or total path, key field) against the simulator's generic API or a small real server;
a correct configuration on an API with nothing new finds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from structlog.testing import capture_logs

from collectorkit import (
    BearerTokenAuthHandler,
    CollectorBlueprint,
    CollectorClient,
    CollectorRequest,
    PaginationConfig,
    PaginationError,
    SQLiteSink,
    collect_into,
)
from collectorkit.collect import Finding, IncrementalConfig
from collectorkit.simulator import SimulatorServer, build_config
from collectorkit.testing import FakeClock
from tests.collect.conftest import FakeAPI, blueprint, ids, make_records

CURSOR = {"mode": "cursor", "cursor_param": "cursor", "next_cursor_path": "meta.next_cursor"}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(build_config(seed=3, profiles=["generic"], records=50)) as server:
        yield server


def _blueprint(base: str, **request: Any) -> CollectorBlueprint:
    request.setdefault("data_path", "data.events")
    request.setdefault("pagination", CURSOR)
    request.setdefault("params", {"limit": 20})
    return CollectorBlueprint(
        name="sim",
        base_url=base,
        request=CollectorRequest(endpoint="/v1/events", **request),
        auth_handler=BearerTokenAuthHandler("sim-generic-token"),
    )


async def _collect(bp: CollectorBlueprint) -> tuple[Any, list[dict[str, Any]]]:
    with capture_logs() as logs:
        async with CollectorClient(bp) as client:
            result = await client.collect_events()
    return result, [e for e in logs if e.get("check")]


def _only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


async def test_a_data_path_that_matches_nothing_is_a_finding(sim: SimulatorServer) -> None:
    result, warned = await _collect(_blueprint(sim.url("generic"), data_path="data.event"))
    assert result.events == []
    assert result.stop_reason == "self_check"  # not past the records it could not read
    assert result.state.cursor is None
    assert not result.complete
    found = _only(result.findings)
    assert found.check == "data_path"
    assert found.path == "request.data_path"
    assert found.value == "data.event"
    assert found.candidates == ("data.events",)
    assert "data.events (20 items)" in found.message
    assert "request.data_path 'data.event' matched nothing" in str(found)
    assert warned[0]["check"] == "data_path"
    assert warned[0]["log_level"] == "warning"


async def test_a_next_page_path_that_matches_nothing_is_a_finding(sim: SimulatorServer) -> None:
    pagination = {**CURSOR, "next_cursor_path": "meta.next"}
    result, warned = await _collect(_blueprint(sim.url("generic"), pagination=pagination))
    assert len(result.events) == 20  # stopped after page 1 of 3
    assert result.stop_reason == "self_check"
    assert not result.complete
    found = _only(result.findings)
    assert (found.check, found.path, found.value) == (
        "next_page",
        "request.pagination.next_cursor_path",
        "meta.next",
    )
    assert found.candidates == ("meta.next_cursor",)
    assert [w["check"] for w in warned] == ["next_page"]


async def test_a_full_page_without_its_next_path_is_a_finding(sim: SimulatorServer) -> None:
    pagination = {
        "mode": "cursor",
        "cursor_param": "cursor",
        "next_cursor_path": "paging.after",
        "page_size_param": "limit",
        "page_size": 20,
    }
    result, _ = await _collect(_blueprint(sim.url("generic"), pagination=pagination, params={}))
    found = _only(result.findings)
    assert found.check == "next_page"
    assert "meta.next_cursor" in found.candidates


async def test_a_timestamp_field_missing_from_records_is_a_finding(sim: SimulatorServer) -> None:
    incremental = IncrementalConfig(timestamp_field="created", start_param="since")
    result, _ = await _collect(_blueprint(sim.url("generic"), incremental=incremental))
    assert len(result.events) == 50
    assert result.state.watermark is None  # what the finding warns about
    found = _only(result.findings)
    assert found.check == "timestamp_field"
    assert found.path == "request.incremental.timestamp_field"
    assert found.value == "created"
    assert "created_at" in found.candidates
    assert "updated_at" in found.candidates


async def test_a_correct_config_with_nothing_new_finds_nothing(sim: SimulatorServer) -> None:
    incremental = IncrementalConfig(timestamp_field="created_at", start_param="since")
    bp = _blueprint(sim.url("generic"), incremental=incremental)
    first, warned = await _collect(bp)
    assert len(first.events) == 50
    assert first.findings == []
    assert warned == []
    with capture_logs() as logs:
        async with CollectorClient(bp) as client:
            again = await client.collect_events(resume_state=first.state)
    assert again.events == []
    assert again.findings == []
    assert not [e for e in logs if e.get("check")]


def _flagged(httpserver: HTTPServer, body: dict[str, Any]) -> CollectorBlueprint:
    httpserver.expect_request("/items").respond_with_json(body)
    return CollectorBlueprint(
        name="flagged",
        base_url=httpserver.url_for("/").rstrip("/"),
        request=CollectorRequest(
            endpoint="/items",
            data_path="items",
            pagination=PaginationConfig(
                mode="cursor",
                cursor_param="after",
                next_cursor_path="cursor",
                has_more_path="has_more",
            ),
        ),
    )


async def test_a_has_more_path_that_never_appears_names_what_the_body_holds(
    httpserver: HTTPServer,
) -> None:
    body = {"items": [{"id": 1}], "cursor": None, "paging": {"hasMore": False, "total": 1}}
    bp = _flagged(httpserver, body)
    async with CollectorClient(bp) as client:
        with pytest.raises(PaginationError) as caught:
            await client.collect_events()
    assert "pagination.has_more_path 'has_more'" in str(caught.value)
    assert "candidates: paging.hasMore" in str(caught.value)
    found = _only(caught.value.partial_result.findings)
    assert (found.check, found.candidates) == ("has_more_path", ("paging.hasMore",))


async def test_has_more_true_without_a_next_cursor_is_a_finding(httpserver: HTTPServer) -> None:
    bp = _flagged(httpserver, {"items": [{"id": 1}], "has_more": True, "next": "abc"})
    result, _ = await _collect(bp)
    found = _only(result.findings)
    assert found.check == "next_page"
    assert found.candidates == ("next",)
    assert "has_more_path 'has_more' said there is more" in found.message


async def test_a_data_path_that_is_not_a_list_names_the_lists(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/items").respond_with_json(
        {"data": {"total": "3", "rows": [{"id": 1}]}}
    )
    bp = CollectorBlueprint(
        name="odd",
        base_url=httpserver.url_for("/").rstrip("/"),
        request=CollectorRequest(endpoint="/items", data_path="data.total"),
    )
    async with CollectorClient(bp) as client:
        with pytest.raises(Exception, match=r"candidates: data\.rows") as caught:
            await client.collect_events()
    assert caught.value.partial_result.findings[0].check == "data_path"


async def test_key_fields_missing_from_every_record_are_a_finding(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    with capture_logs() as logs:
        report = await collect_into(
            _blueprint(sim.url("generic")),
            sinks=[SQLiteSink(tmp_path / "e.db")],
            state=f"sqlite:///{tmp_path / 'e.db'}",
            key_fields=["alert_id"],
        )
    assert report.stored == 50
    found = _only(report.findings)
    assert (found.check, found.path, found.value) == ("key_fields", "key_fields", "alert_id")
    assert found.candidates == ("id",)
    assert [e["check"] for e in logs if e.get("check")] == ["key_fields"]


async def test_collect_into_carries_the_pages_findings(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    report = await collect_into(
        _blueprint(sim.url("generic"), data_path="data.event"),
        sinks=[SQLiteSink(tmp_path / "e.db")],
        state=f"sqlite:///{tmp_path / 'e.db'}",
    )
    assert [f.check for f in report.findings] == ["data_path"]


async def test_a_total_path_that_never_appears_names_the_counts_in_the_body(
    httpserver: HTTPServer,
) -> None:
    body = {"rows": [{"id": 1}, {"id": 2}], "meta": {"total_count": 2}}
    httpserver.expect_request("/rows").respond_with_json(body)
    bp = CollectorBlueprint(
        name="counted",
        base_url=httpserver.url_for("/").rstrip("/"),
        request=CollectorRequest(
            endpoint="/rows",
            data_path="rows",
            pagination=PaginationConfig(
                mode="offset", offset_param="offset", page_size=2, total_path="total"
            ),
        ),
    )
    async with CollectorClient(bp) as client:
        with pytest.raises(PaginationError, match=r"candidates: meta\.total_count") as caught:
            await client.collect_events()
    assert "pagination.total_path 'total'" in str(caught.value)
    found = _only(caught.value.partial_result.findings)
    assert (found.check, found.path) == ("total_path", "request.pagination.total_path")


async def test_a_data_path_on_a_body_that_is_the_list_itself(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/list").respond_with_json([{"id": 1}, {"id": 2}])
    bp = CollectorBlueprint(
        name="bare",
        base_url=httpserver.url_for("/").rstrip("/"),
        request=CollectorRequest(endpoint="/list", data_path="items"),
    )
    result, _ = await _collect(bp)
    assert result.events == []
    assert result.stop_reason == "self_check"
    found = _only(result.findings)
    assert "the body itself is a list of 2 items (leave data_path out)" in found.message


async def test_a_wrong_next_page_path_leaves_the_window_open_on_a_newest_first_api(
    api: FakeAPI, clock: FakeClock
) -> None:
    """Newest first: closing the window after page 1 would move the watermark past the
    older records on the pages never fetched. The walk is cut short instead, and once the path
    is corrected the next run collects them."""
    api.records = make_records(25)
    incremental = IncrementalConfig(timestamp_field="created", start_param="since")

    def bp(next_path: str) -> CollectorBlueprint:
        return blueprint(
            api,
            clock,
            "/cursor",
            PaginationConfig(mode="cursor", cursor_param="cursor", next_cursor_path=next_path),
            request={
                "data_path": "data.events",
                "params": {"order": "desc", "limit": 10},
                "incremental": incremental,
            },
        )

    async with CollectorClient(bp("meta.next")) as client:
        first = await client.collect_events()
    assert len(first.events) == 10
    assert first.stop_reason == "self_check"
    assert [f.check for f in first.findings] == ["next_page"]
    async with CollectorClient(bp("meta.next_cursor")) as client:
        second = await client.collect_events(resume_state=first.state)
    assert second.findings == []
    assert set(ids(first.events)) | set(ids(second.events)) == set(ids(api.records))


async def test_a_key_made_of_several_fields_needs_them_all(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    report = await collect_into(
        _blueprint(sim.url("generic")),
        sinks=[SQLiteSink(tmp_path / "e.db")],
        state=f"sqlite:///{tmp_path / 'e.db'}",
        key_fields=["id", "revision"],
    )
    found = _only(report.findings)
    assert found.value == "id, revision"
    assert "key_fields: [] keys records by content on purpose" in found.message
    by_content = await collect_into(
        _blueprint(sim.url("generic")),
        sinks=[SQLiteSink(tmp_path / "f.db")],
        state=f"sqlite:///{tmp_path / 'f.db'}",
        key_fields=[],
    )
    assert by_content.findings == []
