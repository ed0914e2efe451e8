"""Upstream down: one source's API answers every request with a 500. Its circuit breaker opens
after two failures and no further request reaches that API; the daemon backs the source off
(fewer and fewer runs), while the healthy source beside it keeps its schedule and delivers every
record, as they arrive, once."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import httpx2
import pytest

from collectorkit.simulator import build_config
from tests.evidence._daemon import start_daemon, status_url, stop_daemon
from tests.evidence._support import generic_source, stored_ids, timed_simulator, write_config

pytestmark = pytest.mark.slow

WINDOW = 6.0  # seconds the daemon runs


@pytest.mark.timeout(60)
def test_breaker_opens_source_backs_off_and_the_other_keeps_its_throughput(
    tmp_path: Path,
) -> None:
    profiles = [{"kind": "generic", "name": "healthy"}, {"kind": "generic", "name": "down"}]
    faults = [{"kind": "server_error", "target": "down", "status": 500}]
    cfg = build_config(seed=12, profiles=profiles, records=150, faults=faults)
    with timed_simulator(cfg) as (sim, log):
        db = tmp_path / "ck.db"
        token = "${EVIDENCE_GENERIC_TOKEN}"
        sources = [
            generic_source("healthy", sim.url("healthy"), token=token, interval="0.4s"),
            {
                **generic_source("down", sim.url("down"), token=token, interval="0.4s"),
                "retry": {"max_attempts": 2, "initial_delay": 0.01, "max_delay": 0.05},
                "circuit_breaker": {"failure_threshold": 2, "recovery_timeout": "60s"},
            },
        ]
        config = {
            "state": f"sqlite:///{db}",
            "sinks": [{"type": "sqlite", "path": str(db)}],
            "status": {"host": "127.0.0.1", "port": 0},
            "sources": sources,
        }
        path = write_config(tmp_path / "collectorkit.yaml", config)
        env = {**os.environ, "EVIDENCE_GENERIC_TOKEN": sim.credentials("healthy")["token"]}
        daemon_log = tmp_path / "daemon.log"
        proc = start_daemon(path, env, daemon_log)
        try:
            url = status_url(proc, daemon_log)
            started = time.monotonic()
            while time.monotonic() - started < WINDOW:
                sim.add_records("healthy", 10)
                time.sleep(0.3)
            time.sleep(1.2)  # the last records' window closes and is collected
            status = httpx2.get(url + "/status").json()
            metrics = httpx2.get(url + "/metrics").text
        finally:
            code = stop_daemon(proc)
        assert code == 0, daemon_log.read_text()
        down_requests = len(log.for_path("/down/v1/events"))
        healthy_requests = len(log.for_path("/healthy/v1/events"))
        stored = Counter(stored_ids("sqlite", db, "healthy"))
        existing = sim.ledger.existing("healthy")

    by_name = {s["name"]: s for s in status["sources"]}
    down, healthy = by_name["down"], by_name["healthy"]
    print(
        f"\n[upstream down] down: runs={down['runs']} failed={down['runs_failed']} "
        f"requests={down_requests} breaker={down['breaker_state']} errors={down['errors']}; "
        f"healthy: runs={healthy['runs']} records={healthy['records']} requests={healthy_requests}"
    )
    assert down_requests == 2, "the open breaker must keep requests off the failing API"
    assert down["breaker_state"] == "open"
    assert down["errors"].get("breaker_open", 0) >= 1
    assert down["runs"] == down["runs_failed"] >= 2
    assert down["consecutive_failures"] == down["runs"]
    # backed off: interval 0.4 s doubling per failure vs the healthy source's steady schedule
    assert down["runs"] <= healthy["runs"] / 2
    assert healthy["runs"] >= WINDOW / 0.4 * 0.6
    assert healthy["runs_failed"] == 0
    assert [k for k, n in stored.items() if n > 1] == []
    assert set(stored) == existing
    assert 'source="down"' in metrics
