from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from collectorkit import (
    APIClient,
    CircuitBreaker,
    CircuitBreakerPolicy,
    CircuitOpenError,
    CircuitState,
    ConfigError,
    RetryPolicy,
    ServiceError,
)
from collectorkit.compat import CircuitBreakerConfig
from collectorkit.http import BreakerState
from collectorkit.testing import FakeClock

from .conftest import base_url


def test_closed_open_half_open_closed() -> None:
    breaker = BreakerState(
        CircuitBreakerPolicy(failure_threshold=3, recovery_timeout=60, success_threshold=2)
    )
    for _ in range(2):
        assert breaker.check(0.0) is None
        assert not breaker.record_failure(0.0)
    assert breaker.check(0.0) is None
    assert breaker.record_failure(0.0)
    assert breaker.state is CircuitState.OPEN
    assert breaker.check(10.0) == pytest.approx(50.0)
    assert breaker.check(60.0) is None
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.record_success(60.0)
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.check(61.0) is None
    breaker.record_success(61.0)
    assert breaker.state is CircuitState.CLOSED


def test_half_open_failure_reopens_and_restarts_the_recovery_timer() -> None:
    breaker = BreakerState(CircuitBreakerPolicy(failure_threshold=1, recovery_timeout=30))
    breaker.check(0.0)
    breaker.record_failure(0.0)
    assert breaker.check(30.0) is None
    assert breaker.record_failure(30.0)
    assert breaker.state is CircuitState.OPEN
    assert breaker.check(40.0) == pytest.approx(20.0)
    assert breaker.opens == 2


def test_half_open_lets_only_success_threshold_trials_through() -> None:
    breaker = BreakerState(
        CircuitBreakerPolicy(failure_threshold=1, recovery_timeout=1, success_threshold=2)
    )
    breaker.check(0.0)
    breaker.record_failure(0.0)
    assert breaker.check(1.0) is None
    assert breaker.check(1.0) is None
    assert breaker.check(1.0) == 0.0  # a third concurrent trial is refused


def test_success_resets_consecutive_failures() -> None:
    breaker = BreakerState(CircuitBreakerPolicy(failure_threshold=2))
    breaker.record_failure(0.0)
    breaker.record_success(0.0)
    assert not breaker.record_failure(0.0)
    assert breaker.state is CircuitState.CLOSED


def test_invalid_breaker_policy_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"CircuitBreakerPolicy\.failure_threshold.*0"):
        CircuitBreakerPolicy(failure_threshold=0)
    assert CircuitBreakerConfig is CircuitBreakerPolicy


async def test_circuit_breaker_as_decorator_and_call(clock: FakeClock) -> None:
    breaker = CircuitBreaker(
        CircuitBreakerConfig(failure_threshold=2, recovery_timeout=30.0), clock=clock
    )
    calls = 0

    @breaker
    async def risky(fail: bool) -> str:
        nonlocal calls
        calls += 1
        if fail:
            raise ConnectionError("boom")
        return "ok"

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await risky(True)
    with pytest.raises(CircuitOpenError) as info:
        await breaker.call(risky, False)
    assert info.value.retry_after == pytest.approx(30.0)
    assert calls == 2
    clock.advance(30)
    assert await breaker.call(risky, False) == "ok"
    assert await risky(False) == "ok"
    assert breaker.state is CircuitState.CLOSED


async def test_client_breaker_fails_fast_then_recovers(
    server: HTTPServer, clock: FakeClock
) -> None:
    server.expect_request("/svc").respond_with_data("down", status=503)
    policy = CircuitBreakerPolicy(failure_threshold=3, recovery_timeout=60, success_threshold=1)
    client = APIClient(
        base_url=base_url(server), circuit_breaker=policy, retry=RetryPolicy.disabled(), clock=clock
    )
    async with client.session():
        for _ in range(3):
            with pytest.raises(ServiceError):
                await client.get("/svc")
        with pytest.raises(CircuitOpenError) as info:
            await client.get("/svc")
        assert info.value.retry_after == pytest.approx(60.0)
        assert len(server.log) == 3  # the fourth call never left the client
        assert client.metrics.circuit_breaker_opens == 1
        server.clear()
        server.expect_request("/svc").respond_with_json({"up": True})
        clock.advance(60)
        assert (await client.get("/svc")).json() == {"up": True}
        assert client.circuit_state is CircuitState.CLOSED


async def test_breaker_opening_during_retries_stops_them(
    server: HTTPServer, clock: FakeClock
) -> None:
    server.expect_request("/svc").respond_with_data("down", status=500)
    client = APIClient(
        base_url=base_url(server),
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=2),
        retry=RetryPolicy(max_attempts=10, jitter=False),
        clock=clock,
    )
    async with client.session():
        with pytest.raises(CircuitOpenError):
            await client.get("/svc")
    assert len(server.log) == 2


async def test_cancelled_trial_request_frees_its_half_open_slot(clock: FakeClock) -> None:
    import asyncio

    from collectorkit.http import Response
    from collectorkit.testing import MockTransport

    gate = asyncio.Event()
    mode = {"fail": True}

    async def handler(request: object) -> Response:
        if mode["fail"]:
            return Response(503)
        await gate.wait()
        return Response(200, content=b"{}")

    client = APIClient(
        base_url="http://mock",
        transport=MockTransport(handler),  # type: ignore[arg-type]
        circuit_breaker=CircuitBreakerPolicy(
            failure_threshold=1, recovery_timeout=10, success_threshold=1
        ),
        retry=RetryPolicy.disabled(),
        clock=clock,
    )
    with pytest.raises(ServiceError):
        await client.get("/x")
    clock.advance(10)
    mode["fail"] = False
    trial = asyncio.create_task(client.get("/x"))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError) as info:  # the one trial slot is taken
        await client.get("/x")
    assert info.value.request is not None
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    gate.set()
    assert (await client.get("/x")).status_code == 200  # the slot came back
    assert client.circuit_state is CircuitState.CLOSED
