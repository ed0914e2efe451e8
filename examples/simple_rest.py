"""Seed 004 example 1: a basic REST API client.

Subclass ``BaseAPIClient``, describe the API in an ``APIClientConfig``, call it inside
``session()``. Retries, metrics and redacted logging come with the client.

Run against your API:
    API_BASE_URL=https://api.example.com API_KEY=... python examples/simple_rest.py
Run self-contained:     python examples/simple_rest.py   (starts a small local demo API)
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from _demo_api import DEMO_API_KEY, serve_demo_api

from collectorkit import APIClientConfig, AuthConfig, AuthType, BaseAPIClient


class MyAPIClient(BaseAPIClient):
    async def _build_base_url(self) -> str:
        return self.config.base_url or ""

    async def get_users(self) -> Any:
        response = await self.get("/users")
        return response.body

    async def create_user(self, name: str) -> Any:
        response = await self.post("/users", json={"name": name})
        return response.body


async def run(base_url: str) -> None:
    config = APIClientConfig(
        name="my_api",
        base_url=base_url,
        auth=AuthConfig(
            type=AuthType.API_KEY,
            token=os.environ.get("API_KEY", DEMO_API_KEY),
            token_key="X-API-Key",
        ),
    )
    async with MyAPIClient(config).session() as client:
        created = await client.create_user("Linus")
        users = await client.get_users()
        print(f"created user {created['id']}; {len(users)} users: {[u['name'] for u in users]}")
        metrics = client.get_metrics()
        print(
            f"requests: {metrics.total_requests}, successful: {metrics.successful_requests}, "
            f"avg response: {metrics.average_response_time_ms:.2f} ms"
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
