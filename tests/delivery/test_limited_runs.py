"""``collect_into`` with a ``limit``, run after run, against an API that repeats records.

Each run stops inside a page and saves a position in it; the next run asks for that page again.
The simulator's ``duplicates`` fault makes that page differ from the first fetch (it starts
earlier, repeating the previous page's tail), as real APIs do when records arrive or expire.
Every record the simulator served must end up in the SQLite sink exactly once.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from collectorkit import (
    BearerTokenAuthHandler,
    CollectorBlueprint,
    CollectorRequest,
    DeliveryReport,
    PaginationConfig,
    SQLiteSink,
    collect_into,
)
from collectorkit.simulator import FaultSpec, SimulatorServer, build_config
from collectorkit.state import SQLiteStateStore

PAGE_SIZE, LIMIT = 50, 70


def _blueprint(sim: SimulatorServer) -> CollectorBlueprint:
    pagination = PaginationConfig(
        mode="cursor",
        cursor_param="cursor",
        next_cursor_path="meta.next_cursor",
        page_size_param="limit",
        page_size=PAGE_SIZE,
    )
    return CollectorBlueprint(
        name="events",
        base_url=sim.url("generic"),
        request=CollectorRequest(
            endpoint="/v1/events", data_path="data.events", pagination=pagination
        ),
        auth_handler=BearerTokenAuthHandler(sim.credentials("generic")["token"]),
    )


async def _runs_until_caught_up(blueprint: CollectorBlueprint, db: Path) -> list[DeliveryReport]:
    """Runs of at most ``LIMIT`` records, each resuming from the last one's checkpoint."""
    reports: list[DeliveryReport] = []
    for _ in range(20):
        sink, store = SQLiteSink(db), SQLiteStateStore(db)
        async with sink, store:
            report = await collect_into(blueprint, sinks=[sink], state=store, limit=LIMIT)
        reports.append(report)
        if report.stop_reason != "limit_reached":
            return reports
    raise AssertionError("the collection never caught up")


def _stored_ids(db: Path) -> Counter[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT json_extract(data, '$.id') FROM events").fetchall()
    return Counter(str(row[0]) for row in rows)


async def test_limited_runs_over_repeating_pages_store_every_served_record_once(
    tmp_path: Path,
) -> None:
    faults = (FaultSpec(kind="duplicates", target="generic", every=2, count=5),)
    config = build_config(seed=7, profiles=["generic"], records=300, faults=faults)
    db = tmp_path / "events.db"
    async with SimulatorServer(config) as sim:
        blueprint = _blueprint(sim)
        first = await _runs_until_caught_up(blueprint, db)
        added = sim.add_records("generic", 20)
        second = await _runs_until_caught_up(blueprint, db)
        comparison = sim.ledger.compare("generic", _stored_ids(db))
        existing = sim.ledger.existing("generic")
        repeated = sim.ledger.duplicates("generic")
    stored = _stored_ids(db)
    assert len(first) > 1, "every run but the last should stop mid-collection at the limit"
    assert repeated, "the duplicates fault should have repeated records"
    assert not comparison.lost, f"served but never stored: {sorted(comparison.lost)}"
    assert set(stored) == existing  # all 320, the 20 added later among them
    assert set(added) <= set(stored)
    assert max(stored.values()) == 1  # one row per record
    assert sum(r.stored for r in first + second) == len(existing)
    # a position inside a page names at most one record per record of that page
    names = [len((r.last_state or {}).get("skip_keys", [])) for r in first + second]
    assert 0 < max(names) <= PAGE_SIZE
