"""The rate limiter and the circuit breaker live as long as the CollectorClient: every
collection on one client (async or sync) shares them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from collectorkit import (
    CircuitBreakerPolicy,
    CollectorBlueprint,
    CollectorClient,
    CollectorError,
    CollectorRequest,
    FakeClock,
    RateLimitPolicy,
    RetryPolicy,
)
from collectorkit._errors import CircuitOpenError


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    s = HTTPServer(host="127.0.0.1", port=0)
    s.start()
    yield s
    s.stop()


def _blueprint(server: HTTPServer, clock: FakeClock, **options: object) -> CollectorBlueprint:
    return CollectorBlueprint(
        name="lifetime",
        base_url=f"http://127.0.0.1:{server.port}",
        request=CollectorRequest(endpoint="/events", data_path="data"),
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def _failing(server: HTTPServer, clock: FakeClock) -> CollectorClient:
    server.expect_request("/events").respond_with_data("down", status=503)
    return CollectorClient(
        _blueprint(
            server,
            clock,
            retry_policy=RetryPolicy(max_attempts=5, initial_delay=0.1, jitter=False),
            circuit_breaker=CircuitBreakerPolicy(failure_threshold=5, recovery_timeout=600),
        )
    )


def test_sync_calls_on_one_client_share_the_breaker(server: HTTPServer) -> None:
    client = _failing(server, FakeClock())
    errors = []
    for _ in range(4):
        with pytest.raises(CollectorError) as info:
            client.collect_events_sync()
        errors.append(info.value)
    assert len(server.log) == 5  # the breaker opened on the fifth failure and stays open
    assert all(isinstance(e, CircuitOpenError) for e in errors[1:])
    client.close()


async def test_async_calls_on_one_client_share_the_breaker(server: HTTPServer) -> None:
    async with _failing(server, FakeClock()) as client:
        for _ in range(4):
            with pytest.raises(CollectorError):
                await client.collect_events()
    assert len(server.log) == 5


def test_sync_calls_on_one_client_share_the_rate_limiter(server: HTTPServer) -> None:
    server.expect_request("/events").respond_with_json({"data": [{"id": 1}]})
    clock = FakeClock()
    client = CollectorClient(
        _blueprint(server, clock, rate_limit=RateLimitPolicy(rate_per_second=0.5, burst=1))
    )
    for _ in range(3):
        assert len(client.collect_events_sync().events) == 1
    assert clock.sleeps == pytest.approx([2.0, 2.0])  # one token every 2 s, across calls
    client.close()


def test_collect_into_sync_runs_on_one_client_share_the_breaker(server: HTTPServer) -> None:
    from collectorkit import collect_into_sync
    from collectorkit.sinks import MemorySink
    from collectorkit.state import MemoryStateStore

    client = _failing(server, FakeClock())
    store, sink = MemoryStateStore(), MemorySink()
    for _ in range(3):
        with pytest.raises(CollectorError):
            collect_into_sync(client, sinks=[sink], state=store)
    assert len(server.log) == 5
