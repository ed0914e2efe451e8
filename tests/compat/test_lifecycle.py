"""One lifecycle: ``aclose()`` / ``async with`` for every resource, ``close()`` / ``with`` for the
sync facades, and the seed's ``connect()`` / ``disconnect()`` only in ``collectorkit.compat``."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

import collectorkit
from collectorkit import (
    APIClient,
    CollectorBlueprint,
    CollectorClient,
    CollectorRequest,
    HTTPCollectorSource,
    JSONLSink,
    MemoryStateStore,
    SQLiteSink,
    SQLiteStateStore,
    StorageServiceClient,
)
from collectorkit.compat import IStorageBackend, MockDataSource, MockStorageBackend
from collectorkit.typing import DataSource, Sink, StateStore

SRC = Path(collectorkit.__file__).parent


def test_no_public_async_close_or_disconnect_outside_compat() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if "compat" in path.relative_to(SRC).parts:
            continue
        for cls in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in cls.body:
                if isinstance(node, ast.AsyncFunctionDef) and node.name in {"close", "disconnect"}:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} async def {node.name}")
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id in {"close", "disconnect"}
                    for t in node.targets
                ):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} {ast.unparse(node)}")
    assert found == []


async def test_state_stores_close_with_aclose_and_async_with(tmp_path: Path) -> None:
    async with SQLiteStateStore(tmp_path / "state.db") as store:
        assert isinstance(store, StateStore)
        await store.put("ns", "k", {"v": 1})
    reopened = SQLiteStateStore(tmp_path / "state.db")
    stored = await reopened.get("ns", "k")
    assert stored is not None
    assert stored.value == {"v": 1}
    await reopened.aclose()
    async with MemoryStateStore() as memory:
        assert isinstance(memory, StateStore)
    async with StorageServiceClient("http://127.0.0.1:1") as client:
        assert isinstance(client, StateStore)


@pytest.mark.parametrize("make", [SQLiteSink, JSONLSink], ids=["sqlite", "jsonl"])
async def test_sinks_open_on_entry_and_close_with_aclose(make: type, tmp_path: Path) -> None:
    target = tmp_path / ("events.db" if make is SQLiteSink else "events.jsonl")
    async with make(target) as sink:
        assert isinstance(sink, Sink)
        assert sink.connected
        await sink.store([{"id": "a"}])
    assert not sink.connected
    await sink.aclose()  # idempotent
    again = make(target)
    assert [e.data["id"] for e in await again.query()] == ["a"]
    await again.aclose()


def _client_blueprint() -> CollectorBlueprint:
    return CollectorBlueprint(
        name="x", base_url="http://127.0.0.1:1", request=CollectorRequest(endpoint="/e")
    )


async def test_sources_and_collectors_close_with_aclose() -> None:
    source = HTTPCollectorSource(_client_blueprint())
    async with source:
        assert isinstance(source, DataSource)
        assert source.connected
    assert not source.connected
    async with CollectorClient(_client_blueprint()) as client:
        assert client.blueprint.name == "x"


def test_sync_close_outside_a_loop_closes_the_transport() -> None:
    client = APIClient(base_url="http://127.0.0.1:1")
    first = client.transport
    client.close()
    assert client.transport is not first  # the pool was closed and dropped; a new one opens
    client.close()
    with APIClient(base_url="http://127.0.0.1:1") as managed:
        opened = managed.transport
    assert managed.transport is not opened
    with CollectorClient(_client_blueprint()) as collector:
        assert collector.blueprint.name == "x"


async def test_close_inside_a_loop_really_closes_awaited_or_not() -> None:
    awaited = APIClient(base_url="http://127.0.0.1:1")
    first = awaited.transport
    await awaited.close()  # seed 004's spelling
    assert awaited.transport is not first
    forgotten = APIClient(base_url="http://127.0.0.1:1")
    second = forgotten.transport
    closing = forgotten.close()  # not awaited: the close still runs
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert closing.done
    assert forgotten.transport is not second


async def test_seed_spellings_keep_connect_and_disconnect() -> None:
    source = MockDataSource(source_id="s", data=[{"id": 1}])
    storage = MockStorageBackend(backend_id="b")
    await source.connect()
    await storage.connect()
    assert [dict(r) for r in await source.collect()] == [{"id": 1}]
    await source.disconnect()
    await storage.disconnect()
    assert not source.connected
    assert not storage.connected
    async with MockDataSource(source_id="t") as opened:  # the library's spelling works too
        assert opened.connected
    assert not opened.connected
    assert isinstance(opened, DataSource)
    assert isinstance(storage, Sink)  # the seed mock is a sink the delivery loop takes as is
    assert hasattr(IStorageBackend, "aclose")
