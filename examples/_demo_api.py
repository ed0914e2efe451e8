"""A tiny local API for the HTTP examples, used when ``API_BASE_URL`` is not set.

Serves ``/users`` (API key), ``/oauth/token`` + ``/orders`` (OAuth2 client credentials) and
``/events`` (at most 15 requests per second, then 429 with ``Retry-After``) on 127.0.0.1.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

__all__ = ["DEMO_API_KEY", "DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "serve_demo_api"]

DEMO_API_KEY = "sk-demo-key-123"
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret-456"
EVENTS_PER_SECOND = 15


def _app() -> web.Application:
    users = [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}]
    tokens: set[str] = set()
    counter = itertools.count(1)
    window = {"second": 0, "count": 0}

    async def list_users(request: web.Request) -> web.Response:
        if request.headers.get("X-API-Key") != DEMO_API_KEY:
            return web.json_response({"error": "bad api key"}, status=401)
        return web.json_response(users)

    async def create_user(request: web.Request) -> web.Response:
        if request.headers.get("X-API-Key") != DEMO_API_KEY:
            return web.json_response({"error": "bad api key"}, status=401)
        user = {"id": len(users) + 1, **await request.json()}
        users.append(user)
        return web.json_response(user, status=201)

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        expected = base64.b64encode(f"{DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}".encode()).decode()
        basic_ok = request.headers.get("Authorization") == f"Basic {expected}"
        post_ok = form.get("client_secret") == DEMO_CLIENT_SECRET
        if form.get("grant_type") != "client_credentials" or not (basic_ok or post_ok):
            return web.json_response({"error": "invalid_client"}, status=401)
        access = f"demo-access-{next(counter)}"
        tokens.add(access)
        return web.json_response(
            {"access_token": access, "token_type": "Bearer", "expires_in": 3600}
        )

    async def orders(request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in tokens:
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response([{"id": "ORD-1", "total": 42.0}, {"id": "ORD-2", "total": 7.5}])

    async def events(request: web.Request) -> web.Response:
        now = int(time.time())
        if window["second"] != now:
            window.update(second=now, count=0)
        window["count"] += 1
        if window["count"] > EVENTS_PER_SECOND:
            return web.json_response(
                {"error": "slow down"}, status=429, headers={"Retry-After": "1"}
            )
        return web.json_response({"events": [{"id": window["count"]}]})

    app = web.Application()
    app.router.add_get("/users", list_users)
    app.router.add_post("/users", create_user)
    app.router.add_post("/oauth/token", token)
    app.router.add_get("/orders", orders)
    app.router.add_get("/events", events)
    return app


@asynccontextmanager
async def serve_demo_api() -> AsyncIterator[str]:
    """Run the demo API on a free port of 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
