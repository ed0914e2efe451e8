"""``collectorkit run`` with a source whose ``data_path`` matches nothing: the source is marked
degraded in ``/status`` and ``/metrics`` (with the reason) and keeps its schedule; the correct
source beside it stays ok, with new and re-delivered records counted apart."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from collectorkit.simulator import SimulatorServer, build_config
from tests.daemon.test_e2e_daemon import _start, _status_url, _stop, _wait

CONFIG = """
state: sqlite:///{db}
sinks:
  - {{type: sqlite, path: {db}}}
shutdown_grace: 5s
status: {{host: 127.0.0.1, port: 0}}
sources:
  - name: wrong_path
    base_url: {url}
    auth: {{type: bearer, token: sim-generic-token}}
    interval: 1s
    request:
      endpoint: /v1/events
      params: {{limit: 20}}
      data_path: data.event
      pagination: {{mode: cursor, cursor_param: cursor, next_cursor_path: meta.next_cursor}}
  - name: right_path
    base_url: {url}
    auth: {{type: bearer, token: sim-generic-token}}
    interval: 1s
    request:
      endpoint: /v1/events
      params: {{limit: 20}}
      data_path: data.events
      pagination: {{mode: cursor, cursor_param: cursor, next_cursor_path: meta.next_cursor}}
"""


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(build_config(seed=4, profiles=["generic"], records=30)) as server:
        yield server


def test_run_marks_a_source_degraded_and_keeps_its_schedule(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "c.db", url=sim.url("generic")))
    log = tmp_path / "run.log"
    proc = _start(config, dict(os.environ), log)
    status: dict[str, Any] = {}
    try:
        url = _status_url(log, proc)

        def two_runs_each() -> bool:
            status.update(httpx2.get(url + "/status").json())
            runs = {s["name"]: s["runs"] - (s["state"] == "running") for s in status["sources"]}
            return len(runs) == 2 and min(runs.values()) >= 2

        _wait(two_runs_each, "two runs of each source", timeout=20)
        metrics = httpx2.get(url + "/metrics").text
    finally:
        assert _stop(proc, log) == 0, log.read_text()
    by_name = {s["name"]: s for s in status["sources"]}
    wrong, right = by_name["wrong_path"], by_name["right_path"]
    assert wrong["health"] == "degraded"
    assert wrong["runs_failed"] == 0
    assert wrong["next_run"] is not None or wrong["state"] == "running"
    assert "request.data_path 'data.event' matched nothing" in wrong["degraded"]
    assert "candidates: data.events" in wrong["degraded"]
    assert wrong["records"] == 0
    assert right["health"] == "ok"
    assert right["degraded"] is None
    assert (right["stored"], right["duplicates"]) == (30, 0)
    assert status["totals"]["degraded"] == 1
    assert status["totals"]["failing"] == 0
    assert 'collectorkit_degraded{source="wrong_path"} 1.0' in metrics
    assert 'collectorkit_degraded{source="right_path"} 0.0' in metrics
    assert 'check="data_path"' in metrics
    assert 'collectorkit_records_stored_total{outcome="new",source="right_path"} 30.0' in metrics
    text = log.read_text()
    assert "self-check" in text
    finished = [
        e
        for line in text.splitlines()
        if line.startswith("{") and (e := json.loads(line))["event"] == "run finished"
    ]
    first_right = next(e for e in finished if e["source"] == "right_path")
    assert (first_right["new"], first_right["duplicates"], first_right["degraded"]) == (30, 0, None)
    wrong_runs = [e for e in finished if e["source"] == "wrong_path"]
    assert all("request.data_path 'data.event'" in e["degraded"] for e in wrong_runs)
    assert "sim-generic-token" not in text
