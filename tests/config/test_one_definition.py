"""One definition per concept: the library and the YAML file build the same objects.

Each test would fail if a second list of fields, defaults, duration spellings or auth parameters
grew back in the configuration layer.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from collectorkit import AuthConfig, AuthLocation, AuthType
from collectorkit.cli._app import app
from collectorkit.collect import CollectorRequest, IncrementalConfig, PaginationConfig, Shard
from collectorkit.config import ConfigValidationError, load_config
from collectorkit.config._build import build_blueprint, build_source
from collectorkit.config._source import STREAM_SOURCES, STREAM_SUPPLIED
from collectorkit.http import (
    AuthHandler,
    BearerTokenAuthHandler,
    CircuitBreakerPolicy,
    RateLimitPolicy,
    Request,
    RetryPolicy,
    TimeoutSettings,
)
from collectorkit.http._auth_kinds import AUTH_KINDS, build_auth_handler
from collectorkit.sources import ReconnectPolicy, StreamingSource


def _source(**settings: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "name": "alerts",
        "base_url": "https://api.example.test",
        "request": {"endpoint": "/v1/alerts"},
    }
    return {"sources": [{**source, **settings}]}


def _loaded(**settings: Any) -> Any:
    return load_config(_source(**settings), env={}).sources[0]


# --- durations: one reader ---------------------------------------------------------------------

SPELLINGS = ["1min", "90s", "1h30m", "500ms", "2", 2.5, "1 min"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_library_and_the_yaml_read_the_same_durations(spelling: Any) -> None:
    library = RetryPolicy(initial_delay=spelling, max_delay="2h")
    yaml = _loaded(retry={"initial_delay": spelling, "max_delay": "2h"}).retry
    assert yaml == library
    assert _loaded(timeout=spelling).timeout == TimeoutSettings(connect=spelling, read=spelling)
    assert _loaded(interval=spelling).interval == library.initial_delay


def test_a_timedelta_is_a_duration_in_both() -> None:
    assert _loaded(jitter=timedelta(minutes=1)).jitter == 60.0
    assert RetryPolicy(initial_delay=timedelta(minutes=1)).initial_delay == 60.0


def test_stream_reconnect_reads_durations_like_the_library() -> None:
    stream = {"reconnect": {"initial_delay": "1min", "max_delay": "5m"}}
    source = _loaded(type="sse", stream=stream)
    assert source.stream.reconnect == ReconnectPolicy(initial_delay="1min", max_delay="5m")
    assert source.stream.reconnect.initial_delay == 60.0


STREAM_DURATIONS = {
    "sse": {"batch_timeout": "2s", "idle_timeout": "1min", "connect_timeout": "500ms"},
    "long_poll": {"batch_timeout": "2s", "poll_timeout": "1min", "idle_delay": "500ms"},
    "websocket": {"open_timeout": "2s", "close_timeout": "500ms", "ping_interval": "1min"},
}


@pytest.mark.parametrize("kind", sorted(STREAM_SOURCES))
def test_stream_options_are_the_source_class_parameters(kind: str) -> None:
    # every option of the class (through **options into StreamingSource) but the supplied ones
    cls = STREAM_SOURCES[kind]
    model = type(_loaded(type=kind, base_url=_stream_url(kind), stream={}).stream)
    expected = {
        name
        for name, param in inspect.signature(cls).parameters.items()
        if param.kind is param.KEYWORD_ONLY
    } | set(inspect.signature(StreamingSource).parameters)
    expected -= set(STREAM_SUPPLIED) | {"resume_message"}  # a callable is not a setting
    assert set(model.model_fields) == expected


@pytest.mark.parametrize("kind", sorted(STREAM_DURATIONS))
def test_stream_durations_read_the_same_in_the_library_and_the_yaml(kind: str) -> None:
    options = STREAM_DURATIONS[kind]
    source = _loaded(type=kind, base_url=_stream_url(kind), stream=options)
    built: Any = build_source(source)
    url = _stream_url(kind) + "/v1/alerts"
    library: Any = STREAM_SOURCES[kind](url, source_id="alerts", **options)
    assert repr(built) == repr(library)
    for attr in ("batch_timeout", "poll_timeout", "idle_delay", "_open_timeout", "_timeouts"):
        assert getattr(built, attr, None) == getattr(library, attr, None)
    assert built.batch_timeout == (2.0 if "batch_timeout" in options else 1.0)


def _stream_url(kind: str) -> str:
    return "wss://api.example.test" if kind == "websocket" else "https://api.example.test"


def test_an_unknown_stream_option_lists_that_source_class_options() -> None:
    with pytest.raises(ConfigValidationError) as caught:
        _loaded(type="long_poll", stream={"idle_timeout": "1m"})  # an SSE option
    (issue,) = caught.value.issues
    assert issue[0] == "sources[0].stream.idle_timeout"
    assert "poll_timeout" in issue[1]
    assert "connect_timeout" not in issue[1]


def test_a_source_class_check_lands_at_the_stream_option() -> None:
    with pytest.raises(ConfigValidationError) as caught:
        _loaded(type="sse", stream={"batch_size": 0})
    assert caught.value.issues == [("sources[0].stream.batch_size", "must be >= 1, got 0")]


def test_the_cli_accepts_the_same_durations(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "state: memory://\nsinks: [{type: memory}]\nsources:\n"
        "  - {name: a, base_url: 'https://a.test', interval: 1min,\n"
        "     retry: {initial_delay: 1min, max_delay: 1h}, request: {endpoint: /e}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output


# --- defaults: defined once, by the library ------------------------------------------------------


def test_an_unset_policy_is_the_library_default() -> None:
    source = _loaded()
    assert source.retry == RetryPolicy()
    assert source.timeout == TimeoutSettings()
    assert source.request.pagination == PaginationConfig()
    blueprint = build_blueprint(source)
    assert blueprint.retry_policy == RetryPolicy()
    assert blueprint.timeout == TimeoutSettings()


def test_a_partly_given_policy_takes_every_other_default_from_the_library() -> None:
    source = _loaded(
        rate_limit={"rate_per_second": 5},
        circuit_breaker={"failure_threshold": 3},
        request={
            "endpoint": "/e",
            "pagination": {"mode": "page"},
            "incremental": {"timestamp_field": "created_at"},
        },
    )
    assert source.rate_limit == RateLimitPolicy(rate_per_second=5)
    assert source.circuit_breaker == CircuitBreakerPolicy(failure_threshold=3)
    assert source.request.pagination == PaginationConfig(mode="page")
    assert source.request.incremental == IncrementalConfig(timestamp_field="created_at")
    assert build_source(_loaded(type="long_poll", stream={})).reconnect == ReconnectPolicy()


def test_options_the_library_has_are_options_the_yaml_has() -> None:
    # next_cursor_header was a library option the file could not set
    pagination = {"mode": "cursor", "next_cursor_header": "X-Next"}
    source = _loaded(request={"endpoint": "/e", "pagination": pagination})
    assert source.request.pagination == PaginationConfig(mode="cursor", next_cursor_header="X-Next")


# --- auth: one vocabulary ------------------------------------------------------------------------


def _sent(handler: AuthHandler | None) -> tuple[dict[str, str], dict[str, Any], bytes | None]:
    request = Request("GET", "https://api.example.test/e")
    if handler is not None:
        handler.on_request(request)
    return dict(request.headers.items()), request.params, request.content


AGREEING: list[tuple[dict[str, Any], AuthConfig]] = [
    ({"type": "bearer", "token": "tok-5521"}, AuthConfig(type=AuthType.BEARER, token="tok-5521")),
    (
        {"type": "api_key", "key": "key-5521", "header_name": "X-Key"},
        AuthConfig(type=AuthType.API_KEY, token="key-5521", token_key="X-Key"),
    ),
    (
        {"type": "api_key", "key": "key-5521", "query_param": "apikey"},
        AuthConfig(
            type=AuthType.API_KEY,
            token="key-5521",
            token_location=AuthLocation.QUERY,
            token_key="apikey",
        ),
    ),
    (
        {"type": "api_key", "key": "key-5521", "body_field": "api_key"},
        AuthConfig(
            type=AuthType.API_KEY,
            token="key-5521",
            token_location=AuthLocation.BODY,
            token_key="api_key",
        ),
    ),
    (
        {"type": "basic", "username": "u", "password": "pw-5521"},
        AuthConfig(type=AuthType.BASIC, username="u", password="pw-5521"),
    ),
    (
        {"type": "custom", "headers": {"X-Sig": "sig-5521"}},
        AuthConfig(type=AuthType.CUSTOM, custom_headers={"X-Sig": "sig-5521"}),
    ),
]


@pytest.mark.parametrize(("yaml", "seed"), AGREEING, ids=[a[0]["type"] for a in AGREEING])
def test_the_yaml_and_the_seed_spelling_send_the_same_credentials(
    yaml: dict[str, Any], seed: AuthConfig
) -> None:
    from_yaml = _loaded(auth=yaml).auth.build()
    options = {k: v for k, v in yaml.items() if k != "type"}
    assert _sent(from_yaml) == _sent(seed.to_handler())
    assert _sent(from_yaml) == _sent(build_auth_handler(yaml["type"], **options))


def test_every_auth_kind_of_the_registry_is_a_yaml_type() -> None:
    with pytest.raises(ValueError, match="unknown auth kind") as info:
        load_config(_source(auth={"type": "kerberos"}), env={})
    assert f"unknown auth kind 'kerberos'; known: {', '.join(AUTH_KINDS)}" in str(info.value)


def test_a_handler_option_is_an_auth_option() -> None:
    source = _loaded(
        auth={"type": "api_key", "key": "k-1234", "key_id": "7", "key_id_header": "x-id"}
    )
    headers, _, _ = _sent(source.auth.build())
    assert headers == {"X-API-Key": "k-1234", "x-id": "7"}


def test_the_seed_spelling_builds_through_the_auth_kind_registry() -> None:
    class AuditedBearer(BearerTokenAuthHandler):
        pass

    original = AUTH_KINDS["bearer"]
    AUTH_KINDS.register("bearer", AuditedBearer)
    try:
        seed = AuthConfig(type=AuthType.BEARER, token="tok-5521").to_handler()
        from_yaml = _loaded(auth={"type": "bearer", "token": "tok-5521"}).auth.build()
    finally:
        AUTH_KINDS.register("bearer", original)
    assert isinstance(seed, AuditedBearer)
    assert isinstance(from_yaml, AuditedBearer)
    # a bearer token outside the Authorization header is the api_key kind with prefix Bearer
    in_query = AuthConfig(
        type=AuthType.BEARER,
        token="tok-5521",
        token_location=AuthLocation.QUERY,
        token_key="access_token",
    ).to_handler()
    expected = build_auth_handler(
        "api_key", key="tok-5521", query_param="access_token", prefix="Bearer"
    )
    assert _sent(in_query) == _sent(expected) != _sent(None)


# --- the request: the collector's own CollectorRequest -----------------------------------------


def test_the_yaml_request_is_the_library_request() -> None:
    request = {
        "endpoint": "/v1/alerts",
        "method": "post",
        "json": {"filter": "{start}"},
        "data_path": "data.alerts",
        "pagination": {"mode": "cursor", "next_cursor_path": "meta.next"},
        "incremental": {"timestamp_field": "created_at", "overlap": "1 min"},
        "shards": [{"state_key": "eu", "params": {"region": "eu"}}],
    }
    library = CollectorRequest(
        endpoint="/v1/alerts",
        method="POST",
        json={"filter": "{start}"},
        data_path="data.alerts",
        pagination=PaginationConfig(mode="cursor", next_cursor_path="meta.next"),
        incremental=IncrementalConfig(timestamp_field="created_at", overlap=60),
        shards=[Shard(state_key="eu", params={"region": "eu"})],
    )
    source = _loaded(request=request)
    assert source.request == library
    assert build_blueprint(source).request == library
    again = load_config(load_config(_source(request=request), env={}).to_dict(reveal_secrets=True))
    assert again.sources[0].request == library


def test_the_request_options_are_the_constructor_parameters() -> None:
    with pytest.raises(ValueError, match="unknown setting") as info:
        _loaded(request={"endpoint": "/e", "bogus": 1})
    allowed = str(info.value).rpartition("(allowed: ")[2].rstrip(")").split(", ")
    settable = [
        name
        for name in inspect.signature(CollectorRequest).parameters
        if name != "paginator"  # an object (any Paginator), not a setting
    ]
    assert allowed == settable


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (
            {"endpoint": "/e", "data_path": "data[["},
            "sources[0].request.data_path: invalid JMESPath 'data[['",
        ),
        (
            {"endpoint": "/e", "shards": [{"params": {}}]},
            "sources[0].request.shards[0].state_key: is missing (required)",
        ),
        (
            {"endpoint": "/e", "shards": [{"state_key": ""}]},
            "sources[0].request.shards[0].state_key: each shard needs a state_key, got ''",
        ),
        (
            {"endpoint": "/e", "shards": [{"state_key": "a"}, {"state_key": "a"}]},
            "sources[0].request.shards[1]: duplicate state_key 'a'",
        ),
    ],
)
def test_the_request_checks_land_at_the_yaml_path(request_: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigValidationError) as info:
        _loaded(request=request_)
    assert str(info.value).startswith(expected)
