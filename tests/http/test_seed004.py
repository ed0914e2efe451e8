"""Seed 004's extra surface: manual retry handler, auth manager, body auth, logging switches,
sync calls."""

from __future__ import annotations

import logging

import orjson
import pytest
from pytest_httpserver import HTTPServer
from structlog.testing import capture_logs

from collectorkit import (
    APIClient,
    APIClientConfig,
    AuthConfig,
    AuthType,
    ConfigError,
    OAuth2ClientCredentialsHandler,
    RetryStrategy,
    ServiceError,
    SyncInAsyncError,
    TransportError,
)
from collectorkit.compat import AuthLocation, create_retry_handler
from collectorkit.http import (
    APIKeyAuthHandler,
    Request,
    Response,
    RetryHandler,
    RetryPolicy,
)
from collectorkit.testing import FakeClock, MockTransport

from .conftest import base_url
from .test_oauth2 import CLIENT_ID, SECRET, TokenServer


async def test_retry_handler_retries_transient_failures_with_backoff(clock: FakeClock) -> None:
    handler = create_retry_handler(
        max_retries=3,
        strategy=RetryStrategy.EXPONENTIAL,
        initial_delay=2.0,
        jitter=False,
        clock=clock,
    )
    calls: list[int] = []

    async def flaky(value: int) -> int:
        calls.append(value)
        if len(calls) < 3:
            raise TransportError("connection reset")
        return value * 2

    assert await handler.call(flaky, 21) == 42
    assert clock.sleeps == [2.0, 4.0]
    assert handler.retries == 2


async def test_retry_handler_gives_up_and_leaves_bugs_alone(clock: FakeClock) -> None:
    handler = RetryHandler(RetryPolicy(max_attempts=2, jitter=False), clock=clock)

    @handler
    async def always_503() -> None:
        raise ServiceError("down", response=Response(503))

    with pytest.raises(ServiceError):
        await always_503()
    assert clock.sleeps == [1.0]

    @handler
    async def bug() -> None:
        raise KeyError("not retryable")

    with pytest.raises(KeyError):
        await bug()
    assert clock.sleeps == [1.0]


async def test_auth_manager_and_initial_token(server: HTTPServer, clock: FakeClock) -> None:
    tokens = TokenServer(server)
    handler = OAuth2ClientCredentialsHandler(f"{base_url(server)}/token", CLIENT_ID, SECRET)
    async with APIClient(base_url=base_url(server), auth=handler, clock=clock) as client:
        assert client.auth_manager is handler
        assert await handler.get_initial_token() == "at-1-xyzzy"
        assert await handler.refresh() == "at-2-xyzzy"
    assert tokens.issued == ["at-1-xyzzy", "at-2-xyzzy"]
    assert APIClient(base_url="http://a").auth_manager is None


@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        ({"json": {"q": 1}}, {"q": 1, "api_key": "bk-12345"}),
        ({}, {"api_key": "bk-12345"}),
    ],
)
async def test_api_key_in_a_json_body(kwargs: dict[str, object], sent: dict[str, object]) -> None:
    transport = MockTransport(lambda request: Response(200, content=b"{}"))
    auth = AuthConfig(
        type=AuthType.API_KEY,
        token="bk-12345",
        token_location=AuthLocation.BODY,
        token_key="api_key",
    )
    async with APIClient(base_url="http://mock", auth=auth, transport=transport) as client:
        await client.post("/search", **kwargs)  # type: ignore[arg-type]
    (request,) = transport.requests
    assert orjson.loads(request.content or b"") == sent
    assert request.headers["content-type"] == "application/json"


async def test_api_key_in_a_form_body_and_refused_for_other_bodies() -> None:
    transport = MockTransport(lambda request: Response(200, content=b"{}"))
    auth = APIKeyAuthHandler("bk-12345", body_field="key")
    async with APIClient(base_url="http://mock", auth=auth, transport=transport) as client:
        await client.post("/form", data={"a": "1"})
        with pytest.raises(ConfigError, match="body_field"):
            await client.post("/raw", data=b"\x00binary")
    assert transport.requests[0].content == b"a=1&key=bk-12345"


async def test_log_switches_in_diagnostic_mode(server: HTTPServer) -> None:
    server.expect_request("/x").respond_with_json({"password": "pw-in-body-999", "n": 1})
    config = APIClientConfig(
        base_url=base_url(server), diagnostic_mode=True, log_requests=False, log_response_body=True
    )
    with capture_logs() as logs:
        async with APIClient(config) as client:
            await client.get("/x")
    events = [entry["event"] for entry in logs]
    assert events == ["response"]
    assert logs[0]["body"] == {"password": "***", "n": 1}

    quiet = APIClientConfig(base_url=base_url(server))  # not diagnostic: no debug lines at all
    with capture_logs() as logs:
        async with APIClient(quiet) as client:
            await client.get("/x")
    assert logs == []


async def test_log_requests_and_responses_follow_the_stdlib_debug_level(
    server: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The seed's defaults (log_requests/log_responses true) log each exchange once the
    application enables DEBUG for "collectorkit.http" — without diagnostic mode."""
    server.expect_request("/x").respond_with_json({"n": 1})
    config = APIClientConfig(
        base_url=base_url(server), auth=AuthConfig(type=AuthType.BEARER, token="tok-debug-5678")
    )
    with caplog.at_level(logging.DEBUG, logger="collectorkit.http"), capture_logs() as logs:
        async with APIClient(config) as client:
            await client.get("/x")
    assert [entry["event"] for entry in logs] == ["request", "response"]
    assert "tok-debug-5678" not in repr(logs)
    assert logs[1]["status"] == 200

    quiet = APIClientConfig(base_url=base_url(server), log_requests=False, log_responses=False)
    with caplog.at_level(logging.DEBUG, logger="collectorkit.http"), capture_logs() as logs:
        async with APIClient(quiet) as client:
            await client.get("/x")
    assert logs == []


def test_max_keepalive_connections_is_honoured_not_ignored() -> None:
    """aiohttp has no keep-alive cap, so a client that sets one gets the httpx2 transport."""
    from collectorkit.http import AiohttpTransport, HttpxTransport

    default = APIClient(APIClientConfig(base_url="http://127.0.0.1:1"))
    assert isinstance(default.transport, AiohttpTransport)
    capped = APIClient(APIClientConfig(base_url="http://127.0.0.1:1", max_keepalive_connections=3))
    transport = capped.transport
    assert isinstance(transport, HttpxTransport)
    pool = transport._client._transport._pool  # httpx2's connection pool
    assert pool._max_keepalive_connections == 3
    default.close()
    capped.close()
    with pytest.raises(ConfigError, match="max_keepalive_connections"):
        APIClientConfig(base_url="http://127.0.0.1:1", max_keepalive_connections=0)


def test_sync_calls_run_the_same_code(server: HTTPServer) -> None:
    server.expect_request("/s", method="GET").respond_with_json({"sync": True})
    server.expect_request("/s", method="POST", json={"a": 1}).respond_with_json({"posted": True})
    client = APIClient(base_url=base_url(server))
    assert client.get_sync("/s").json() == {"sync": True}
    assert client.post_sync("/s", json={"a": 1}).json() == {"posted": True}
    assert client.metrics.successful_requests == 2
    assert client._transport is None  # the pool of each call's loop was closed with it


async def test_sync_call_inside_a_loop_points_at_the_async_one() -> None:
    client = APIClient(base_url="http://mock", transport=MockTransport(lambda r: Response(200)))
    with pytest.raises(SyncInAsyncError, match="await request"):
        client.get_sync("/x")


def test_request_repr_hides_query_secrets() -> None:
    request = Request("GET", "http://a/x", params={"api_key": "qq-123456", "page": 2})
    assert "qq-123456" not in repr(request)
    assert "page=2" in repr(request)


async def test_max_retries_3_tries_up_to_3_times_as_the_seed_says(
    server: HTTPServer, clock: FakeClock
) -> None:
    from collectorkit.compat import RetryConfig

    server.expect_request("/down").respond_with_data("down", status=503)
    retry = RetryConfig(max_retries=3, initial_delay=0.1, jitter=False)
    async with APIClient(base_url=base_url(server), retry=retry, clock=clock) as client:
        with pytest.raises(ServiceError):
            await client.get("/down")
    assert len(server.log) == 3
    with pytest.raises(ConfigError, match=r"max_retries") as info:
        RetryConfig(max_retries=0)
    assert info.value.path == "RetryConfig.max_retries"


def test_settings_the_client_cannot_honour_are_refused_with_what_to_do() -> None:
    from collectorkit.compat import RateLimitConfig

    with pytest.raises(ConfigError) as info:
        AuthConfig(
            type=AuthType.OAUTH2,
            client_id=CLIENT_ID,
            client_secret=SECRET,
            token_url="http://127.0.0.1:1/token",
            refresh_token="rt-secret-123456",
        )
    assert info.value.path == "AuthConfig.refresh_token"
    assert "rt-secret-123456" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        RateLimitConfig(max_requests=10, backoff_factor=3.0)
    assert info.value.path == "RateLimitConfig.backoff_factor"
    assert RateLimitConfig().backoff_factor == 1.5  # the seed's default reads back
