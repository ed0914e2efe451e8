"""Seed 003's storage backend example, as the seed writes it: ``store`` returns
``StorageLocation(backend_id=…, location_id=…, path=…, created_at=…)``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from collectorkit import IStorageBackend, QueryCriteria, StorageLocation
from collectorkit.delivery import deliver
from collectorkit.state import MemoryStateStore


class ListStorageBackend(IStorageBackend):
    """The seed's PostgreSQL backend, with a list for the table."""

    def __init__(self, backend_id: str, table_name: str) -> None:
        self._backend_id = backend_id
        self._table_name = table_name
        self.rows: dict[str, Any] = {}

    async def connect(self) -> None:
        pass

    async def disconnect(self) -> None:
        pass

    async def store(self, data: Any) -> StorageLocation:
        location_id = str(uuid.uuid4())
        created_at = datetime.now()
        self.rows[location_id] = data
        return StorageLocation(
            backend_id=self._backend_id,
            location_id=location_id,
            path=f"postgresql://{self._table_name}/{location_id}",
            created_at=created_at,
        )

    async def query(self, criteria: QueryCriteria) -> list[Any]:
        return list(self.rows.values())

    async def delete(self, location_id: str) -> None:
        del self.rows[location_id]

    def get_backend_id(self) -> str:
        return self._backend_id


async def test_the_seed_backend_stores_and_its_location_reads_as_the_seed_says() -> None:
    backend = ListStorageBackend("pg", "events")
    location = await backend.store({"id": 1})
    assert location.backend_id == "pg"
    assert location.path == f"postgresql://events/{location.location_id}"
    assert location.created_at is not None
    assert location.location == "postgresql://events"
    assert location.written == 1


async def test_the_seed_backend_works_as_a_sink() -> None:
    async def pages() -> AsyncIterator[SimpleNamespace]:
        yield SimpleNamespace(events=[{"id": 1}, {"id": 2}], state={"n": 2})

    backend = ListStorageBackend("pg", "events")
    report = await deliver(pages(), source="s", sinks=[backend], state_store=MemoryStateStore())
    assert report.records == 2
    assert sorted(r["id"] for r in backend.rows.values()) == [1, 2]


def test_the_library_shape_still_builds() -> None:
    location = StorageLocation(location="list://x", written=1, location_id="7", backend_id="x")
    assert location.path == "list://x/7"
    other = StorageLocation(backend_id="b", location_id="9", path="s3://bucket/key-9")
    assert other.path == "s3://bucket/key-9"
