"""Stopping and resuming: the time budget, failures that keep their partial result, expired
cursors, and the metrics each leaves behind."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response

from collectorkit import (
    AuthenticationError,
    CollectorClient,
    CollectorState,
    CollectorTimeoutError,
    IncrementalConfig,
    PaginationConfig,
    RetryPolicy,
    ServiceError,
    StopReason,
    TimeoutSettings,
)
from tests.collect.conftest import FakeAPI, blueprint, ids, make_records

CURSOR = PaginationConfig(
    mode="cursor", next_cursor_path="meta.next_cursor", page_size_param="limit", page_size=10
)
REQUEST = {"data_path": "data.events"}
NO_WAIT = RetryPolicy(max_attempts=2, initial_delay=0.01, jitter=False)


def slow_server(api: FakeAPI, clock, seconds: float) -> None:
    def on_request(_request: object) -> None:
        clock.advance(seconds)

    api.on_request = on_request


async def test_the_budget_stops_before_a_request_that_would_not_fit(api: FakeAPI, clock) -> None:
    api.records = make_records(100)
    slow_server(api, clock, 10)
    bp = blueprint(
        api, clock, "/cursor", CURSOR, request=REQUEST, timeout=TimeoutSettings(execution=35)
    )
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
        # 0s, 10s, 20s: a fourth request (10 s seen per request) would end past 35 - 1 s
        assert ids(result.events) == ids(api.records[:30])
        assert result.stop_reason is StopReason.TIME_BUDGET
        assert not result.complete
        assert result.state.cursor == "c30"
        rest = await client.collect_events(
            resume_state=result.state, strategy="sequential", limit=1000
        )
    assert ids(result.events + rest.events)[:60] == ids(api.records[:60])


async def test_raise_on_timeout_carries_the_partial_result(api: FakeAPI, clock) -> None:
    api.records = make_records(100)
    slow_server(api, clock, 10)
    bp = blueprint(
        api,
        clock,
        "/cursor",
        CURSOR,
        request=REQUEST,
        timeout=TimeoutSettings(execution=35),
        raise_on_timeout=True,
    )
    async with CollectorClient(bp) as client:
        with pytest.raises(CollectorTimeoutError) as caught:
            await client.collect_events()
    partial = caught.value.partial_result
    assert ids(partial.events) == ids(api.records[:30])
    assert partial.state.cursor == "c30"
    assert isinstance(caught.value, TimeoutError)


async def test_a_retry_after_longer_than_the_budget_is_not_waited_out(api: FakeAPI, clock) -> None:
    api.records = make_records(30)

    def throttle_second_page(request):
        if request.args.get("cursor") == "c10":
            # longer than the budget, shorter than RetryPolicy.max_server_wait
            return Response("{}", status=429, headers={"Retry-After": "120"})
        return None

    api.fail = throttle_second_page
    bp = blueprint(
        api,
        clock,
        "/cursor",
        CURSOR,
        request=REQUEST,
        retry_policy=RetryPolicy(max_attempts=5),
        timeout=TimeoutSettings(execution=60),
    )
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ids(api.records[:10])
    assert result.stop_reason is StopReason.TIME_BUDGET
    assert result.state.cursor == "c10"
    assert all(s < 60 for s in clock.sleeps)
    assert result.metrics.quota_error == 1


async def test_a_429_then_success_counts_a_quota_error_and_a_retry(api: FakeAPI, clock) -> None:
    api.records = make_records(15)
    hits: list[int] = []

    def throttle_once(request):
        if request.args.get("cursor") == "c10" and not hits:
            hits.append(1)
            return Response("{}", status=429, headers={"Retry-After": "2"})
        return None

    api.fail = throttle_once
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST, retry_policy=NO_WAIT)
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert ids(result.events) == ids(api.records)
    assert result.metrics.quota_error == 1
    assert result.metrics.retry_error == 1
    assert result.metrics.success == 2
    assert 2.0 in clock.sleeps  # Retry-After honoured, on the fake clock


async def test_a_failure_keeps_what_was_collected_and_where_to_resume(api: FakeAPI, clock) -> None:
    api.records = make_records(40)
    broken = {"on": True}

    def fail_third_page(request):
        if request.args.get("cursor") == "c20" and broken["on"]:
            return Response("{}", status=503)
        return None

    api.fail = fail_third_page
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST, retry_policy=NO_WAIT)
    async with CollectorClient(bp) as client:
        with pytest.raises(ServiceError) as caught:
            await client.collect_events()
        partial = caught.value.partial_result
        assert ids(partial.events) == ids(api.records[:20])
        assert partial.state.cursor == "c20"
        assert partial.metrics.service_error == 2
        assert partial.metrics.retry_error == 1
        broken["on"] = False
        rest = await client.collect_events(resume_state=partial.state)
    assert ids(rest.events) == ids(api.records[20:])


async def test_refused_credentials_raise_with_the_partial_result(api: FakeAPI, clock) -> None:
    api.records = make_records(30)
    api.fail = lambda r: Response("{}", status=401) if r.args.get("cursor") else None
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST, retry_policy=NO_WAIT)
    async with CollectorClient(bp) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.collect_events()
    assert ids(caught.value.partial_result.events) == ids(api.records[:10])
    assert caught.value.partial_result.metrics.auth_error >= 1


async def test_an_expired_cursor_falls_back_to_the_watermark(api: FakeAPI, clock) -> None:
    api.records = make_records(40, step=600)
    incremental = IncrementalConfig(
        timestamp_field="created", start_param="since", end_param="until", overlap="30m"
    )
    request = {**REQUEST, "incremental": incremental}
    bp = blueprint(api, clock, "/cursor", CURSOR, request=request)
    async with CollectorClient(bp) as client:
        first = await client.collect_events(limit=15)
        assert first.state.cursor == "c10"
        api.expired_cursors.add("c10")
        rest = await client.collect_events(resume_state=first.state)
    assert ids(first.events + rest.events) == ids(api.records)
    assert rest.metrics.cursor_resets == 1
    assert rest.complete


async def test_an_expired_cursor_without_a_watermark_walks_afresh(api: FakeAPI, clock) -> None:
    # issue 11 item 12: not a failure forever; the sinks' keys absorb what the walk repeats
    api.records = make_records(30)
    api.expired_cursors.add("c10")
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    async with CollectorClient(bp) as client:
        result = await client.collect_events(resume_state=CollectorState(cursor="c10"))
    assert ids(result.events) == ids(api.records)
    assert result.metrics.cursor_resets == 1
    assert result.complete


async def test_a_400_mid_walk_is_not_mistaken_for_an_expired_cursor(api: FakeAPI, clock) -> None:
    api.records = make_records(30)
    api.expired_cursors.add("c20")
    incremental = IncrementalConfig(timestamp_field="created", start_param="since")
    bp = blueprint(api, clock, "/cursor", CURSOR, request={**REQUEST, "incremental": incremental})
    async with CollectorClient(bp) as client:
        with pytest.raises(Exception, match="400") as caught:
            await client.collect_events()
    assert caught.value.partial_result.state.cursor == "c20"


async def test_max_pages_stops_incomplete(api: FakeAPI, clock) -> None:
    api.records = make_records(50)
    bp = blueprint(api, clock, "/cursor", CURSOR.replace(max_pages=2), request=REQUEST)
    async with CollectorClient(bp) as client:
        result = await client.collect_events()
    assert len(result.events) == 20
    assert result.stop_reason is StopReason.MAX_PAGES
    assert not result.complete


async def test_an_open_breaker_fails_fast_and_keeps_the_partial_result(api: FakeAPI, clock) -> None:
    from collectorkit import CircuitBreakerPolicy, CircuitOpenError

    api.records = make_records(30)
    api.fail = lambda r: Response("{}", status=503) if r.args.get("cursor") == "c10" else None
    bp = blueprint(
        api,
        clock,
        "/cursor",
        CURSOR,
        request=REQUEST,
        retry_policy=NO_WAIT,
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=2, recovery_timeout=60),
    )
    async with CollectorClient(bp) as client:
        with pytest.raises(ServiceError) as first:
            await client.collect_events()
        sent = len(api.requests)
        with pytest.raises(CircuitOpenError) as second:
            await client.collect_events(resume_state=first.value.partial_result.state)
    assert len(api.requests) == sent  # failed fast: nothing was sent
    assert ids(first.value.partial_result.events) == ids(api.records[:10])
    assert second.value.partial_result.state.cursor == "c10"
    assert second.value.partial_result.metrics.general_error == 1


# --- resuming inside a page the API changed since ------------------------------------------------
# A run stopped mid-page (a limit, a batch) or on a last page without a next cursor saves a
# position inside that page; the next run asks for the page again. Real APIs insert records in
# it, drop expired ones or repeat the previous page's tail, so what was delivered is recognised by
# the records themselves, never by how many came first.


async def test_a_limit_mid_page_then_a_record_inserted_before_it_loses_nothing(
    api: FakeAPI, clock
) -> None:
    api.records = make_records(25)
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    async with CollectorClient(bp) as client:
        first = await client.collect_events(limit=5)
        assert ids(first.events) == ids(api.records[:5])
        newer = {"id": "new", "created": api.records[0]["created"], "n": -1}
        api.records = [newer, *api.records]  # the first page now starts one record earlier
        rest = await client.collect_events(resume_state=first.state)
    delivered = ids(first.events + rest.events)
    assert sorted(delivered) == sorted(ids(api.records))  # nothing lost, nothing twice


async def test_a_last_page_without_a_next_cursor_that_shifted_loses_nothing(
    api: FakeAPI, clock
) -> None:
    api.records = make_records(23)
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    async with CollectorClient(bp) as client:
        first = await client.collect_events()
        assert first.state.cursor == "c20"  # the last page is asked for again next time
        # the oldest record expired and four arrived: the last page shifted by one
        api.records = make_records(27)[1:]
        rest = await client.collect_events(resume_state=first.state)
    assert ids(rest.events) == ids(make_records(27)[23:])


async def test_a_batch_ending_in_a_page_that_repeated_the_previous_tail_loses_nothing(
    api: FakeAPI, clock
) -> None:
    # the simulator's `duplicates` fault: once, the page starts two records early
    api.records = make_records(30)
    repeat = {"pending": True}

    def repeat_previous_tail(request):
        if request.args.get("cursor") == "c10" and repeat.pop("pending", False):
            body = {"data": {"events": api.records[8:18]}, "meta": {"next_cursor": "c18"}}
            return Response(json.dumps(body), mimetype="application/json")
        return None

    api.fail = repeat_previous_tail
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    async with CollectorClient(bp) as client:
        pages = client.iter_pages(resume_state=CollectorState(cursor="c10"))
        async with pages:
            page = await pages.__anext__()
        delivered = ids(page.events[:6])  # r8, r9 again, then r10-r13
        state = CollectorState.from_dict(page.state_after(6).to_dict())  # through JSON
        rest = await client.collect_events(resume_state=state)
    assert delivered + ids(rest.events) == ids(api.records[8:])


async def test_a_state_saved_with_only_a_count_redelivers_the_whole_page(
    api: FakeAPI, clock
) -> None:
    # an older collectorkit saved how many records of the page were taken, not which
    api.records = make_records(15)
    old = CollectorState.from_dict({"version": 1, "cursor": "c10", "skip": 3})
    newer = {"id": "new", "created": api.records[10]["created"], "n": -1}
    api.records.insert(11, newer)  # lands among the three already taken
    bp = blueprint(api, clock, "/cursor", CURSOR, request=REQUEST)
    async with CollectorClient(bp) as client:
        rest = await client.collect_events(resume_state=old)
    # re-delivery is safe (sinks are idempotent on the record key); skipping by position is not
    assert ids(rest.events) == ids(api.records[10:])
