from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from collectorkit import (
    APIClient,
    AuthenticationError,
    ConfigError,
    QuotaError,
    RetryPolicy,
    ServiceError,
)
from collectorkit.compat import RetryConfig
from collectorkit.http import RetryStrategy, parse_retry_after, server_wait
from collectorkit.http._server_hints import quota_exhausted, reset_wait
from collectorkit.testing import FakeClock, no_backoff

from .conftest import base_url

NOW = 1_700_000_000.0


def schedule(policy: RetryPolicy, retries: int) -> list[float]:
    return [policy.backoff(n) for n in range(retries)]


def test_exponential_linear_and_fixed_schedules_follow_the_documented_formulas() -> None:
    exp = RetryPolicy(initial_delay=1, multiplier=2, max_delay=60, jitter=False)
    assert schedule(exp, 4) == [1.0, 2.0, 4.0, 8.0]
    lin = RetryPolicy(strategy="linear", initial_delay=1, multiplier=2, max_delay=60, jitter=False)
    assert schedule(lin, 3) == [2.0, 4.0, 6.0]
    fixed = RetryPolicy(strategy=RetryStrategy.FIXED, initial_delay=3, max_delay=60, jitter=False)
    assert schedule(fixed, 3) == [3.0, 3.0, 3.0]


def test_max_delay_caps_the_schedule() -> None:
    policy = RetryPolicy(initial_delay=1, multiplier=3, max_delay=10, jitter=False)
    assert schedule(policy, 5) == [1.0, 3.0, 9.0, 10.0, 10.0]


@given(st.integers(min_value=0, max_value=40), st.floats(min_value=0, max_value=0.999999))
def test_jitter_stays_within_25_percent_and_under_max_delay(retry: int, rand: float) -> None:
    policy = RetryPolicy(initial_delay=0.5, multiplier=2, max_delay=30, jitter=True)
    plain = RetryPolicy(initial_delay=0.5, multiplier=2, max_delay=30, jitter=False).backoff(retry)
    delay = policy.backoff(retry, rand=rand)
    assert plain * 0.75 - 1e-9 <= delay <= min(plain * 1.25, 30) + 1e-9


def test_decide_gives_up_after_max_attempts_and_on_non_retryable_status() -> None:
    policy = RetryPolicy(max_attempts=3, initial_delay=1, jitter=False)
    assert policy.decide(attempt=1, status_code=503).delay == 1.0
    assert policy.decide(attempt=2, status_code=503).delay == 2.0
    final = policy.decide(attempt=3, status_code=503)
    assert not final.retry
    assert "3 attempts exhausted" in final.reason
    assert not policy.decide(attempt=1, status_code=404).retry
    assert not policy.decide(attempt=1, status_code=200).retry


def test_decide_on_timeouts_and_connection_errors_follows_the_switches() -> None:
    policy = RetryPolicy(retry_on_timeout=False)
    assert not policy.decide(attempt=1, error="timeout").retry
    assert policy.decide(attempt=1, error="connection").retry
    assert (
        not RetryPolicy(retry_on_connection_error=False).decide(attempt=1, error="connection").retry
    )


def test_retry_after_in_seconds_and_as_http_date() -> None:
    assert parse_retry_after("7", NOW) == 7.0
    date = format_datetime(datetime.fromtimestamp(NOW + 42, tz=UTC), usegmt=True)
    assert parse_retry_after(date, NOW) == pytest.approx(42.0)
    past = format_datetime(datetime.fromtimestamp(NOW - 42, tz=UTC), usegmt=True)
    assert parse_retry_after(past, NOW) == 0.0
    assert parse_retry_after("whenever", NOW) is None
    assert parse_retry_after("-5", NOW) is None


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"X-RateLimit-Reset": str(NOW + 30)}, 30.0),  # epoch seconds
        ({"X-RateLimit-Reset": str((NOW + 30) * 1000)}, 30.0),  # epoch milliseconds
        ({"RateLimit-Reset": "12"}, 12.0),  # delta seconds (IETF draft)
        ({"X-Rate-Limit-Reset": "5"}, 5.0),
        ({"X-RateLimit-RetryAfter": str(int(NOW + 9))}, 9.0),  # CrowdStrike, epoch seconds
        ({"Retry-After": "3", "X-RateLimit-Reset": "99"}, 3.0),  # Retry-After wins
    ],
)
def test_server_wait_understands_every_reset_header(headers: dict[str, str], wait: float) -> None:
    assert server_wait({k.lower(): v for k, v in headers.items()}, NOW) == pytest.approx(wait)


def test_quota_exhausted_reads_remaining_headers() -> None:
    assert quota_exhausted({"x-ratelimit-remaining": "0"})
    assert not quota_exhausted({"x-ratelimit-remaining": "3"})
    assert not quota_exhausted({})
    assert reset_wait({"ratelimit-reset": "4"}, NOW) == 4.0


def test_retry_after_overrides_backoff_for_429_only_when_respected() -> None:
    headers = {"retry-after": "17"}
    decision = RetryPolicy().decide(attempt=1, status_code=429, headers=headers, now=NOW)
    assert decision.delay == 17.0
    assert decision.server_hint
    ignoring = RetryPolicy(respect_retry_after=False, jitter=False, initial_delay=1)
    assert ignoring.decide(attempt=1, status_code=429, headers=headers, now=NOW).delay == 1.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_with_quota_left_and_no_retry_after_gets_the_backoff_not_the_reset(
    status: int,
) -> None:
    headers = {"x-ratelimit-remaining": "57", "x-ratelimit-reset": str(int(NOW) + 60)}
    policy = RetryPolicy(initial_delay=0.2, jitter=False)
    decision = policy.decide(attempt=1, status_code=status, headers=headers, now=NOW)
    assert (decision.delay, decision.server_hint) == (0.2, False)


@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [
        # the quota is spent: the reset is the server's answer, whatever the status
        (503, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 60)}, 60.0),
        (429, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "30"}, 30.0),
        # a 429 means "spent" even without a Remaining header
        (429, {"ratelimit-reset": "12"}, 12.0),
        # Retry-After on a 5xx wins over the reset, with or without quota left
        (503, {"retry-after": "4", "x-ratelimit-remaining": "9", "x-ratelimit-reset": "60"}, 4.0),
        (502, {"retry-after": "3"}, 3.0),
    ],
)
def test_server_wait_is_used_when_the_server_asks_for_it(
    status: int, headers: dict[str, str], wait: float
) -> None:
    policy = RetryPolicy(initial_delay=0.2, jitter=False)
    decision = policy.decide(attempt=1, status_code=status, headers=headers, now=NOW)
    assert (decision.delay, decision.server_hint) == (pytest.approx(wait), True)


def test_no_backoff_switch_zeroes_every_wait() -> None:
    with no_backoff():
        assert RetryPolicy(initial_delay=5).decide(attempt=1, status_code=503).delay == 0.0
    assert (
        RetryPolicy(initial_delay=5, jitter=False).decide(attempt=1, status_code=503).delay == 5.0
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_attempts": 0}, "RetryPolicy.max_attempts"),
        ({"strategy": "fibonacci"}, "RetryPolicy.strategy"),
        ({"multiplier": 0.5}, "RetryPolicy.multiplier"),
        ({"initial_delay": "soon"}, "RetryPolicy.initial_delay"),
        ({"initial_delay": 10, "max_delay": 5}, "RetryPolicy.max_delay"),
        ({"retryable_status_codes": [700]}, "RetryPolicy.retryable_status_codes"),
        ({"max_server_wait": "forever"}, "RetryPolicy.max_server_wait"),
    ],
)
def test_invalid_retry_policy_names_field_and_value(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.path == field
    assert any(repr(v) in str(info.value) or str(v) in str(info.value) for v in kwargs.values())


def test_seed_retry_config_maps_onto_the_policy() -> None:
    config = RetryConfig(
        max_retries=3,
        strategy=RetryStrategy.EXPONENTIAL,
        initial_delay=1.0,
        max_delay=60.0,
        backoff_multiplier=2.0,
        jitter=True,
        retry_status_codes=[408, 429, 500, 502, 503, 504],
        retry_on_timeout=True,
    )
    assert isinstance(config, RetryPolicy)
    assert config.max_attempts == 3
    assert config.max_retries == 3
    assert config.backoff_multiplier == 2.0
    assert config.retry_status_codes == frozenset({408, 429, 500, 502, 503, 504})


async def test_client_retries_with_the_scheduled_waits(
    server: HTTPServer, clock: FakeClock
) -> None:
    for _ in range(3):
        server.expect_ordered_request("/flaky").respond_with_data("down", status=503)
    server.expect_ordered_request("/flaky").respond_with_json({"ok": True})
    policy = RetryPolicy(max_attempts=4, initial_delay=1, multiplier=2, jitter=False)
    async with APIClient(base_url=base_url(server), retry=policy, clock=clock) as client:
        response = await client.get("/flaky")
    assert response.json() == {"ok": True}
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert client.metrics.total_retries == 3
    assert client.metrics.service_errors == 3
    assert client.metrics.successful_requests == 1


async def test_client_honours_retry_after_as_seconds_and_as_date(
    server: HTTPServer, clock: FakeClock
) -> None:
    date = format_datetime(datetime.fromtimestamp(clock.time() + 20, tz=UTC), usegmt=True)
    server.expect_ordered_request("/q").respond_with_data(
        "", status=429, headers={"Retry-After": "7"}
    )
    server.expect_ordered_request("/q").respond_with_data(
        "", status=503, headers={"Retry-After": date}
    )
    server.expect_ordered_request("/q").respond_with_json([1])
    async with APIClient(base_url=base_url(server), clock=clock) as client:
        assert (await client.get("/q")).json() == [1]
    # the date was 20 s ahead when the test began; 7 s of that went to the first wait
    assert clock.sleeps == pytest.approx([7.0, 13.0], abs=1.0)
    assert client.metrics.rate_limit_hits == 1


async def test_exhausted_retries_raise_service_error_with_redacted_context(
    server: HTTPServer, clock: FakeClock
) -> None:
    server.expect_request("/down").respond_with_data("still down", status=502)
    client = APIClient(
        base_url=base_url(server), retry=RetryPolicy(max_attempts=2, jitter=False), clock=clock
    )
    async with client.session():
        with pytest.raises(ServiceError) as info:
            await client.get("/down", params={"api_key": "abcd-1234-secret"})
    error = info.value
    assert error.status_code == 502
    assert "after 2 attempt(s)" in str(error)
    assert "abcd-1234-secret" not in str(error)
    assert error.request is not None
    assert "abcd-1234-secret" not in error.request.full_url
    assert client.metrics.failed_requests == 1


async def test_503_with_quota_left_neither_waits_for_the_reset_nor_pauses_the_client(
    server: HTTPServer, clock: FakeClock
) -> None:
    limits = {"X-RateLimit-Remaining": "58", "X-RateLimit-Reset": str(int(clock.time()) + 60)}
    server.expect_ordered_request("/e").respond_with_data("busy", status=503, headers=limits)
    server.expect_ordered_request("/e").respond_with_json({"ok": True}, headers=limits)
    server.expect_request("/e").respond_with_json({"ok": True}, headers=limits)
    policy = RetryPolicy(initial_delay=0.2, max_delay=0.2, jitter=False)
    async with APIClient(base_url=base_url(server), retry=policy, clock=clock) as client:
        assert (await client.get("/e")).json() == {"ok": True}
        await client.get("/e")  # the client is not paused either
    assert clock.sleeps == [0.2]
    assert client.metrics.rate_limit_waits == 0


@pytest.mark.parametrize(
    "status", [408, 425, 429, 500, 502, 503, 504, 505, 507, 520, 522, 527, 599]
)
def test_every_5xx_but_501_and_408_425_429_are_retryable_by_default(status: int) -> None:
    assert RetryPolicy().decide(attempt=1, status_code=status).retry
    assert RetryConfig().decide(attempt=1, status_code=status).retry


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 501])
def test_501_and_other_4xx_are_not_retryable_by_default(status: int) -> None:
    assert not RetryPolicy().decide(attempt=1, status_code=status).retry


@pytest.mark.parametrize(("status", "sent"), [(520, 3), (501, 1)])
async def test_client_retries_a_cloudflare_520_but_not_a_501(
    server: HTTPServer, clock: FakeClock, status: int, sent: int
) -> None:
    server.expect_request("/cf").respond_with_data("origin error", status=status)
    policy = RetryPolicy(max_attempts=3, jitter=False)
    async with APIClient(base_url=base_url(server), retry=policy, clock=clock) as client:
        with pytest.raises(ServiceError):
            await client.get("/cf")
    assert len(server.log) == sent


def test_the_breaker_and_the_stream_sources_count_the_same_server_errors() -> None:
    from collectorkit import CircuitBreakerPolicy
    from collectorkit.sources._http_stream import status_error

    breaker = CircuitBreakerPolicy()
    assert breaker.is_failure(status_code=520)
    assert not breaker.is_failure(status_code=501)
    assert type(status_error(520, "x")).__name__ == "SourceError"
    assert type(status_error(501, "x")).__name__ == "FatalSourceError"


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"retry-after": "1e9"}, "Retry-After: 1e9"),
        ({"retry-after": "inf"}, "Retry-After: inf"),
        ({"x-ratelimit-reset": "4102444800"}, "X-RateLimit-Reset: 4102444800"),
    ],
)
def test_a_server_wait_over_the_cap_gets_the_backoff_and_names_the_header(
    headers: dict[str, str], named: str
) -> None:
    policy = RetryPolicy(initial_delay=2, jitter=False, max_server_wait="5m")
    decision = policy.decide(attempt=1, status_code=429, headers=headers, now=NOW)
    assert decision.retry
    assert decision.delay == 2.0
    assert not decision.server_hint
    assert named in decision.reason
    assert "max_server_wait (300s)" in decision.reason


def test_a_server_wait_up_to_the_cap_is_obeyed() -> None:
    policy = RetryPolicy(initial_delay=2, jitter=False, max_server_wait=60)
    decision = policy.decide(attempt=1, status_code=503, headers={"retry-after": "60"}, now=NOW)
    assert (decision.delay, decision.server_hint) == (60.0, True)


async def test_a_403_with_the_quota_spent_waits_for_the_reset_and_retries(
    server: HTTPServer, clock: FakeClock
) -> None:
    # GitHub answers a spent primary rate limit with 403 and x-ratelimit-remaining: 0
    reset = str(int(clock.time()) + 30)
    server.expect_ordered_request("/audit").respond_with_data(
        "API rate limit exceeded",
        status=403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
    )
    server.expect_ordered_request("/audit").respond_with_json([{"id": 1}])
    async with APIClient(base_url=base_url(server), clock=clock) as client:
        assert (await client.get("/audit")).json() == [{"id": 1}]
    assert clock.sleeps == pytest.approx([30.0], abs=1.0)


async def test_a_403_with_quota_left_is_a_refusal_at_once(
    server: HTTPServer, clock: FakeClock
) -> None:
    server.expect_request("/audit").respond_with_data(
        "Must have admin rights", status=403, headers={"x-ratelimit-remaining": "4999"}
    )
    async with APIClient(base_url=base_url(server), clock=clock) as client:
        with pytest.raises(AuthenticationError):
            await client.get("/audit")
    assert clock.sleeps == []
    assert len(server.log) == 1


async def test_a_403_throttle_that_outlasts_the_retries_is_a_quota_error(
    server: HTTPServer, clock: FakeClock
) -> None:
    server.expect_request("/audit").respond_with_data(
        "", status=403, headers={"x-ratelimit-remaining": "0", "retry-after": "1"}
    )
    policy = RetryPolicy(max_attempts=2, jitter=False)
    async with APIClient(base_url=base_url(server), retry=policy, clock=clock) as client:
        with pytest.raises(QuotaError, match="403"):
            await client.get("/audit")
    assert len(server.log) == 2
