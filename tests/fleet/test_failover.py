"""Three ``collectorkit worker`` processes, twenty simulated sources with faults, one PostgreSQL.

A worker SIGKILLed mid-page: its sources are picked up by the others within the stall
threshold and resume from their last committed page; every record the simulator served is
stored exactly once and no source ever ran on two workers at once (the workers' run logs).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest

from tests.fleet._fleet import (
    Worker,
    caught_up,
    fleet,
    overlaps,
    runs,
    simulator,
    stored_ids,
    wait_for,
    write_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(150)]

SOURCES = 20
FLEET = "{concurrency: 3, heartbeat: 0.5s, stalled_after: 2s, dispatch_every: 1}"
FAULTS: list[dict[str, Any]] = [
    {"kind": "slow", "target": "*", "delay": 0.15},
    {"kind": "rate_limit", "target": "*", "every": 9, "retry_after": 0.2},
    {"kind": "server_error", "target": "*", "every": 13},
]


def _holders(url: str, worker: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('collectorkit_fences')").fetchone() == (None,):
            return []
        rows = conn.execute(
            "SELECT key FROM collectorkit_fences WHERE holder = %s", (worker,)
        ).fetchall()
    return [r[0] for r in rows]


def test_a_killed_worker_s_sources_move_on_and_every_record_is_stored_once(
    tmp_path: Path, postgres_fresh_url: str
) -> None:
    url = postgres_fresh_url
    with simulator(SOURCES, records=160, faults=FAULTS) as sim:
        config = write_config(tmp_path / "fleet.yaml", sim, url, count=SOURCES, fleet=FLEET)
        with fleet(config, tmp_path, 3) as running:
            victim = running.workers[0]
            wait_for(lambda: len(_holders(url, victim.name)) >= 2, "w0 mid-run", 60, running)
            os.kill(victim.proc.pid, signal.SIGKILL)
            killed_at = time.time()
            victim.proc.wait(timeout=10)
            # read after the kill: only what a dead worker still holds is lost to it (a run it
            # finished between a read and the kill is not)
            held = _holders(url, victim.name)
            assert held

            def taken_over() -> bool:
                started = [
                    e
                    for w in running.workers[1:]
                    for e in w.events("fleet run started")
                    if e["source"] in held
                ]
                return {e["source"] for e in started if _after(e, killed_at)} >= set(held)

            recovery = wait_for(taken_over, "the killed worker's sources to move", 60, running)
            wait_for(lambda: caught_up(sim, url, SOURCES), "every record stored", 90, running)
            log = runs(running.workers, {victim.name: killed_at})
            fleet_view = _status(running.workers[1])
        stored = stored_ids(url)
        for i in range(SOURCES):
            name = f"g{i:02d}"
            assert len(stored[name]) == len(set(stored[name]))
            comparison = sim.ledger.compare(name, stored[name])
            assert comparison.ok, (name, comparison)
        assert not overlaps(log)
        # any worker's /status shows the whole fleet: every source, the stalls recovered
        assert {s["name"] for s in fleet_view["sources"]} == {f"g{i:02d}" for i in range(SOURCES)}
        assert fleet_view["stalls_recovered"] >= len(held)
        assert all(s["epoch"] >= 1 for s in fleet_view["sources"])
        assert recovery <= 60
        print(f"failover: {recovery:.1f} s for {len(held)} source(s)")


def _after(entry: dict[str, Any], at: float) -> bool:
    from tests.fleet._fleet import _at

    return _at(entry) >= at


def _status(worker: Worker) -> dict[str, Any]:
    url = next(e["url"] for e in worker.events("status server listening"))
    body = httpx2.get(f"{url}/status", timeout=5).json()
    metrics = httpx2.get(f"{url}/metrics", timeout=5).text
    assert "collectorkit_fleet_stalls_recovered_total" in metrics
    assert 'collectorkit_fleet_source_epoch{source="g00"}' in metrics
    return dict(body["fleet"])
