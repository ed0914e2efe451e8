"""The ``store`` fixture: one contract suite, run against every state store.

PostgreSQL and Redis are the real session servers from the root ``conftest.py``; the service is
the real FastAPI app under uvicorn on 127.0.0.1, reached over HTTP by ``StorageServiceClient``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collectorkit.service import run_storage_service
from collectorkit.state import (
    MemoryStateStore,
    PostgresStateStore,
    RedisStateStore,
    SQLiteStateStore,
    StorageServiceClient,
)
from collectorkit.typing import StateStore

STORES = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.integration),
    pytest.param("redis", marks=pytest.mark.integration),
    "service",
]


async def make_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    unique = uuid.uuid4().hex[:12]
    if kind == "memory":
        return MemoryStateStore()
    if kind == "sqlite":
        return SQLiteStateStore(tmp_path / "state.db")
    if kind == "postgres":
        return PostgresStateStore(request.getfixturevalue("postgres_url"), table=f"t_{unique}")
    if kind == "redis":
        return RedisStateStore(request.getfixturevalue("redis_url"), prefix=f"test:{unique}")
    raise AssertionError(kind)


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStore]:
    kind: str = request.param
    if kind == "service":
        backing = SQLiteStateStore(tmp_path / "service.db")
        async with run_storage_service(backing, token="t0ken-for-the-state-tests") as url:
            client = StorageServiceClient(url, token="t0ken-for-the-state-tests", timeout=10)
            yield client
            await client.aclose()
        await backing.aclose()
        return
    made = await make_store(kind, request, tmp_path)
    yield made
    await made.aclose()
