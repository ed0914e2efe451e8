"""Seed 004 example 2: OAuth 2.0 client credentials.

The client fetches a token from ``token_url`` on first use, caches it until shortly before it
expires, refreshes it once on a 401, and shares one refresh between concurrent requests. The
client secret and the tokens never appear in logs, errors or reprs.

Run against your API:  API_BASE_URL=... TOKEN_URL=... CLIENT_ID=... CLIENT_SECRET=... \\
                       python examples/oauth_flow.py
Run self-contained:    python examples/oauth_flow.py   (starts a small local demo API)
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from _demo_api import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, serve_demo_api

from collectorkit import (
    APIClientConfig,
    BaseAPIClient,
    RetryConfig,
    RetryStrategy,
    create_oauth2_auth,
)


class OrdersClient(BaseAPIClient):
    async def _build_base_url(self) -> str:
        return self.config.base_url or ""

    async def list_orders(self) -> Any:
        return (await self.get("/orders")).body


async def run(base_url: str) -> None:
    auth = create_oauth2_auth(
        client_id=os.environ.get("CLIENT_ID", DEMO_CLIENT_ID),
        client_secret=os.environ.get("CLIENT_SECRET", DEMO_CLIENT_SECRET),
        token_url=os.environ.get("TOKEN_URL", f"{base_url}/oauth/token"),
        scopes=["orders:read"],
    )
    print(f"auth config: {auth!r}")  # the secret is not in the repr
    config = APIClientConfig(
        name="orders_api",
        base_url=base_url,
        auth=auth,
        retry=RetryConfig(max_retries=3, strategy=RetryStrategy.EXPONENTIAL, initial_delay=0.5),
    )
    async with OrdersClient(config).session() as client:
        # Five concurrent calls: one token fetch, shared by all of them.
        results = await asyncio.gather(*(client.list_orders() for _ in range(5)))
        print(f"fetched {len(results[0])} orders x {len(results)} concurrent calls")
        print(f"token fetches: {client.auth.fetches}")  # type: ignore[attr-defined]
        print(f"requests: {client.get_metrics().total_requests}")


async def main() -> None:
    base_url = os.environ.get("API_BASE_URL")
    if base_url:
        await run(base_url)
        return
    async with serve_demo_api() as demo_url:
        await run(demo_url)


if __name__ == "__main__":
    asyncio.run(main())
