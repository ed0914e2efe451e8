"""Properties of every embedded sink: whatever batches arrive, in whatever order and with
whatever repeats, each key is stored exactly once and the counts add up."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectorkit import Envelope
from collectorkit.sinks import JSONFileSink, JSONLSink, MemorySink, SQLiteSink
from collectorkit.typing import Checkpoint, QueryCriteria, Sink

MAKERS: dict[str, Callable[[Path], Sink]] = {
    "memory": lambda _: MemorySink(),
    "sqlite": lambda d: SQLiteSink(d / "e.db"),
    "jsonl": lambda d: JSONLSink(d / "e.jsonl", max_bytes=300),
    "json_files": lambda d: JSONFileSink(d / "files"),
}

batches = st.lists(st.lists(st.integers(0, 30), max_size=12), max_size=8)


async def _store_all(sink: Sink, plan: list[list[int]]) -> tuple[int, int]:
    written = duplicates = 0
    async with sink:  # type: ignore[attr-defined]
        for number, ids in enumerate(plan):
            batch = [Envelope("s", f"s:{i}", {"id": i}) for i in ids]
            store_with = getattr(sink, "store_with_checkpoint", None)
            if store_with is not None and number % 2:
                result = await store_with(batch, Checkpoint("ns", "s", {"n": number}))
            else:
                result = await sink.store(batch)
            written += result.written
            duplicates += result.duplicates
        stored = [e.data["id"] for e in await sink.query(QueryCriteria())]
    assert sorted(stored) == sorted({i for ids in plan for i in ids})
    return written, duplicates


@pytest.mark.parametrize("kind", sorted(MAKERS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=batches)
def test_each_key_is_stored_once_and_counts_add_up(kind: str, plan: list[list[int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sink = MAKERS[kind](Path(tmp))
        written, duplicates = asyncio.run(_store_all(sink, plan))
    assert written == len({i for ids in plan for i in ids})
    assert written + duplicates == sum(len(ids) for ids in plan)
