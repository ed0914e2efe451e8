from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer

from collectorkit import (
    APIClient,
    APIClientConfig,
    BaseAPIClient,
    CircuitBreakerConfig,
    ClientRequestError,
    CollectorTimeoutError,
    ConfigError,
    HTTPError,
    RateLimitConfig,
    RequestTimeoutError,
    ResponseDecodeError,
    RetryConfig,
    RetryPolicy,
    TimeoutSettings,
    TransportError,
)
from collectorkit.http import Headers, Request, Response
from collectorkit.testing import FakeClock, MockTransport, no_backoff

from .conftest import base_url


def seen(server: HTTPServer) -> list[Any]:
    return [request for request, _ in server.log]


async def test_verbs_bodies_params_and_headers(server: HTTPServer) -> None:
    server.expect_request(
        "/r", method="GET", query_string="a=1&b=x&b=y&flag=true"
    ).respond_with_json({"m": "get"})
    server.expect_request("/r", method="POST", json={"n": 1}).respond_with_json(
        {"m": "post"}, status=201
    )
    server.expect_request("/r", method="PUT", data=b"a=1&b=2").respond_with_json({"m": "put"})
    server.expect_request("/r", method="PATCH", data=b"raw").respond_with_json({"m": "patch"})
    server.expect_request("/r", method="DELETE").respond_with_data("", status=204)
    async with APIClient(base_url=base_url(server), headers={"X-Default": "d"}) as client:
        assert (
            await client.get("/r", params={"a": 1, "b": ["x", "y"], "flag": True, "none": None})
        ).body == {"m": "get"}
        assert (await client.post("/r", json={"n": 1})).status_code == 201
        assert (await client.put("r", data={"a": 1, "b": 2})).body == {"m": "put"}
        assert (await client.patch("/r", data=b"raw", headers={"X-Call": "c"})).body == {
            "m": "patch"
        }
        deleted = await client.delete("/r")
    assert deleted.status_code == 204
    assert deleted.body == ""
    requests = seen(server)
    assert requests[1].headers["Content-Type"] == "application/json"
    assert requests[2].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert all(r.headers["X-Default"] == "d" for r in requests)
    assert requests[3].headers["X-Call"] == "c"


async def test_base_url_path_is_kept_and_absolute_urls_pass_through(server: HTTPServer) -> None:
    server.expect_request("/api/v2/users").respond_with_json([1])
    server.expect_request("/elsewhere").respond_with_json([2])
    async with APIClient(base_url=f"{base_url(server)}/api/v2/") as client:
        assert (await client.get("/users")).json() == [1]
        assert (await client.get(f"{base_url(server)}/elsewhere")).json() == [2]


async def test_response_parsing(server: HTTPServer) -> None:
    server.expect_request("/json").respond_with_json({"a": [1, 2]}, headers={"X-Request-ID": "r1"})
    server.expect_request("/text").respond_with_data(
        "héllo", content_type="text/plain; charset=utf-8"
    )
    server.expect_request("/broken").respond_with_data("{not json", content_type="application/json")
    async with APIClient(base_url=base_url(server)) as client:
        response = await client.get("/json")
        assert response.headers["x-request-id"] == response.headers["X-REQUEST-ID"] == "r1"
        assert response.json() == response.body == {"a": [1, 2]}
        assert response.content == orjson.dumps({"a": [1, 2]}) or response.json() == {"a": [1, 2]}
        assert response.url.endswith("/json")
        assert response.elapsed_ms > 0
        text = await client.get("/text")
        assert text.text == text.body == "héllo"
        broken = await client.get("/broken")
        assert broken.body == "{not json"
        with pytest.raises(ResponseDecodeError, match="not valid JSON"):
            broken.json()


async def test_client_error_is_not_retried(server: HTTPServer, clock: FakeClock) -> None:
    server.expect_request("/missing").respond_with_json({"error": "nope"}, status=404)
    client = APIClient(base_url=base_url(server), clock=clock)
    async with client.session():
        with pytest.raises(ClientRequestError) as info:
            await client.get("/missing")
    assert info.value.status_code == 404
    assert info.value.response is not None
    assert info.value.response.json() == {"error": "nope"}
    assert len(server.log) == 1


class Orders(BaseAPIClient):
    """Seed 004's subclass with every hook overridden."""

    async def _build_base_url(self) -> str:
        return f"{self.config.base_url}/v1"

    async def _prepare_request(self, method: str, path: str, **kwargs: Any) -> Any:
        url, headers, params, json, data = await super()._prepare_request(method, path, **kwargs)
        headers["X-Request-ID"] = str(uuid.uuid4())
        params["version"] = "v2"
        return url, headers, params, json, data

    async def _handle_response(self, response: Response, start_time: float) -> Response:
        api_response = await super()._handle_response(response, start_time)
        if "X-Request-ID" in response.headers:
            api_response.metadata = {"request_id": response.headers["X-Request-ID"]}
        return api_response

    async def create_order(self, order: dict[str, Any]) -> Any:
        return (await self.post("/orders", json=order)).body


async def test_seed_subclass_hooks(server: HTTPServer) -> None:
    server.expect_request(
        "/v1/orders", method="POST", query_string={"version": "v2"}
    ).respond_with_json({"id": "o-1"}, headers={"X-Request-ID": "srv-9"})
    config = APIClientConfig(
        name="orders",
        base_url=base_url(server),
        retry=RetryConfig(max_retries=2),
        rate_limit=RateLimitConfig(max_requests=100, window_seconds=60.0),
        circuit_breaker=CircuitBreakerConfig(failure_threshold=10),
        timeout=30.0,
        connect_timeout=10.0,
        default_headers={"User-Agent": "BRAiN/1.0"},
    )
    async with Orders(config).session() as client:
        assert await client.create_order({"items": []}) == {"id": "o-1"}
        metrics = client.get_metrics()
    assert metrics.total_requests == metrics.successful_requests == 1
    request = seen(server)[0]
    assert request.headers["User-Agent"] == "BRAiN/1.0"
    assert len(request.headers["X-Request-ID"]) == 36


async def test_handle_response_metadata(server: HTTPServer) -> None:
    server.expect_request("/v1/x").respond_with_json({}, headers={"X-Request-ID": "srv-1"})
    async with Orders(base_url=base_url(server)) as client:
        response = await client.get("/x")
    assert response.metadata == {"request_id": "srv-1"}


def test_config_validation_names_field_and_value() -> None:
    with pytest.raises(ConfigError, match=r"APIClientConfig\.base_url.*'api\.example\.com'"):
        APIClientConfig(name="x", base_url="api.example.com")
    with pytest.raises(ConfigError, match=r"APIClientConfig\.timeout.*'forever'"):
        APIClientConfig(name="x", timeout="forever")
    with pytest.raises(ConfigError, match=r"APIClientConfig\.max_connections.*0"):
        APIClientConfig(name="x", max_connections=0)


def test_config_timeouts_become_timeout_settings() -> None:
    client = APIClient(APIClientConfig(base_url="http://a", timeout="45s", connect_timeout=5))
    assert client.timeouts == TimeoutSettings(connect=5, read=45)
    explicit = APIClient(base_url="http://a", timeout=TimeoutSettings(read=3))
    assert explicit.timeouts.read == 3.0


async def test_metrics_snapshot_and_reset(server: HTTPServer, clock: FakeClock) -> None:
    server.expect_ordered_request("/m").respond_with_data("", status=500)
    server.expect_ordered_request("/m").respond_with_json({})
    server.expect_ordered_request("/m").respond_with_json({}, status=400)
    async with APIClient(base_url=base_url(server), clock=clock) as client:
        await client.get("/m")
        with pytest.raises(ClientRequestError):
            await client.get("/m")
        snapshot = client.metrics.snapshot()
        client.reset_metrics()
    assert snapshot["total_requests"] == 2
    assert snapshot["successful_requests"] == 1
    assert snapshot["failed_requests"] == 1
    assert snapshot["total_retries"] == 1
    assert snapshot["service_errors"] == 1
    assert 0 < snapshot["min_response_time_ms"] <= snapshot["average_response_time_ms"]
    assert snapshot["average_response_time_ms"] <= snapshot["max_response_time_ms"]
    assert snapshot["p95_response_time_ms"] <= snapshot["max_response_time_ms"]
    assert all(isinstance(v, float) for v in snapshot.values())
    assert client.metrics.total_requests == 0
    assert client.metrics.average_response_time_ms == 0.0


async def test_health_check(server: HTTPServer) -> None:
    server.expect_request("/").respond_with_json({"ok": True})
    async with APIClient(base_url=base_url(server)) as client:
        assert await client.health_check()
    async with APIClient(base_url="http://127.0.0.1:9", retry=RetryPolicy.disabled()) as dead:
        assert not await dead.health_check()


async def test_session_closes_the_pool(server: HTTPServer) -> None:
    server.expect_request("/").respond_with_json({})
    transport = MockTransport(lambda request: Response(200, content=b"{}"))
    client = APIClient(base_url=base_url(server))
    async with client.session() as same:
        assert same is client
        await client.get("/")
    assert client._transport is None  # closed and dropped
    async with APIClient(base_url="http://mock", transport=transport) as borrowed:
        await borrowed.get("/")
    assert not transport.closed  # a transport passed in belongs to the caller


async def test_mock_transport_sees_the_wire_request() -> None:
    def handler(request: Request) -> Response:
        return Response(200, headers={"Content-Type": "application/json"}, content=b'{"n": 1}')

    transport = MockTransport(handler)
    async with APIClient(
        base_url="http://mock.test", transport=transport, headers={"A": "1"}
    ) as client:
        assert (await client.get("/x", params={"q": "s p"})).json() == {"n": 1}
    (request,) = transport.requests
    assert request.url == "http://mock.test/x?q=s+p"
    assert request.headers["a"] == "1"


async def test_transport_errors_are_retried_then_raised(clock: FakeClock) -> None:
    calls = 0

    async def handler(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise TransportError("connection reset")
        return Response(200, content=b"[]")

    client = APIClient(base_url="http://mock", transport=MockTransport(handler), clock=clock)
    with no_backoff():
        assert (await client.get("/x")).json() == []
    assert calls == 3
    assert clock.sleeps == []

    def always_timeout(request: Request) -> Response:
        raise RequestTimeoutError("read timed out")

    failing = APIClient(
        base_url="http://mock",
        transport=MockTransport(always_timeout),
        clock=clock,
        retry=RetryPolicy(max_attempts=2),
    )
    with pytest.raises(RequestTimeoutError):
        await failing.get("/x")
    assert failing.metrics.timeouts == 2


async def test_deadline_caps_the_transport_timeout(clock: FakeClock) -> None:
    seen_timeouts: list[float] = []

    class Recording(MockTransport):
        async def send(self, method, url, headers, content, timeouts):  # type: ignore[no-untyped-def]
            seen_timeouts.append(timeouts.read)
            return await super().send(method, url, headers, content, timeouts)

    transport = Recording(lambda request: Response(200, content=b"{}"))
    client = APIClient(
        base_url="http://mock", transport=transport, clock=clock, timeout=TimeoutSettings(read=30)
    )
    await client.get("/x", deadline=clock.monotonic() + 4)
    await client.get("/x")
    assert seen_timeouts == [4.0, 30.0]
    with pytest.raises(CollectorTimeoutError):
        await client.get("/x", deadline=clock.monotonic() - 1)


async def test_timeout_past_the_deadline_becomes_collector_timeout(clock: FakeClock) -> None:
    def slow(request: Request) -> Response:
        clock.advance(5)
        raise RequestTimeoutError("read timed out")

    client = APIClient(base_url="http://mock", transport=MockTransport(slow), clock=clock)
    with pytest.raises(CollectorTimeoutError):
        await client.get("/x", deadline=clock.monotonic() + 5)


async def test_next_attempt_that_cannot_fit_is_not_started(clock: FakeClock) -> None:
    """After attempts that each took 10 s, a 1 s backoff with 8 s left does not start another."""
    calls = 0

    def slow_failure(request: Request) -> Response:
        nonlocal calls
        calls += 1
        clock.advance(10)
        return Response(503)

    client = APIClient(
        base_url="http://mock",
        transport=MockTransport(slow_failure),
        clock=clock,
        retry=RetryPolicy(max_attempts=5, initial_delay=1, jitter=False),
    )
    with pytest.raises(CollectorTimeoutError, match="does not fit"):
        await client.get("/x", deadline=clock.monotonic() + 18)
    assert calls == 1
    assert clock.sleeps == []


async def test_many_concurrent_requests_share_one_pool(server: HTTPServer) -> None:
    server.expect_request("/c").respond_with_json({"ok": True})
    async with APIClient(base_url=base_url(server)) as client:
        results = await asyncio.gather(*(client.get("/c") for _ in range(30)))
    assert {r.status_code for r in results} == {200}
    assert client.metrics.successful_requests == 30


def test_headers_mapping_is_case_insensitive_and_joins_repeats() -> None:
    headers = Headers([("Set-Thing", "a"), ("set-thing", "b"), ("X-One", "1")])
    assert headers["SET-THING"] == "a, b"
    assert list(headers) == ["Set-Thing", "X-One"]
    assert headers == {"set-thing": "a, b", "x-one": "1"}
    assert "x-one" in headers
    del headers["X-ONE"]
    assert len(headers) == 1


async def test_unsupported_body_is_a_config_error() -> None:
    client = APIClient(base_url="http://mock", transport=MockTransport(lambda r: Response(200)))
    with pytest.raises(ConfigError, match="data: must be bytes, str or a mapping, got int"):
        await client.post("/x", data=42)
    assert client.metrics.failed_requests == 1


async def test_json_body_is_encoded_with_orjson() -> None:
    transport = MockTransport(lambda r: Response(200))
    async with APIClient(base_url="http://mock", transport=transport) as client:
        await client.post("/x", json={"when": "2024-01-01", "n": [1, 2]})
    assert transport.requests[0].content == orjson.dumps({"when": "2024-01-01", "n": [1, 2]})


async def test_unencodable_json_is_a_config_error() -> None:
    client = APIClient(base_url="http://mock", transport=MockTransport(lambda r: Response(200)))
    with pytest.raises(ConfigError, match="json: cannot be encoded as JSON"):
        await client.post("/x", json={"s": {1, 2}})


async def test_any_transport_gets_the_response_size_limit_and_the_total_timeout() -> None:
    async def slow(request: Request) -> Response:
        await asyncio.sleep(5)
        return Response(200, content=b"{}")

    big = MockTransport(lambda request: Response(200, content=b" " * 5000))
    timeouts = TimeoutSettings(max_response_size=1000, total=0.2)
    async with APIClient(base_url="http://mock", transport=big, timeout=timeouts) as client:
        with pytest.raises(HTTPError, match=r"max_response_size \(1000 bytes\)"):
            await client.get("/big")
    retry = RetryPolicy.disabled()
    async with APIClient(
        base_url="http://mock", transport=MockTransport(slow), timeout=timeouts, retry=retry
    ) as client:
        with pytest.raises(RequestTimeoutError, match=r"total timeout of 0.2s"):
            await client.get("/slow")
