"""StateStoreTokenCache: OAuth2 tokens with wall-clock expiry, shared through a store."""

from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectorkit import FakeClock
from collectorkit.http import APIClient, OAuth2ClientCredentialsHandler
from collectorkit.state import MemoryStateStore, SQLiteStateStore, StateStoreTokenCache
from collectorkit.typing import TokenCache


async def test_token_expires_on_the_wall_clock() -> None:
    clock = FakeClock()
    cache = StateStoreTokenCache(MemoryStateStore(), clock=clock, leeway=30)
    assert isinstance(cache, TokenCache)
    assert await cache.get_token("client-a") is None
    await cache.set_token("client-a", "tok-1", clock.time() + 3600)
    assert await cache.get_token("client-a") == ("tok-1", clock.time() + 3600)
    clock.advance(3569)
    assert await cache.get_token("client-a") is not None
    clock.advance(1)
    assert await cache.get_token("client-a") is None
    # wall-clock jumps count too (the expiry was persisted as epoch seconds)
    await cache.set_token("client-a", "tok-2", clock.time() + 3600)
    clock.jump_wall(7200)
    assert await cache.get_token("client-a") is None


async def test_token_survives_a_restart_and_odd_keys_work(tmp_path: Path) -> None:
    clock = FakeClock()
    key = "https://idp.example/token|client\n" + "x" * 600
    first = SQLiteStateStore(tmp_path / "s.db")
    await StateStoreTokenCache(first, clock=clock).set_token(key, "secret-token", clock.time() + 60)
    await first.aclose()
    second = SQLiteStateStore(tmp_path / "s.db")
    cache = StateStoreTokenCache(second, clock=clock)
    assert await cache.get_token(key) == ("secret-token", clock.time() + 60)
    assert "secret-token" not in repr(cache)
    assert await cache.delete_token(key) is True
    await second.aclose()


async def test_oauth2_clients_share_one_token_through_the_store(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """Two clients (two runs, or two processes) on one SQLite file fetch the token once."""
    token_requests: list[str] = []

    def issue(request: Request) -> Response:
        token_requests.append(request.get_data(as_text=True))
        body = '{"access_token": "tok-shared-1", "expires_in": 3600}'
        return Response(body, mimetype="application/json")

    httpserver.expect_request("/token", method="POST").respond_with_handler(issue)
    httpserver.expect_request(
        "/data", headers={"Authorization": "Bearer tok-shared-1"}
    ).respond_with_json({"ok": True})
    path = tmp_path / "state.db"
    for _ in range(2):
        store = SQLiteStateStore(path)
        handler = OAuth2ClientCredentialsHandler(
            httpserver.url_for("/token"),
            "client-1",
            "secret-1",
            token_cache=StateStoreTokenCache(store),
        )
        async with APIClient(base_url=httpserver.url_for("/"), auth=handler) as client:
            assert (await client.get("/data")).json() == {"ok": True}
        await store.aclose()
    assert len(token_requests) == 1
