"""OAuth2 tokens shared by the fleet: three workers on six sources with one client credential
fetch one token, not one per worker (or per source)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectorkit.simulator import SimulatorServer, build_config
from tests.fleet._fleet import fleet, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]

SOURCES = 6


def _config(path: Path, sim: SimulatorServer, url: str) -> Path:
    creds = sim.credentials("graph")
    sources = "".join(
        f"""  - name: m{i}
    connector: msgraph_security_alerts
    base_url: {sim.url("graph")}
    auth: {{type: oauth2, client_id: "{creds["client_id"]}",
           client_secret: "{creds["client_secret"]}"}}
    options: {{tenant: "{creds["tenant"]}", login_url: "{sim.url("graph")}"}}
    interval: 1h
"""
        for i in range(SOURCES)
    )
    path.write_text(
        f"""state: {url}
sinks:
  - {{type: postgres, url: "{url}"}}
status: {{enabled: false}}
fleet: {{concurrency: 2, heartbeat: 0.5s, stalled_after: 2s, dispatch_every: 1}}
sources:
{sources}"""
    )
    return path


def test_three_workers_fetch_one_token_for_one_credential(
    tmp_path: Path, postgres_fresh_url: str
) -> None:
    slow = [{"kind": "slow", "target": "graph", "delay": 0.5}]  # runs overlap: all workers busy
    config = build_config(seed=3, profiles=["graph"], records=40, faults=slow)
    with SimulatorServer(config) as sim:
        path = _config(tmp_path / "fleet.yaml", sim, postgres_fresh_url)
        with fleet(path, tmp_path, 3) as running:

            def all_ran() -> bool:
                ended = {e["source"] for w in running.workers for e in w.events("fleet run ended")}
                return ended >= {f"m{i}" for i in range(SOURCES)}

            wait_for(all_ran, "every source's first run", 60, running)
            busy = {w.name for w in running.workers if w.events("fleet run started")}
            outcomes = {e["outcome"] for w in running.workers for e in w.events("fleet run ended")}
        tokens = {k: v for k, v in sim.stats.snapshot()["requests"].items() if "token" in k}
    assert outcomes == {"success"}
    assert len(busy) == 3  # every worker needed the token
    assert sum(tokens.values()) == 1, tokens
