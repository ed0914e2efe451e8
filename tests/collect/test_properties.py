"""Property: however a run is interrupted — a limit, a crash after some pages, a crash in the
middle of a page — resuming from the last saved state yields every record exactly once, in
order, in every pagination dialect."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug import Response

from collectorkit import (
    CollectorClient,
    CollectorState,
    FakeClock,
    IncrementalConfig,
    PaginationConfig,
)
from tests.collect.conftest import T0, FakeAPI, blueprint, ids, make_records


def dialect(name: str, size: int) -> tuple[str, PaginationConfig, dict[str, Any]]:
    if name == "cursor":
        pagination = PaginationConfig(
            mode="cursor",
            next_cursor_path="meta.next_cursor",
            page_size_param="limit",
            page_size=size,
        )
        return "/cursor", pagination, {"data_path": "data.events"}
    if name == "page":
        pagination = PaginationConfig(
            mode="page",
            page_size_param="per_page",
            page_size=size,
            total_pages_path="total_pages",
        )
        return "/page", pagination, {"data_path": "results"}
    if name == "offset":
        pagination = PaginationConfig(
            mode="offset",
            page_size_param="limit",
            page_size=size,
            total_path="meta.pagination.total",
        )
        return "/offset", pagination, {"data_path": "resources"}
    if name == "link-body":
        pagination = PaginationConfig(mode="link", link_path="next")
        return "/link-body", pagination, {"data_path": "results", "params": {"limit": size}}
    if name == "link-header":
        return "/link-header", PaginationConfig(mode="link"), {"params": {"limit": size}}
    pagination = PaginationConfig(
        mode="cursor",
        cursor_location="body",
        cursor_only_body=True,
        next_cursor_path="cursor",
        has_more_path="has_more",
    )
    return (
        "/cursor-body",
        pagination,
        {"method": "POST", "json": {"limit": size}, "data_path": "items"},
    )


DIALECTS = ["cursor", "page", "offset", "link-body", "link-header", "cursor-body"]
interruption = st.tuples(
    st.one_of(st.none(), st.integers(0, 15)),  # limit
    st.one_of(st.none(), st.integers(0, 4)),  # crash after this many pages
    st.integers(0, 12),  # records of the crashing page delivered before the crash
)


async def interrupted_run(
    client: CollectorClient,
    step: tuple[int | None, int | None, int],
    state: CollectorState | None,
) -> tuple[list[str], CollectorState | None]:
    """One run cut short by a limit or a crash; returns what was delivered and the saved state."""
    limit, crash_after, partial = step
    delivered: list[str] = []
    stream = client.iter_pages(limit=limit, resume_state=state)
    async with stream:
        async for page in stream:
            if crash_after is not None and page.number > crash_after:
                taken = min(partial, len(page.events))
                delivered += ids(page.events[:taken])
                state = page.state_after(taken)
                break
            delivered += ids(page.events)
            state = page.state
    # the state goes through JSON, as a real store would keep it
    return delivered, CollectorState.from_dict(state.to_dict()) if state else None


async def resume_until_done(
    client: CollectorClient, steps: list[tuple[int | None, int | None, int]]
) -> list[str]:
    delivered: list[str] = []
    state: CollectorState | None = None
    for step in steps:
        taken, state = await interrupted_run(client, step, state)
        delivered += taken
    final = await client.collect_events(resume_state=state)
    return delivered + ids(final.events)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(DIALECTS),
    count=st.integers(0, 40),
    size=st.integers(1, 12),
    steps=st.lists(interruption, max_size=5),
)
def test_collect_then_resume_yields_every_record_once_in_order(
    api: FakeAPI,
    name: str,
    count: int,
    size: int,
    steps: list[tuple[int | None, int | None, int]],
) -> None:
    api.records = make_records(count)
    endpoint, pagination, request = dialect(name, size)
    clock = FakeClock(start=(T0 + timedelta(days=1)).timestamp())
    bp = blueprint(api, clock, endpoint, pagination, request=request)

    async def scenario() -> list[str]:
        async with CollectorClient(bp) as client:
            return await resume_until_done(client, steps)

    assert asyncio.run(scenario()) == ids(api.records)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    count=st.integers(0, 30),
    size=st.integers(1, 8),
    tie=st.integers(1, 5),
    overlap=st.sampled_from([0, 120, 3600]),
    steps=st.lists(st.tuples(interruption, st.integers(0, 4)), max_size=6),
)
def test_incremental_resume_with_tied_timestamps_is_exact(
    api: FakeAPI,
    count: int,
    size: int,
    tie: int,
    overlap: int,
    steps: list[tuple[tuple[int | None, int | None, int], int]],
) -> None:
    # ``tie`` records share each minute; they become visible as the clock passes them, and
    # the clock moves between runs, so windows close on tied instants and overlaps re-read them
    records = make_records(count)
    for i, record in enumerate(records):
        record["created"] = (T0 + timedelta(minutes=i // tie)).isoformat()
    api.records = records
    clock = FakeClock(start=T0.timestamp())
    incremental = IncrementalConfig(
        timestamp_field="created", start_param="since", end_param="until", overlap=overlap
    )
    pagination = PaginationConfig(
        mode="cursor",
        next_cursor_path="meta.next_cursor",
        page_size_param="limit",
        page_size=size,
    )
    request = {"data_path": "data.events", "incremental": incremental}
    bp = blueprint(api, clock, "/cursor", pagination, request=request)

    async def scenario() -> list[str]:
        delivered: list[str] = []
        state: CollectorState | None = None
        async with CollectorClient(bp) as client:
            for step, minutes in steps:
                taken, state = await interrupted_run(client, step, state)
                delivered += taken
                clock.advance(60 * minutes)
            clock.advance(60 * (count // tie + 1))
            final = await client.collect_events(resume_state=state)
        return delivered + ids(final.events)

    assert scenario_result(scenario) == ids(api.records)


def scenario_result(scenario: Any) -> list[str]:
    result: list[str] = asyncio.run(scenario())
    return result


def repeat_previous_tail_once(api: FakeAPI, back: int) -> None:
    """The next cursor request past the first page starts ``back`` records early (the
    simulator's ``duplicates`` fault), once."""
    pending = {"on": back > 0}

    def respond(request: Any) -> Response | None:
        cursor = request.args.get("cursor")
        if not cursor or not pending["on"]:
            return None
        pending["on"] = False
        size = int(request.args["limit"])
        start = max(0, int(cursor[1:]) - min(back, size - 1))  # each page still moves on
        end = start + size
        body = {
            "data": {"events": api.records[start:end]},
            "meta": {"next_cursor": f"c{end}" if end < len(api.records) else ""},
        }
        return Response(json.dumps(body), mimetype="application/json")

    api.fail = respond


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    count=st.integers(0, 40),
    size=st.integers(1, 12),
    steps=st.lists(
        st.tuples(interruption, st.integers(0, 4), st.integers(0, 6)),  # repeat, then append
        max_size=5,
    ),
)
def test_resuming_into_a_page_that_changed_loses_nothing(
    api: FakeAPI,
    count: int,
    size: int,
    steps: list[tuple[tuple[int | None, int | None, int], int, int]],
) -> None:
    # between runs a page may repeat the previous page's tail and new records may arrive, so
    # a page asked for again is not the page seen before: what was delivered from it must be
    # recognised by the records, never by their position
    api.records = make_records(count)
    endpoint, pagination, request = dialect("cursor", size)
    clock = FakeClock(start=(T0 + timedelta(days=1)).timestamp())
    bp = blueprint(api, clock, endpoint, pagination, request=request)

    async def scenario() -> list[str]:
        delivered: list[str] = []
        state: CollectorState | None = None
        async with CollectorClient(bp) as client:
            for step, back, arriving in steps:
                repeat_previous_tail_once(api, back)
                taken, state = await interrupted_run(client, step, state)
                delivered += taken
                start = len(api.records)
                api.records += make_records(arriving, start=T0 + timedelta(days=1))
                for offset, record in enumerate(api.records[start:]):
                    record["id"] = f"late{start + offset:05d}"
            api.fail = None
            final = await client.collect_events(resume_state=state)
        return delivered + ids(final.events)

    assert set(scenario_result(scenario)) == set(ids(api.records))
