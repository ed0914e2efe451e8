"""CollectorState through JSON and in a dict context; config validation of requests/blueprints."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from collectorkit import (
    CollectorBlueprint,
    CollectorClient,
    CollectorRequest,
    CollectorState,
    ConfigError,
    ExecutionMetrics,
)


def full_state() -> CollectorState:
    shard = CollectorState(offset=40, watermark=datetime(2024, 5, 1, 1, tzinfo=UTC))
    return CollectorState(
        cursor="abc",
        page=3,
        offset=None,
        next_link="https://api.example.com/x?after=1",
        skip=2,
        skip_keys=frozenset({"0f3a", "9c1d"}),
        window_start=datetime(2024, 5, 1, tzinfo=UTC),
        window_end=datetime(2024, 5, 2, 12, 30, 0, 250000, tzinfo=UTC),
        watermark=datetime(2024, 5, 1, 6, tzinfo=UTC),
        boundary_ids={"a": 1714543200.0},
        has_more=True,
        metadata={"note": "x"},
        shards={"eu": shard},
    )


def test_round_trip_through_json_text() -> None:
    state = full_state()
    text = json.dumps(state.to_dict())
    assert CollectorState.from_dict(json.loads(text)) == state
    assert json.loads(text)["watermark"] == "2024-05-01T06:00:00Z"
    assert json.loads(text)["version"] == 1


def test_empty_or_missing_state_is_fresh() -> None:
    assert CollectorState.from_dict(None) == CollectorState()
    assert CollectorState.from_dict({}) == CollectorState()
    assert not CollectorState().has_position


def test_a_state_saved_with_only_a_count_still_loads() -> None:
    # before skip_keys existed, a position inside a page was only a count
    saved = {"version": 1, "cursor": "c10", "skip": 3, "has_more": True}
    state = CollectorState.from_dict(saved)
    assert (state.cursor, state.skip, state.skip_keys) == ("c10", 3, frozenset())
    assert "skip_keys" not in state.to_dict()  # nothing new is written when nothing is named
    assert sorted(full_state().to_dict()["skip_keys"]) == ["0f3a", "9c1d"]


def test_seed_style_next_link_in_metadata_is_accepted() -> None:
    state = CollectorState.from_dict({"metadata": {"next_link": "https://a/b"}})
    assert state.next_link == "https://a/b"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"cursor": 5}, "state.cursor"),
        ({"page": "2"}, "state.page"),
        ({"skip": True}, "state.skip"),
        ({"skip": 2, "skip_keys": "0f3a"}, "state.skip_keys"),
        ({"skip": 2, "skip_keys": ["0f3a", 7]}, "state.skip_keys"),
        ({"watermark": "yesterday"}, "state.watermark"),
        ({"version": 99}, "state.version"),
    ],
)
def test_bad_state_names_the_field(data: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        CollectorState.from_dict(data)


def test_state_lives_under_collector_client_name_and_key_in_a_context() -> None:
    context: dict = {"other": 1}
    state = full_state()
    state.to_context(context, "MyCollector", "events-default")
    assert context["other"] == 1
    assert context["collector_client"]["MyCollector"]["events-default"]["cursor"] == "abc"
    assert CollectorState.from_context(context, "MyCollector", "events-default") == state
    assert CollectorState.from_context(context, "MyCollector", "other-key") is None
    assert CollectorState.from_context(None, "MyCollector", "events-default") is None


def test_pagination_and_incremental_accept_mappings() -> None:
    request = CollectorRequest(
        endpoint="/x",
        pagination={"mode": "cursor", "next_cursor_path": "meta.next"},
        incremental={"timestamp_field": "created", "initial_lookback": "2d"},
    )
    assert request.pagination.mode == "cursor"
    assert request.incremental is not None
    assert request.incremental.initial_lookback == 172800.0


def test_client_helpers_use_the_blueprint_name_and_state_key() -> None:
    request = CollectorRequest(endpoint="/v1/events", state_key="events-default")
    bp = CollectorBlueprint(name="MyCollector", base_url="https://api.example.com", request=request)
    client = CollectorClient(bp)
    context: dict = {}
    client.save_state(context, CollectorState(cursor="c1"))
    assert list(context["collector_client"]["MyCollector"]) == ["events-default"]
    assert client.load_state(context) == CollectorState(cursor="c1")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"endpoint": ""}, "request.endpoint"),
        ({"endpoint": "/x", "method": "FETCH"}, "request.method"),
        ({"endpoint": "/x", "data_path": "a..b"}, "request.data_path"),
        ({"endpoint": "/x", "shards": [{"params": {}}]}, r"request.shards\[0\]"),
        (
            {"endpoint": "/x", "shards": [{"state_key": "a"}, {"state_key": "a"}]},
            r"request.shards\[1\]",
        ),
        ({"endpoint": "/x", "pagination": 5}, "request.pagination"),
        ({"endpoint": "/x", "pagination": {"mode": "cursor"}}, "request.pagination.next_cursor"),
        ({"endpoint": "/x", "pagination": {"mood": "cursor"}}, "request.pagination: .*mood"),
        ({"endpoint": "/x", "incremental": {"timestamp_field": "t", "overlap": "x"}}, "overlap"),
    ],
)
def test_bad_request_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        CollectorRequest(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "blueprint.name"),
        ({"base_url": "api.example.com"}, "blueprint.base_url"),
        ({"concurrency": 0}, "blueprint.concurrency"),
        ({"time_margin": "soon"}, "blueprint.time_margin"),
    ],
)
def test_bad_blueprint_names_the_field(kwargs: dict, field: str) -> None:
    base = {
        "name": "C",
        "base_url": "https://api.example.com",
        "request": CollectorRequest(endpoint="/x"),
    }
    with pytest.raises(ConfigError, match=field):
        CollectorBlueprint(**{**base, **kwargs})


def test_metrics_list_the_non_zero_counters_for_command_results() -> None:
    metrics = ExecutionMetrics(success=3, quota_error=1, retry_error=1)
    assert metrics.metrics == [
        {"type": "success", "count": 3},
        {"type": "quota_error", "count": 1},
        {"type": "retry_error", "count": 1},
    ]


def test_the_delivered_records_are_named_only_while_a_page_is_partly_taken() -> None:
    partly = CollectorState(cursor="c10", skip=2, skip_keys=frozenset({"0f3a", "9c1d"}))
    assert partly.replace(cursor="c20", skip=0).skip_keys == frozenset()
    assert partly.reset_position().skip_keys == frozenset()
