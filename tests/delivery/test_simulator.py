"""A whole collection from the simulator, with faults, into SQLite + JSONL (fan-out): every
record it served is stored exactly once, across two runs, though the API repeated some."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from collectorkit import (
    BearerTokenAuthHandler,
    CollectorBlueprint,
    CollectorClient,
    CollectorRequest,
    CollectorState,
    JSONLSink,
    PaginationConfig,
    RetryPolicy,
    SQLiteSink,
)
from collectorkit.delivery import deliver
from collectorkit.simulator import FaultSpec, ProfileConfig, SimulatorConfig, SimulatorServer
from collectorkit.state import SQLiteStateStore
from collectorkit.testing import no_backoff
from collectorkit.typing import QueryCriteria

FAULTS = (
    FaultSpec(kind="server_error", target="generic", requests="2,5"),
    FaultSpec(kind="rate_limit", target="generic", requests="7", retry_after=1),
    FaultSpec(kind="duplicates", target="generic", every=3, count=4),
)


def _collector(base: str) -> CollectorClient:
    pagination = PaginationConfig(
        mode="cursor",
        cursor_param="cursor",
        next_cursor_path="meta.next_cursor",
        page_size_param="limit",
        page_size=25,
    )
    request = CollectorRequest(
        endpoint="/v1/events", data_path="data.events", pagination=pagination
    )
    blueprint = CollectorBlueprint(
        name="sim",
        base_url=base,
        request=request,
        auth_handler=BearerTokenAuthHandler("sim-generic-token"),
        retry_policy=RetryPolicy(max_attempts=4, initial_delay=0.01),
    )
    return CollectorClient(blueprint)


async def _run(base: str, db: Path, jsonl: JSONLSink) -> int:
    sqlite = SQLiteSink(db)
    store = SQLiteStateStore(db)
    try:
        saved = await store.get("collector_state", "sim")
        resume = CollectorState.from_dict(saved.value) if saved else None
        async with _collector(base) as client, sqlite, jsonl:
            report = await deliver(
                client.iter_pages(resume_state=resume),
                source="sim",
                sinks=[jsonl, sqlite],
                key_fields=["id"],
                checkpoint_sink=sqlite,
            )
    finally:
        await store.aclose()
    return report.duplicates


async def test_simulated_collection_is_exactly_once(tmp_path: Path) -> None:
    config = SimulatorConfig(
        seed=11, profiles=(ProfileConfig(kind="generic", records=300),), faults=FAULTS
    )
    jsonl = JSONLSink(tmp_path / "out" / "{source}.jsonl")
    with no_backoff():
        async with SimulatorServer(config) as sim:
            base = sim.url("generic")
            repeated = await _run(base, tmp_path / "c.db", jsonl)
            sim.add_records("generic", 20)
            await _run(base, tmp_path / "c.db", jsonl)
            served = sim.ledger.served_ids("generic")
            duplicates_served = sim.ledger.duplicates("generic")
    assert len(served) == 320
    assert duplicates_served, "the duplicates fault should have repeated records"
    assert repeated > 0

    sqlite = SQLiteSink(tmp_path / "c.db")
    async with sqlite:
        in_sqlite = Counter(str(e.data["id"]) for e in await sqlite.query(QueryCriteria()))
    async with jsonl:
        in_jsonl = Counter(str(e.data["id"]) for e in await jsonl.query(QueryCriteria()))
    for stored in (in_sqlite, in_jsonl):
        assert set(stored) == served
        assert max(stored.values()) == 1
