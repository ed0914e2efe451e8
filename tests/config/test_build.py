"""Builders turn a loaded config into working library objects; layer errors land at YAML paths."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectorkit.config._build import (
    build_blueprint,
    build_dead_letter,
    build_pipeline_for,
    build_sinks,
    build_source,
)
from collectorkit.config._issues import ConfigValidationError
from collectorkit.config._load import load_config, parse_config_text
from collectorkit.config._models import SinkConfig
from collectorkit.config._xdr_env import config_from_env
from collectorkit.http import (
    APIKeyAuthHandler,
    BearerTokenAuthHandler,
    RateLimitPolicy,
    RetryPolicy,
)
from collectorkit.sources import HTTPCollectorSource, LongPollSource, SSESource, WebSocketSource

from .test_load import DESIGN_EXAMPLE, ENV


def test_design_example_builds_a_blueprint() -> None:
    config = load_config(parse_config_text(DESIGN_EXAMPLE), env=ENV)
    blueprint = build_blueprint(config.sources[0])
    assert blueprint.name == "xdr_alerts"
    assert isinstance(blueprint.auth_handler, BearerTokenAuthHandler)
    assert isinstance(blueprint.retry_policy, RetryPolicy)
    assert blueprint.retry_policy.max_attempts == 5
    assert isinstance(blueprint.rate_limit, RateLimitPolicy)
    assert (blueprint.rate_limit.rate_per_second, blueprint.rate_limit.burst) == (5.0, 10)
    assert blueprint.request.pagination.mode == "cursor"
    assert blueprint.request.pagination.next_cursor_path == "meta.next_cursor"
    assert blueprint.request.incremental is not None
    assert blueprint.request.incremental.start_param == "since"
    assert len(build_pipeline_for(config.sources[0]).processors) == 1
    assert [type(s).__name__ for s in build_sinks(config)] == ["SQLiteSink", "JSONLSink"]
    assert build_dead_letter(config) is None
    with_dead_letter = config.model_copy(
        update={"dead_letter": SinkConfig(type="jsonl", path="dead/{source}.jsonl")}
    )
    assert type(build_dead_letter(with_dead_letter)).__name__ == "JSONLSink"


def test_seed_002_environment_builds_the_xdr_collector() -> None:
    config = config_from_env(
        {"XDR_BASE_URL": "https://api-t.xdr.test", "XDR_AUTH_TOKEN": "k-0042", "XDR_AUTH_ID": "9"}
    )
    blueprint = build_blueprint(config.sources[0])
    assert isinstance(blueprint.auth_handler, APIKeyAuthHandler)
    assert blueprint.auth_handler.header_name == "Authorization"
    # the key id travels with the key: the api_key handler sends it beside the key
    assert (blueprint.auth_handler.key_id_header, blueprint.auth_handler.key_id) == (
        "x-xdr-auth-id",
        "9",
    )
    assert blueprint.request.method == "POST"
    assert blueprint.request.pagination.offset_end_param == "request_data.search_to"
    assert [type(s).__name__ for s in build_sinks(config)] == ["JSONFileSink"]


async def test_a_configured_http_source_collects_from_a_real_server(
    httpserver: HTTPServer,
) -> None:
    def handler(request: Request) -> Response:
        assert request.headers["Authorization"] == "Bearer tok-77aa"
        page = int(request.args.get("page", 1))
        data = [{"id": f"{page}-{i}"} for i in range(2)] if page <= 3 else []
        return Response(json.dumps({"items": data}), content_type="application/json")

    httpserver.expect_request("/v2/events").respond_with_handler(handler)
    config = load_config(
        {
            "sources": [
                {
                    "name": "events",
                    "base_url": httpserver.url_for("/").rstrip("/"),
                    "auth": {"type": "bearer", "token": "${TOKEN}"},
                    "request": {
                        "endpoint": "/v2/events",
                        "data_path": "items",
                        "pagination": {"mode": "page", "page_size": 2},
                    },
                }
            ]
        },
        env={"TOKEN": "tok-77aa"},
    )
    source = build_source(config.sources[0])
    assert isinstance(source, HTTPCollectorSource)
    async with source:
        records = await source.collect()
    assert [r["id"] for r in records] == ["1-0", "1-1", "2-0", "2-1", "3-0", "3-1"]


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("sse", SSESource), ("websocket", WebSocketSource), ("long_poll", LongPollSource)],
)
def test_streaming_sources_from_config(kind: str, cls: type) -> None:
    scheme = "ws" if kind == "websocket" else "https"
    config = load_config(
        {
            "sources": [
                {
                    "name": "feed",
                    "type": kind,
                    "base_url": f"{scheme}://feed.test",
                    "auth": {"type": "api_key", "key": "k-1234", "header_name": "X-Key"},
                    "request": {"endpoint": "/stream"},
                    "limit": 50,
                    "stream": {"batch_size": 7, "reconnect": {"initial_delay": "2s"}},
                }
            ]
        },
        env={},
    )
    stop = asyncio.Event()
    source: Any = build_source(config.sources[0], last_event_id="41", stop=stop)
    assert isinstance(source, cls)
    assert source.url == f"{scheme}://feed.test/stream"
    assert source._headers == {}  # credentials come from the auth handler, through its flow
    assert source.auth.header_name == "X-Key"
    assert (source.batch_size, source.max_events, source.last_event_id) == (7, 50, "41")
    assert source.reconnect.initial_delay == 2.0
    assert source.stop is stop


def test_layer_checks_run_at_load_and_name_the_yaml_path() -> None:
    data = {
        "sinks": [{"type": "json_files", "bogus": 1}],
        "sources": [
            {
                "name": "a",
                "type": "sse",
                "base_url": "https://a.test",
                "auth": {
                    "type": "oauth2",
                    "token_url": "https://a.test/token",
                    "client_id": "c",
                    "client_secret": "s3cret-value",
                },
                "request": {"endpoint": "/s"},
            },
            {
                "name": "b",
                "base_url": "https://b.test",
                "request": {
                    "endpoint": "/e",
                    "pagination": {"mode": "cursor", "next_cursor_path": "meta[["},
                },
            },
        ],
    }
    with pytest.raises(ConfigValidationError) as info:
        load_config(data, env={})
    paths = [path for path, _ in info.value.issues]
    # the pagination object checks its path while the file is validated ...
    assert paths == ["sources[1].request.pagination.next_cursor_path"]
    data["sources"][1]["request"]["pagination"]["next_cursor_path"] = "meta.next"  # type: ignore[index]
    with pytest.raises(ConfigValidationError) as info:
        load_config(data, env={})
    # ... and building the sources and sinks finds the rest, each at its YAML path (an SSE source
    # takes OAuth2 like any other: it reads through the same client and auth flow)
    assert [path for path, _ in info.value.issues] == ["sinks[0]"]
    assert "s3cret-value" not in str(info.value)


def test_callbacks_are_checked_at_load() -> None:
    source = {
        "name": "a",
        "base_url": "https://a.test",
        "request": {"endpoint": "/e"},
        "callbacks": [{"python": "nope.mod:f"}, {"command": "echo new"}, {"webhook": "ftp://x"}],
        "processed_ids": {"capacity": 500},
    }
    with pytest.raises(ConfigValidationError) as info:
        load_config({"sources": [source]}, env={})
    assert [path for path, _ in info.value.issues] == [
        "sources[0].callbacks[0].python",
        "sources[0].callbacks[2].webhook",
    ]
    source["callbacks"] = [{"command": "echo new"}, "json:dumps"]
    config = load_config({"sources": [source]}, env={})
    assert config.sources[0].processed_ids.capacity == 500
