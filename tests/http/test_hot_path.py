"""The per-request work of a client with every policy on: a budget of Python calls, so a change
that puts per-request churn back on the hot path (rebuilt headers, eager logging, a coroutine
layer per step) fails here rather than only in ``bench/bench_http.py``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

import orjson

from collectorkit import (
    APIClient,
    BearerTokenAuthHandler,
    CircuitBreakerPolicy,
    RateLimitPolicy,
    RetryPolicy,
    TimeoutSettings,
)
from collectorkit.http import RawResponse

BODY = orjson.dumps({"data": [{"id": 1}]})
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


class Answering:
    """A transport answering 200 at once, keeping what it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, list[tuple[str, str]]]] = []

    async def send(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        content: bytes | None,
        timeouts: TimeoutSettings,
    ) -> RawResponse:
        self.sent.append((method, url, list(headers)))
        return RawResponse(200, HEADERS, BODY)

    async def aclose(self) -> None:
        pass


def _client(transport: Answering) -> APIClient:
    return APIClient(
        base_url="http://api.test/v1",
        auth=BearerTokenAuthHandler("hot-path-token-1"),
        retry=RetryPolicy(max_attempts=3),
        rate_limit=RateLimitPolicy(rate_per_second=1_000_000, burst=1000),
        circuit_breaker=CircuitBreakerPolicy(failure_threshold=5),
        transport=transport,
    )


async def _calls_per_request(client: APIClient) -> int:
    """Python-level calls into collectorkit made by one ``get`` (the transport excluded)."""
    calls = 0

    def count(frame: FrameType, event: str, _: Any) -> None:
        nonlocal calls
        if event == "call" and "collectorkit" in frame.f_code.co_filename:
            calls += 1

    await client.get("/events")  # warm: base URL resolved, pools and caches built
    sys.setprofile(count)
    try:
        await client.get("/events")
    finally:
        sys.setprofile(None)
    return calls


async def test_a_request_with_every_policy_stays_within_its_call_budget() -> None:
    transport = Answering()
    client = _client(transport)
    calls = await _calls_per_request(client)
    # measured 24 after the hot-path work (59 before it): headroom for a new policy step,
    # not for per-request rebuilding of what can be built once
    assert calls <= 28, calls
    method, url, headers = transport.sent[-1]
    assert (method, url) == ("GET", "http://api.test/v1/events")
    assert ("Authorization", "Bearer hot-path-token-1") in headers
    assert client.metrics.successful_requests == 2


async def test_the_trusted_url_shortcut_gives_credentials_to_the_base_origin_only() -> None:
    transport = Answering()
    client = _client(transport)
    urls = [
        "/events",  # under the base URL
        "http://api.test/other",  # the same origin, outside the base path
        "HTTP://API.TEST:80/caps",  # the same origin, spelled otherwise (no shortcut)
        "http://api.test:80@evil.test/x",  # userinfo that looks like the base: another host
        "http://api.test.evil/x",
        "https://api.test/x",  # another scheme is another origin
        "http://api.test:8080/x",
    ]
    for url in urls:
        await client.get(url)
    authorized = [
        any(name == "Authorization" for name, _ in headers) for _, _, headers in transport.sent
    ]
    assert authorized == [True, True, True, False, False, False, False]


async def test_per_request_headers_params_and_json_body_reach_the_wire() -> None:
    transport = Answering()
    client = _client(transport)
    await client.post(
        "events", params={"page": 2, "tag": ["a", "b"]}, json={"x": 1}, headers={"X-Trace": "t"}
    )
    await client.get("/events")  # defaults untouched by the previous call
    (method, url, headers), (_, _, plain) = transport.sent
    assert (method, url) == ("POST", "http://api.test/v1/events?page=2&tag=a&tag=b")
    assert {"X-Trace", "Content-Type", "Authorization", "User-Agent"} <= {n for n, _ in headers}
    assert ("Content-Type", "application/json") in headers
    assert not {"X-Trace", "Content-Type"} & {n for n, _ in plain}
