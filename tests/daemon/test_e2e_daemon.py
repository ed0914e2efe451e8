"""End to end: ``collectorkit run`` as a subprocess against the simulator with faults.

Runs for a bounded time, is stopped with SIGTERM, and must have stored every served record
exactly once, saved its state and exited 0; a restart continues from the watermark.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from collectorkit.simulator import SimulatorServer, build_config

pytestmark = pytest.mark.slow

CONFIG = """
state: sqlite:///{db}
sinks:
  - {{type: sqlite, path: {db}}}
shutdown_grace: 10s
status: {{host: 127.0.0.1, port: 0}}
defaults:
  retry: {{max_attempts: 8, initial_delay: 0.05, max_delay: 1}}
sources:
  - name: app_events
    base_url: {generic}
    auth: {{type: bearer, token: "${{E2E_GENERIC_TOKEN}}"}}
    interval: 1s
    request:
      endpoint: /v1/events
      params: {{limit: 40}}
      data_path: data.events
      pagination: {{mode: cursor, cursor_param: cursor, next_cursor_path: meta.next_cursor}}
      incremental: {{timestamp_field: created_at, start_param: since}}
  - name: okta_log
    base_url: {okta}
    auth: {{type: api_key, key: "${{E2E_OKTA_TOKEN}}", header_name: Authorization, prefix: "SSWS "}}
    interval: 1s
    key_fields: [uuid]
    request:
      endpoint: /api/v1/logs
      params: {{limit: 50}}
      pagination: {{mode: link}}
      incremental: {{timestamp_field: published, start_param: since}}
"""

FAULTS: list[dict[str, Any]] = [
    {"kind": "rate_limit", "target": "generic", "every": 5, "retry_after": 1, "max_times": 2},
    {"kind": "slow", "target": "okta", "requests": "2", "delay": 0.3},
    {"kind": "duplicates", "target": "okta", "requests": "3"},
    {"kind": "reset", "target": "generic", "requests": "3"},
]


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    config = build_config(seed=11, profiles=["generic", "okta"], records=300, faults=FAULTS)
    with SimulatorServer(config) as server:
        yield server


def _env(sim: SimulatorServer) -> dict[str, str]:
    return {
        **os.environ,
        "E2E_GENERIC_TOKEN": sim.credentials("generic")["token"],
        "E2E_OKTA_TOKEN": sim.credentials("okta")["token"],
    }


def _start(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "collectorkit", "run", str(config), "--status-port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _status_url(log: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{") and "status server listening" in line:
                return str(json.loads(line)["url"])
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    raise AssertionError("the daemon never reported its status server:\n" + log.read_text())


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _stored(db: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"app_events": [], "okta_log": []}
    if not db.exists():
        return out
    with contextlib.closing(sqlite3.connect(db)) as conn:
        try:
            rows = conn.execute("SELECT source, data FROM events").fetchall()
        except sqlite3.OperationalError:
            return out
    for source, data in rows:
        record = json.loads(data)
        out[source].append(record["uuid"] if source == "okta_log" else record["id"])
    return out


def _caught_up(sim: SimulatorServer, db: Path) -> bool:
    stored = _stored(db)
    return set(stored["app_events"]) >= {r["id"] for r in sim.simulator.records("generic")} and set(
        stored["okta_log"]
    ) >= {r["uuid"] for r in sim.simulator.records("okta")}


def _stop(proc: subprocess.Popen[bytes], log: Path) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("the daemon did not stop within 15 s:\n" + log.read_text()) from None


def _state(db: Path, namespace: str, key: str) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (value,) = conn.execute(
            "SELECT value FROM collectorkit_state WHERE namespace = ? AND key = ?",
            (namespace, key),
        ).fetchone()
    return dict(json.loads(value))


def test_daemon_stores_everything_once_stops_cleanly_and_resumes(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "collectorkit.db"
    config = tmp_path / "collectorkit.yaml"
    config.write_text(CONFIG.format(db=db, generic=sim.url("generic"), okta=sim.url("okta")))
    env = _env(sim)

    log = tmp_path / "run1.log"
    proc = _start(config, env, log)
    try:
        url = _status_url(log, proc)
        _wait(lambda: _caught_up(sim, db), "the first catch-up")
        sim.add_records("generic", 25)
        sim.add_records("okta", 10)
        time.sleep(1.1)  # the next records fall into the next one-second window
        _wait(lambda: _caught_up(sim, db), "the new records")
        status = httpx2.get(url + "/status").json()
        metrics = httpx2.get(url + "/metrics").text
    finally:
        code = _stop(proc, log)
    assert code == 0, log.read_text()
    text = log.read_text()
    assert "stopped cleanly" in text
    assert "sim-generic-token" not in text
    assert "sim-okta-token" not in text

    stored = _stored(db)
    for source, profile in (("app_events", "generic"), ("okta_log", "okta")):
        assert len(stored[source]) == len(set(stored[source])), f"{source} has duplicates"
        assert set(stored[source]) == sim.ledger.served_ids(profile)
    by_name = {s["name"]: s for s in status["sources"]}
    assert by_name["app_events"]["records"] >= 325
    assert by_name["app_events"]["http_429"] >= 1
    assert 'collectorkit_records_total{source="okta_log"}' in metrics
    assert _state(db, "collector_state", "app_events")["watermark"] is not None
    # no callbacks configured: no processed-ids set is kept (the sinks dedup on their own)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM collectorkit_state WHERE namespace = 'processed_ids'"
        ).fetchone()
    assert rows == (0,)

    # restart: continues from the watermark — old records are not fetched again
    served_before = dict(sim.ledger.served("generic"))
    sim.add_records("generic", 15)
    time.sleep(1.1)
    log2 = tmp_path / "run2.log"
    proc = _start(config, env, log2)
    try:
        _status_url(log2, proc)
        _wait(lambda: _caught_up(sim, db), "catch-up after the restart")
    finally:
        code = _stop(proc, log2)
    assert code == 0, log2.read_text()
    after = sim.ledger.served("generic")
    again = [i for i, n in served_before.items() if after[i] > n]
    assert len(again) <= 1, f"re-fetched {len(again)} old records instead of resuming"
    stored = _stored(db)
    assert len(stored["app_events"]) == len(set(stored["app_events"])) == 340


def test_a_second_signal_exits_at_once_without_corrupting_state(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "collectorkit.db"
    config = tmp_path / "collectorkit.yaml"
    config.write_text(CONFIG.format(db=db, generic=sim.url("generic"), okta=sim.url("okta")))
    log = tmp_path / "run.log"
    proc = _start(config, _env(sim), log)
    try:
        _status_url(log, proc)
        _wait(lambda: sum(map(len, _stored(db).values())) > 0, "the first records")
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code in (0, 128 + signal.SIGTERM)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = _stored(db)
    assert len(stored["app_events"]) == len(set(stored["app_events"]))


DOWN_CONFIG = """
state: sqlite:///{db}
sinks:
  - {{type: sqlite, path: {db}}}
status: {{host: 127.0.0.1, port: 0}}
sources:
  - name: app_events
    base_url: {generic}
    auth: {{type: bearer, token: "${{E2E_GENERIC_TOKEN}}"}}
    interval: 1s
    request:
      endpoint: /v1/events
      params: {{limit: 100}}
      data_path: data.events
      pagination: {{mode: cursor, cursor_param: cursor, next_cursor_path: meta.next_cursor}}
      incremental: {{timestamp_field: created_at, start_param: since}}
  - name: down_api
    base_url: http://127.0.0.1:{dead_port}
    interval: 1s
    retry: {{max_attempts: 1}}
    request: {{endpoint: /v1/events, data_path: data.events}}
"""


def test_a_source_that_is_down_backs_off_while_the_other_collects(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    import socket

    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]  # closed again: connections are refused
    db = tmp_path / "collectorkit.db"
    config = tmp_path / "collectorkit.yaml"
    config.write_text(DOWN_CONFIG.format(db=db, generic=sim.url("generic"), dead_port=dead_port))
    log = tmp_path / "run.log"
    proc = _start(config, _env(sim), log)
    try:
        url = _status_url(log, proc)
        _wait(
            lambda: (
                set(_stored(db)["app_events"]) >= sim.ledger.served_ids("generic")
                and len(sim.ledger.served_ids("generic")) == 300
            ),
            "the healthy source",
        )

        def down() -> dict[str, Any]:
            sources = httpx2.get(url + "/status").json()["sources"]
            return next(s for s in sources if s["name"] == "down_api")

        _wait(lambda: down()["consecutive_failures"] >= 2, "two failed runs")
        state = down()
        metrics = httpx2.get(url + "/metrics").text
    finally:
        assert _stop(proc, log) == 0, log.read_text()
    assert state["state"] in ("backing_off", "running")
    assert state["errors"].get("transport", 0) >= 2
    assert state["last_error"].startswith("transport")
    assert 'collectorkit_errors_total{kind="transport",source="down_api"}' in metrics
    assert "source run failed; backing off" in log.read_text()


def test_a_page_in_flight_past_the_grace_period_is_abandoned_and_fetched_again(
    tmp_path: Path,
) -> None:
    faults = [{"kind": "slow", "target": "generic", "requests": "3", "delay": 4}]
    config_sim = build_config(seed=12, profiles=["generic", "okta"], records=200, faults=faults)
    with SimulatorServer(config_sim) as sim:
        db = tmp_path / "collectorkit.db"
        config = tmp_path / "collectorkit.yaml"
        text = CONFIG.format(db=db, generic=sim.url("generic"), okta=sim.url("okta"))
        config.write_text(text.replace("shutdown_grace: 10s", "shutdown_grace: 0.3s"))
        env = _env(sim)
        log = tmp_path / "run1.log"
        proc = _start(config, env, log)
        try:
            _status_url(log, proc)
            _wait(lambda: len(_stored(db)["app_events"]) >= 80, "two pages")
            _wait(lambda: sim.stats.snapshot()["requests"].get("generic.events", 0) >= 3, "page 3")
            started = time.monotonic()
            code = _stop(proc, log)
            took = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert code == 0, log.read_text()
        assert took < 3, f"the grace period was not honoured ({took:.1f}s)"
        assert "abandoned in-flight runs" in log.read_text()
        assert len(_stored(db)["app_events"]) == 80
        # the abandoned page was not checkpointed: the restart fetches it, nothing twice
        log2 = tmp_path / "run2.log"
        proc = _start(config, env, log2)
        try:
            _status_url(log2, proc)
            _wait(lambda: _caught_up(sim, db), "catch-up after the restart")
        finally:
            assert _stop(proc, log2) == 0, log2.read_text()
        stored = _stored(db)["app_events"]
        assert len(stored) == len(set(stored)) == 200
