"""Alert callbacks are at least once (issue 13 item 2).

Attacks: a webhook that is down lost every notification (300 of 300, never retried); a SIGKILL
while callbacks ran lost half of them (150 of 300). Now new alerts wait in the state store's
outbox until their callback acknowledged them: a real ``collectorkit run`` against the
simulator notifies a local webhook that first answers 503 and later 200, or is killed with
SIGKILL in the middle of the notifications and restarted — and every alert reaches the webhook,
each with its idempotency key (duplicates are allowed, losses are not).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest

from collectorkit.simulator import build_config
from tests.evidence._daemon import start_daemon, status_url, stop_daemon
from tests.evidence._support import generic_source, timed_simulator, write_config

pytestmark = pytest.mark.integration

SOURCE = "alerts"


@dataclass
class Receiver:
    """A webhook on 127.0.0.1 that records every alert id and idempotency key it accepted."""

    url: str = ""
    down: bool = False
    delay: float = 0.0
    ids: Counter[str] = field(default_factory=Counter)
    keys: dict[str, str] = field(default_factory=dict)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> set[str]:
        with self.lock:
            return set(self.ids)


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if state.delay:
                time.sleep(state.delay)
            if state.down:
                with state.lock:
                    state.refused += 1
                self.send_response(503)
                self.end_headers()
                return
            doc = json.loads(body)
            with state.lock:
                for alert, key in zip(doc["alerts"], doc["idempotency_keys"], strict=True):
                    state.ids[alert["id"]] += 1
                    assert state.keys.setdefault(alert["id"], key) == key  # stable per alert
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _config(tmp: Path, api: str, hook: str) -> dict[str, Any]:
    db = tmp / "ck.db"
    source = generic_source(SOURCE, api, limit=50, interval="0.3s")
    source["callbacks"] = [{"webhook": {"url": hook, "timeout": 5}}]
    return {
        "state": f"sqlite:///{db}",
        "sinks": [{"type": "sqlite", "path": str(db)}],
        "status": {"host": "127.0.0.1", "port": 0},
        "callback_retry": {
            "max_attempts": 1000,
            "initial_delay": 0.05,
            "max_delay": 0.3,
            "jitter": False,
        },
        "sources": [source],
    }


def _wait(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.timeout(120)
def test_a_webhook_that_is_down_gets_every_alert_once_it_is_back(tmp_path: Path) -> None:
    with (
        timed_simulator(build_config(seed=31, profiles=["generic"], records=300)) as (sim, _),
        receiver() as hook,
    ):
        hook.down = True
        path = write_config(tmp_path / "ck.yaml", _config(tmp_path, sim.url("generic"), hook.url))
        env = {**os.environ, "EVIDENCE_GENERIC_TOKEN": sim.credentials("generic")["token"]}
        log = tmp_path / "daemon.log"
        proc = start_daemon(path, env, log)
        try:
            url = status_url(proc, log)

            def failed_twice() -> bool:
                return bool(
                    httpx2.get(url + "/status").json()["sources"][0]["callbacks_failed"] > 1
                )

            assert _wait(failed_twice, 45), log.read_text()
            status = httpx2.get(url + "/status").json()["sources"][0]
            metrics = httpx2.get(url + "/metrics").text
            hook.down = False
            existing = sim.ledger.existing("generic")
            assert _wait(lambda: hook.accepted() == existing, 60), log.read_text()
            after = httpx2.get(url + "/status").json()["sources"][0]
        finally:
            assert stop_daemon(proc) == 0, log.read_text()
    assert len(existing) == 300
    assert status["callbacks_pending"] > 0
    assert status["callbacks_failed"] > 0
    assert status["callbacks_lag"] > 0
    assert 'collectorkit_callbacks_pending{source="alerts"}' in metrics
    assert "collectorkit_callbacks_lag_seconds" in metrics
    assert after["callbacks_pending"] == 0
    assert after["callbacks_delivered"] >= 300
    assert len(set(hook.keys.values())) == 300  # one idempotency key per alert


@pytest.mark.timeout(180)
def test_sigkill_while_callbacks_run_loses_no_alert(tmp_path: Path) -> None:
    with (
        timed_simulator(build_config(seed=32, profiles=["generic"], records=300)) as (sim, _),
        receiver() as hook,
    ):
        hook.delay = 0.05  # each POST takes a while: the kill lands among them
        config = _config(tmp_path, sim.url("generic"), hook.url)
        path = write_config(tmp_path / "ck.yaml", config)
        env = {**os.environ, "EVIDENCE_GENERIC_TOKEN": sim.credentials("generic")["token"]}
        existing = sim.ledger.existing("generic")
        kills = 0
        for i in range(3):
            log = tmp_path / f"run{i}.log"
            proc = start_daemon(path, env, log)
            status_url(proc, log)
            seen = len(hook.accepted())
            # kill as soon as some, but not all, of the alerts were notified
            _wait(lambda seen=seen: len(hook.accepted()) > seen, 30)  # type: ignore[misc]
            if hook.accepted() == existing:
                assert stop_daemon(proc) == 0, log.read_text()
                break
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
            proc.wait(timeout=30)
        log = tmp_path / "final.log"
        proc = start_daemon(path, env, log)
        try:
            status_url(proc, log)
            assert _wait(lambda: hook.accepted() == existing, 60), log.read_text()
        finally:
            assert stop_daemon(proc) == 0, log.read_text()
    assert kills >= 1
    assert hook.accepted() == existing  # none lost
    print(
        f"\nSIGKILL during callbacks: {kills} kills, {len(existing)} alerts, 0 lost, "
        f"{sum(hook.ids.values()) - len(existing)} delivered twice (at least once)"
    )


@pytest.mark.timeout(120)
def test_once_keeps_undelivered_alerts_for_the_next_run(tmp_path: Path) -> None:
    with (
        timed_simulator(build_config(seed=33, profiles=["generic"], records=40)) as (sim, _),
        receiver() as hook,
    ):
        hook.down = True
        config = _config(tmp_path, sim.url("generic"), hook.url)
        config["status"] = {"enabled": False}
        config["sources"][0]["callbacks"] = [{"webhook": {"url": hook.url, "timeout": 5}}]
        path = write_config(tmp_path / "ck.yaml", config)
        env = {
            **os.environ,
            "EVIDENCE_GENERIC_TOKEN": sim.credentials("generic")["token"],
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
        args = [sys.executable, "-m", "collectorkit", "once", str(path)]
        first = subprocess.run(args, env=env, capture_output=True, text=True, timeout=90)
        hook.down = False
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=90)
        existing = sim.ledger.existing("generic")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "40 alert(s) wait in the callback outbox" in first.stdout.replace("\n", " ")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "callback outbox" not in second.stdout
    assert hook.accepted() == existing
