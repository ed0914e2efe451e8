"""Seed 004 example 3: rate limiting.

A token bucket (``RateLimitConfig``: 10 requests per second, bursts of 15) paces the client on
its side; when the server still answers 429, its ``Retry-After`` pauses the *whole* client, so
the other in-flight requests wait too instead of hitting the wall. A circuit breaker guards the
service, and the metrics show what happened.

Run against your API:  API_BASE_URL=... python examples/rate_limited.py
Run self-contained:    python examples/rate_limited.py   (starts a small local demo API that
                       allows 15 requests per second)
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from _demo_api import serve_demo_api

from collectorkit import (
    APIClientConfig,
    BaseAPIClient,
    CircuitBreakerConfig,
    RateLimitConfig,
    RetryConfig,
)

REQUESTS = int(os.environ.get("REQUESTS", "25"))


class EventsClient(BaseAPIClient):
    async def _build_base_url(self) -> str:
        return self.config.base_url or ""

    async def events(self) -> Any:
        return (await self.get("/events")).body


async def run(base_url: str) -> None:
    config = APIClientConfig(
        name="events_api",
        base_url=base_url,
        # 10 requests/second with a burst of 15: 15 go at once, then 10 per second
        rate_limit=RateLimitConfig(max_requests=10, window_seconds=1.0, burst_size=15),
        retry=RetryConfig(max_retries=5, initial_delay=0.2, max_delay=5.0),
        circuit_breaker=CircuitBreakerConfig(failure_threshold=5, recovery_timeout=30.0),
    )
    started = time.monotonic()
    async with EventsClient(config).session() as client:
        pages = await asyncio.gather(*(client.events() for _ in range(REQUESTS)))
        metrics = client.get_metrics()
    took = time.monotonic() - started
    print(f"{len(pages)} requests in {took:.2f}s ({len(pages) / took:.1f}/s)")
    print(
        f"held back by the bucket: {metrics.rate_limit_waits}, "
        f"429s from the server: {metrics.rate_limit_hits}, retries: {metrics.total_retries}"
    )
    print(
        f"successful: {metrics.successful_requests}/{metrics.total_requests}, "
        f"p95: {metrics.p95_response_time_ms:.1f} ms"
    )


async def main() -> None:
    base_url = os.environ.get("API_BASE_URL")
    if base_url:
        await run(base_url)
        return
    async with serve_demo_api() as demo_url:
        await run(demo_url)


if __name__ == "__main__":
    asyncio.run(main())
