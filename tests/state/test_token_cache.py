"""StateStoreTokenCache: OAuth2 tokens with wall-clock expiry, shared through a store."""

from __future__ import annotations

from pathlib import Path

from collectorkit import FakeClock
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
    await first.close()
    second = SQLiteStateStore(tmp_path / "s.db")
    cache = StateStoreTokenCache(second, clock=clock)
    assert await cache.get_token(key) == ("secret-token", clock.time() + 60)
    assert "secret-token" not in repr(cache)
    assert await cache.delete_token(key) is True
    await second.close()
