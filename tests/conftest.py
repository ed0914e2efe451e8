"""Shared fixtures: real PostgreSQL and Redis servers, one of each per test session.

``postgres_url`` / ``redis_url`` start the server on first use and stop it (by PID) at the end of
the session. ``postgres_fresh_url`` gives each test its own empty database; ``redis_fresh_url``
gives it an empty Redis database. Mark tests that use them ``@pytest.mark.integration``.

When the binaries are missing the tests skip locally, but fail when the environment says
``COLLECTORKIT_REQUIRE_SERVICES=1`` (``scripts/check`` sets it in CI): a CI run that silently
skipped its real-server tests would prove nothing.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from tests._servers import RunningServer, start_or_skip, start_postgres, start_redis

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[RunningServer]:
    server = start_or_skip(start_postgres)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: RunningServer) -> str:
    """URL of the session's PostgreSQL (database ``postgres``, user ``postgres``, no password)."""
    return postgres_server.url


@pytest.fixture
def postgres_fresh_url(postgres_url: str) -> Iterator[str]:
    """URL of a new, empty database on the session's PostgreSQL, dropped after the test."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(postgres_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("SET statement_timeout = '20s'")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RunningServer]:
    server = start_or_skip(start_redis)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RunningServer) -> str:
    """URL of the session's Redis (db 0)."""
    return redis_server.url


@pytest.fixture
def redis_fresh_url(redis_url: str) -> str:
    """URL of the session's Redis with database 1 emptied before the test."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/1"
    client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
    try:
        client.flushdb()
    finally:
        client.close()
    return url
