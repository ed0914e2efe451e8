"""Exactly once into your sinks: the simulator's events into one SQLite file, twice.

``python examples/exactly_once.py`` starts collectorkit's local simulator (a fake vendor API)
with faults — a 503 and a 429 with ``Retry-After`` — collects its events into ``events.db``,
lets 20 new events arrive and collects again. The second run resumes from the checkpoint the
first saved in the same file (records and state commit together), and every event is in the
file exactly once.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from collectorkit import (
    BearerTokenAuthHandler,
    CollectorBlueprint,
    CollectorRequest,
    DeliveryReport,
    PaginationConfig,
    RetryPolicy,
    SQLiteSink,
    collect_into_sync,
)
from collectorkit.simulator import FaultSpec, SimulatorServer, build_config

FAULTS = (
    FaultSpec(kind="server_error", target="generic", requests="2"),
    FaultSpec(kind="rate_limit", target="generic", requests="4", retry_after=1),
)


def events_blueprint(base_url: str, token: str) -> CollectorBlueprint:
    """The simulator's generic events API: bearer token, cursor paging, 50 a page."""
    return CollectorBlueprint(
        name="events",
        base_url=base_url,
        request=CollectorRequest(
            endpoint="/v1/events",
            data_path="data.events",
            pagination=PaginationConfig(
                mode="cursor",
                cursor_param="cursor",
                next_cursor_path="meta.next_cursor",
                page_size_param="limit",
                page_size=50,
            ),
        ),
        auth_handler=BearerTokenAuthHandler(token),
        retry_policy=RetryPolicy(max_attempts=4, initial_delay=0.05),
    )


def collect(blueprint: CollectorBlueprint, db: Path) -> DeliveryReport:
    """One run: everything new since the last run's checkpoint, into ``db``, exactly once."""
    return collect_into_sync(blueprint, sinks=[SQLiteSink(db)], state=f"sqlite:///{db}")


def stored_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT json_extract(data, '$.id') FROM events")]


def main() -> None:
    config = build_config(seed=7, profiles=["generic"], records=300, faults=FAULTS)
    with tempfile.TemporaryDirectory() as tmp, SimulatorServer(config) as sim:
        db = Path(tmp) / "events.db"
        token = sim.credentials("generic")["token"]
        blueprint = events_blueprint(sim.url("generic"), token)
        first = collect(blueprint, db)
        print(
            f"first run: {first.stored} stored in {first.pages} pages, "
            f"stop reason {first.stop_reason}, {first.dead_letters} dead letters"
        )
        sim.add_records("generic", 20)
        second = collect(blueprint, db)
        print(f"second run: {second.stored} stored (resumed from the checkpoint)")
        ids = stored_ids(db)
        served = sim.ledger.served_ids("generic")
        print(f"in SQLite: {len(ids)} events, {len(set(ids))} distinct; served: {len(served)}")


if __name__ == "__main__":
    main()
