"""The real-server fixtures: skip locally when a server is missing, fail in CI."""

from __future__ import annotations

import pytest

from tests._servers import MissingServerError, RunningServer, start_or_skip


def _missing() -> RunningServer:
    raise MissingServerError("redis-server not found")


def test_missing_server_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLLECTORKIT_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server not found"):
        start_or_skip(_missing)


def test_missing_server_fails_when_services_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLECTORKIT_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="COLLECTORKIT_REQUIRE_SERVICES=1"):
        start_or_skip(_missing)


@pytest.mark.integration
def test_servers_are_ours_and_answer(postgres_url: str, redis_url: str) -> None:
    import psycopg
    import redis

    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT current_setting('fsync')").fetchone()
    assert row == ("off",)
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.config_get("save") == {"save": ""}
    finally:
        client.close()
