"""A worker paused past its heartbeat (SIGSTOP) loses its source to another worker; when it
comes back (SIGCONT) its late checkpoint is refused (FencedError) and nothing is duplicated."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fleet._fleet import caught_up, fleet, simulator, stored_ids, wait_for, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(150)]

SOURCES = 3
FLEET = "{concurrency: 2, heartbeat: 0.5s, stalled_after: 2s, dispatch_every: 1}"
FAULTS: list[dict[str, Any]] = [{"kind": "slow", "target": "*", "delay": 0.4}]


def _fence(url: str, source: str) -> tuple[int, str | None] | None:
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('collectorkit_fences')").fetchone() == (None,):
            return None
        row = conn.execute(
            "SELECT epoch, holder FROM collectorkit_fences WHERE key = %s", (source,)
        ).fetchone()
    return None if row is None else (int(row[0]), row[1])


def test_a_paused_worker_s_late_commit_is_refused_and_nothing_is_duplicated(
    tmp_path: Path, postgres_fresh_url: str
) -> None:
    url = postgres_fresh_url
    with simulator(SOURCES, records=200, faults=FAULTS) as sim:
        config = write_config(
            tmp_path / "fleet.yaml", sim, url, count=SOURCES, fleet=FLEET, interval="30s"
        )
        with fleet(config, tmp_path, 2) as running:
            zombie = running.workers[0]

            def zombie_mid_run() -> bool:
                starts = zombie.events("fleet run started")
                return any(
                    (f := _fence(url, e["source"])) is not None and f[1] == zombie.name
                    for e in starts
                )

            wait_for(zombie_mid_run, "w0 mid-run", 60, running)
            source, epoch = next(
                (e["source"], e["epoch"])
                for e in zombie.events("fleet run started")
                if (f := _fence(url, e["source"])) is not None and f[1] == zombie.name
            )
            os.kill(zombie.proc.pid, signal.SIGSTOP)
            paused_at = time.monotonic()
            other = running.workers[1]

            def taken_over() -> bool:
                return any(
                    e["source"] == source and e["epoch"] > epoch
                    for e in other.events("fleet run started")
                )

            wait_for(taken_over, f"{source} taken over", 60, running)
            taken_after = time.monotonic() - paused_at
            time.sleep(1.0)  # the successor commits a page or two
            os.kill(zombie.proc.pid, signal.SIGCONT)

            def refused() -> bool:
                return any(
                    e.get("source") == source and e.get("epoch") == epoch
                    for e in zombie.events(
                        "checkpoint refused: another worker took this source over; the run ends"
                    )
                )

            wait_for(refused, "the zombie's commit refused", 30, running)
            wait_for(lambda: caught_up(sim, url, SOURCES), "every record stored", 90, running)
            ended = [
                e
                for e in zombie.events("fleet run ended")
                if e["source"] == source and e["epoch"] == epoch
            ]
            assert [e["outcome"] for e in ended] == ["fenced"]
            current = _fence(url, source)
            assert current is not None
            assert current[0] > epoch
        stored = stored_ids(url)
        for i in range(SOURCES):
            name = f"g{i:02d}"
            assert len(stored[name]) == len(set(stored[name]))
            assert sim.ledger.compare(name, stored[name]).ok
        assert taken_after <= 60
