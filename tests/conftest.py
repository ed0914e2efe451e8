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

from tests._servers import (
    PASSWORD_ROLE,
    RunningServer,
    start_moto,
    start_opensearch,
    start_or_skip,
    start_postgres,
    start_redis,
)

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


@pytest.fixture(scope="session")
def postgres_password_url(postgres_url: str) -> str:
    """URL of the session's PostgreSQL as a role whose password (``right-password``) is checked:
    put another password in it to see a refused login."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'right-password'")
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {PASSWORD_ROLE}")
    host = postgres_url.split("@", 1)[1]
    return f"postgresql://{PASSWORD_ROLE}:right-password@{host}"


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


@pytest.fixture(scope="session")
def s3_server() -> Iterator[RunningServer]:
    server = start_or_skip(start_moto)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_endpoint(s3_server: RunningServer) -> str:
    """``endpoint_url`` of the session's S3-compatible server (moto); any credentials pass."""
    return s3_server.url


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty bucket on the session's S3 server; the ``AWS_*`` variables point at it."""
    import boto3

    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing-key-id"),
        ("AWS_SECRET_ACCESS_KEY", "testing-secret-key"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    bucket = f"test-{os.getpid()}-{next(_counter)}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(scope="session")
def opensearch_server() -> Iterator[RunningServer]:
    server = start_or_skip(start_opensearch)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def opensearch_url(opensearch_server: RunningServer) -> str:
    """URL of the session's OpenSearch-compatible server (osmem-server, in memory, no auth)."""
    return opensearch_server.url


@pytest.fixture
def opensearch_index() -> str:
    """An index name (prefix) no other test of the session uses."""
    return f"test-{os.getpid()}-{next(_counter)}"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Commands and daemons configure logging for the whole process (structlog's level filter,
    the root handlers); put it back so a later test sees what it would see alone."""
    import logging

    import structlog

    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = ("collectorkit", "uvicorn", "httpx2", "aiosqlite", "procrastinate")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl)
