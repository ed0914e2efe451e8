from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from collectorkit import (
    APIClient,
    CollectorTimeoutError,
    ConfigError,
    QuotaError,
    RateLimitPolicy,
    RetryPolicy,
)
from collectorkit.compat import RateLimitConfig
from collectorkit.http import TokenBucket
from collectorkit.testing import FakeClock

from .conftest import base_url


def test_bucket_allows_a_burst_then_paces_at_the_rate() -> None:
    bucket = TokenBucket(RateLimitPolicy(rate_per_second=2, burst=3), now=0.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    # each further reservation waits half a second more: the waiters queue in order
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.5, 1.0, 1.5]


def test_bucket_refills_over_time_up_to_the_burst() -> None:
    bucket = TokenBucket(RateLimitPolicy(rate_per_second=1, burst=2), now=0.0)
    bucket.reserve(0.0)
    bucket.reserve(0.0)
    assert bucket.available(1.0) == pytest.approx(1.0)
    assert bucket.available(100.0) == pytest.approx(2.0)


@given(
    st.floats(min_value=0.1, max_value=100),
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=1, max_value=200),
)
def test_bucket_never_exceeds_rate_times_time_plus_burst(rate: float, burst: int, n: int) -> None:
    bucket = TokenBucket(RateLimitPolicy(rate_per_second=rate, burst=burst), now=0.0)
    send_times = [bucket.reserve(0.0) for _ in range(n)]
    horizon = max(send_times)
    # requests sent by time t never exceed burst + rate * t
    assert n <= burst + rate * horizon + 1e-6
    assert send_times == sorted(send_times)


def test_server_pause_holds_every_reservation() -> None:
    bucket = TokenBucket(None, now=0.0)
    assert bucket.reserve(0.0) == 0.0
    bucket.pause_until(10.0)
    assert bucket.reserve(4.0) == 6.0
    bucket.pause_until(8.0)  # an earlier pause does not shorten a later one
    assert bucket.paused_for(4.0) == 6.0


def test_per_and_seed_spelling_describe_the_same_rate() -> None:
    per_minute = RateLimitPolicy.per(100, seconds="1m")
    assert per_minute.rate_per_second == pytest.approx(100 / 60)
    assert per_minute.burst == 100
    seed = RateLimitConfig(
        max_requests=10, window_seconds=1.0, burst_size=15, respect_retry_after=True
    )
    assert isinstance(seed, RateLimitPolicy)
    assert (seed.rate_per_second, seed.burst, seed.max_requests, seed.burst_size) == (
        10.0,
        15,
        10,
        15,
    )


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: RateLimitPolicy(rate_per_second=0), "RateLimitPolicy.rate_per_second"),
        (lambda: RateLimitPolicy(rate_per_second=1, burst=0), "RateLimitPolicy.burst"),
        (lambda: RateLimitPolicy.per(10, seconds=0), "RateLimitPolicy.per.seconds"),
        (lambda: RateLimitConfig(max_requests=0), "RateLimitConfig.max_requests"),
    ],
)
def test_invalid_rate_limits_name_the_field(build: object, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        build()  # type: ignore[operator]
    assert info.value.path == field


async def test_client_paces_requests_with_the_bucket(server: HTTPServer, clock: FakeClock) -> None:
    server.expect_request("/e").respond_with_json({})
    policy = RateLimitPolicy(rate_per_second=2, burst=2)
    async with APIClient(base_url=base_url(server), rate_limit=policy, clock=clock) as client:
        for _ in range(5):
            await client.get("/e")
    assert clock.sleeps == [0.5, 0.5, 0.5]
    assert client.metrics.rate_limit_waits == 3


async def test_exhausted_remaining_pauses_the_whole_client_until_reset(
    server: HTTPServer, clock: FakeClock
) -> None:
    reset = int(clock.time()) + 30
    server.expect_ordered_request("/e").respond_with_json(
        {}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    )
    server.expect_request("/e").respond_with_json({})
    async with APIClient(base_url=base_url(server), clock=clock) as client:
        await client.get("/e")
        await asyncio.gather(*(client.get("/e") for _ in range(3)))
    # one pause of 30 s shared by all three waiting requests, not one each
    assert sum(clock.sleeps) == pytest.approx(30.0, abs=1.0)


async def test_429_pauses_concurrent_requests_instead_of_letting_them_hit_the_wall(
    server: HTTPServer, clock: FakeClock
) -> None:
    server.expect_ordered_request("/e").respond_with_data(
        "", status=429, headers={"Retry-After": "12"}
    )
    server.expect_request("/e").respond_with_json({})
    async with APIClient(base_url=base_url(server), clock=clock) as client:
        await client.get("/e")  # 429, waits 12 s, succeeds
        await asyncio.gather(*(client.get("/e") for _ in range(4)))
    assert clock.sleeps[0] == 12.0
    assert len(server.log) == 6  # 1 refused + 1 retry + 4, nothing wasted
    assert client.metrics.rate_limit_hits == 1


async def test_wait_beyond_the_deadline_raises_instead_of_sleeping(
    server: HTTPServer, clock: FakeClock
) -> None:
    server.expect_request("/e").respond_with_data("", status=429, headers={"Retry-After": "120"})
    async with APIClient(base_url=base_url(server), clock=clock) as client:
        with pytest.raises(CollectorTimeoutError, match="does not fit"):
            await client.get("/e", deadline=clock.monotonic() + 30)
    assert clock.sleeps == []  # never slept past the budget
    assert len(server.log) == 1


async def test_wait_within_the_deadline_is_taken(server: HTTPServer, clock: FakeClock) -> None:
    server.expect_ordered_request("/e").respond_with_data(
        "", status=429, headers={"Retry-After": "5"}
    )
    server.expect_ordered_request("/e").respond_with_json({"ok": 1})
    async with APIClient(base_url=base_url(server), clock=clock) as client:
        response = await client.get("/e", deadline=clock.monotonic() + 30)
    assert response.json() == {"ok": 1}
    assert clock.sleeps == [5.0]


async def test_rate_limit_wait_beyond_deadline_raises_and_gives_the_token_back(
    server: HTTPServer, clock: FakeClock
) -> None:
    server.expect_request("/e").respond_with_json({})
    policy = RateLimitPolicy(rate_per_second=0.1, burst=1)
    async with APIClient(base_url=base_url(server), rate_limit=policy, clock=clock) as client:
        await client.get("/e")
        with pytest.raises(CollectorTimeoutError):
            await client.get("/e", deadline=clock.monotonic() + 2)
        clock.advance(10)
        await client.get("/e", deadline=clock.monotonic() + 2)  # the refunded token is there
    assert clock.sleeps == []


async def test_quota_error_after_retries(server: HTTPServer, clock: FakeClock) -> None:
    server.expect_request("/e").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "1"}
    )
    client = APIClient(base_url=base_url(server), retry=RetryPolicy(max_attempts=3), clock=clock)
    async with client.session():
        with pytest.raises(QuotaError) as info:
            await client.get("/e")
    assert info.value.status_code == 429
    assert client.metrics.rate_limit_hits == 3
    assert client.metrics.total_retries == 2
