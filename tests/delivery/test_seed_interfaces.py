"""Components written as in the seed (subclassing IProcessor / IStorageBackend) plug in."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from collectorkit import (
    IProcessor,
    IStorageBackend,
    Pipeline,
    ProcessingResult,
    QueryCriteria,
    StorageLocation,
)
from collectorkit.delivery import deliver
from collectorkit.sinks import MemorySink
from collectorkit.state import MemoryStateStore


class SeedValidator(IProcessor):
    """The seed's custom processor, nearly verbatim."""

    def __init__(self, name: str, required_fields: list[str]) -> None:
        self._name = name
        self._required_fields = required_fields

    async def process(self, data: Any) -> ProcessingResult:
        start_time = datetime.now()
        parsed = json.loads(data) if isinstance(data, bytes | str) else data
        missing = [f for f in self._required_fields if f not in parsed]
        if missing:
            return ProcessingResult(
                success=False,
                processed_data=None,
                error=f"Missing required fields: {missing}",
                processing_time=(datetime.now() - start_time).total_seconds(),
            )
        parsed = {**parsed, "_validated": True}
        return ProcessingResult(
            success=True, processed_data=parsed, error=None, processing_time=0.0
        )

    def get_processor_name(self) -> str:
        return self._name


class ListBackend(IStorageBackend):
    """A seed-style backend: one record per ``store`` call."""

    def __init__(self, backend_id: str) -> None:
        self._backend_id = backend_id
        self.rows: list[dict[str, Any]] = []
        self.connected = False

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    async def store(self, data: Any) -> StorageLocation:
        self.rows.append(data)
        return StorageLocation(
            location=f"list://{self._backend_id}",
            written=1,
            location_id=str(len(self.rows)),
            backend_id=self._backend_id,
        )

    async def query(self, criteria: QueryCriteria) -> list[Any]:
        return self.rows[criteria.offset :][: criteria.limit]

    async def delete(self, location_id: str) -> None:
        del self.rows[int(location_id) - 1]

    def get_backend_id(self) -> str:
        return self._backend_id


class Page:
    def __init__(self, events: list[dict[str, Any]], state: dict[str, Any]) -> None:
        self.events, self.state = events, state


async def test_seed_components_in_the_delivery_loop() -> None:
    async def pages() -> Any:
        yield Page([{"id": 1, "v": 1}, {"v": 2}], {"page": 1})
        yield Page([{"id": 3, "v": 3}], {"page": 2})

    backend = ListBackend("list")
    dead = MemorySink()
    report = await deliver(
        pages(),
        source="s",
        sinks=[backend],
        pipeline=Pipeline([SeedValidator("validator", ["id"])]),
        dead_letter=dead,
        state_store=MemoryStateStore(),
    )
    assert backend.rows == [
        {"id": 1, "v": 1, "_validated": True},
        {"id": 3, "v": 3, "_validated": True},
    ]
    assert (report.stored, report.dead_letters, report.checkpoints) == (2, 1, 2)
    (letter,) = dead.data
    assert letter["reason"] == "Missing required fields: ['id']"
    assert letter["processor"] == "validator"


def test_the_interfaces_are_abstract() -> None:
    with pytest.raises(TypeError):
        IProcessor()  # type: ignore[abstract]
    with pytest.raises(TypeError):
        IStorageBackend()  # type: ignore[abstract]


async def test_managers_as_in_the_seed() -> None:
    from collectorkit import FanoutSink, IProcessingManager, IStorageManager

    pipeline = Pipeline()
    assert isinstance(pipeline, IProcessingManager)
    pipeline.add_processor(SeedValidator("validator", ["id"]))
    assert (await pipeline.process({"id": 1})).processed_data == {"id": 1, "_validated": True}
    assert not (await pipeline.process({})).success

    memory, backend = MemorySink(), ListBackend("list")
    fan = FanoutSink([memory])
    assert isinstance(fan, IStorageManager)
    fan.add_backend(backend)
    async with fan:
        await fan.store({"id": 9})
    assert backend.rows == [{"id": 9}]
    assert memory.data == [{"id": 9}]
    assert not backend.connected
