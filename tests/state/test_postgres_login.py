"""A PostgreSQL that refuses the login says so: "authentication failed", not "unreachable"."""

from __future__ import annotations

import logging
import time

import pytest

from collectorkit import ConfigError, StateStoreUnavailableError
from collectorkit.state import PostgresStateStore, open_state_store
from tests._servers import free_port

pytestmark = pytest.mark.integration


async def test_a_wrong_password_is_authentication_failed_at_once(
    postgres_password_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = postgres_password_url.replace("right-password", "wrong-password")
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as caught:
        await open_state_store(url, fallback_to_memory=True)  # memory would not fix a password
    message = str(caught.value)
    assert "authentication failed" in message
    assert "unreachable" not in message
    assert "wrong-password" not in message
    assert caught.value.path == "state"
    assert time.monotonic() - started < 5  # no pool retrying a refused login until its timeout
    assert not [r for r in caplog.records if r.name.startswith("psycopg")]


async def test_the_right_password_opens_the_store(postgres_password_url: str) -> None:
    store = await open_state_store(postgres_password_url)
    try:
        await store.put("ns", "k", {"a": 1})
        assert (await store.get("ns", "k")).value == {"a": 1}  # type: ignore[union-attr]
    finally:
        await store.aclose()


async def test_a_missing_database_is_named(postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(ConfigError, match='database "no_such_database" does not exist'):
        await open_state_store(url)


async def test_a_server_that_is_down_is_unreachable_without_waiting_for_the_pool() -> None:
    store = PostgresStateStore(f"postgresql://u:hunter2@127.0.0.1:{free_port()}/db")
    started = time.monotonic()
    with pytest.raises(StateStoreUnavailableError, match="unreachable") as caught:
        await store.ping()
    assert "hunter2" not in str(caught.value)
    assert time.monotonic() - started < 5
    await store.aclose()


async def test_a_refused_key_value_dsn_does_not_show_its_password(
    postgres_password_url: str,
) -> None:
    host, port = postgres_password_url.split("@", 1)[1].split("/", 1)[0].split(":")
    dsn = f"host={host} port={port} user=collectorkit_password_user password=wrong-password"
    with pytest.raises(ConfigError, match="authentication failed") as caught:
        await PostgresStateStore(dsn).ping()
    assert "wrong-password" not in str(caught.value)
