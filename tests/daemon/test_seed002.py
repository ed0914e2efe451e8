"""Seed 002's poller: XDR_* variables and flags, alert files, callbacks, dev mode, restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectorkit.simulator import SimulatorServer, build_config

pytestmark = pytest.mark.slow


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    faults = [{"kind": "rate_limit", "target": "xdr", "requests": "2", "retry_after": 0}]
    with SimulatorServer(build_config(seed=5, profiles=["xdr"], records=150, faults=faults)) as s:
        yield s


def _run(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "collectorkit", "run", *args],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _until(predicate: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_xdr_poller_from_the_environment_writes_alert_files_and_calls_back(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    alerts, calls = tmp_path / "alerts", tmp_path / "calls.jsonl"
    script = f"import sys; open({str(calls)!r}, 'a').write(sys.stdin.read() + chr(10))"
    hook = f'{sys.executable} -c "{script}"'
    env = {
        "XDR_BASE_URL": sim.url("xdr"),
        "XDR_AUTH_TOKEN": sim.credentials("xdr")["api_key"],
        "XDR_AUTH_ID": "1",
        "XDR_POLL_INTERVAL": "60",
        "XDR_ALERTS_DIR": str(alerts),
        "COLLECTORKIT_STATE": f"sqlite:///{tmp_path / 'state.db'}",
    }
    args = ["--interval", "1", "--status-port", "0", "--callback", f"command:{hook}"]

    def files() -> list[Path]:
        return sorted(alerts.glob("alert_*.json")) if alerts.exists() else []

    def called() -> list[str]:
        if not calls.exists():
            return []
        docs = [json.loads(line) for line in calls.read_text().splitlines() if line]
        return [a["alert_id"] for d in docs for a in d["alerts"]]

    log = tmp_path / "run1.log"
    proc = _run(args, env, log)
    try:
        _until(lambda: len(files()) == 150 and len(called()) == 150)
    finally:
        assert _stop(proc) == 0, log.read_text()
    name = files()[0].name
    assert name.startswith("alert_389")
    assert name.endswith(".json")
    assert json.loads(files()[0].read_text())["alert_id"] in name
    assert sorted(called()) == sorted(sim.ledger.served_ids("xdr"))
    assert sim.credentials("xdr")["api_key"] not in log.read_text()

    # restart with five new alerts: callbacks for those only, one file each
    sim.add_records("xdr", 5)
    log2 = tmp_path / "run2.log"
    proc = _run(args, env, log2)
    try:
        _until(lambda: len(files()) == 155 and len(called()) == 155)
        time.sleep(1.5)  # another poll or two: nothing new, nothing called twice
    finally:
        assert _stop(proc) == 0, log2.read_text()
    assert len(called()) == len(set(called())) == 155


def test_dev_mode_runs_the_loop_without_calling_the_api(tmp_path: Path) -> None:
    env = {
        "XDR_AUTH_TOKEN": "dev-dummy-token",
        "XDR_POLL_INTERVAL": "1",
        "XDR_ALERTS_DIR": str(tmp_path / "alerts"),
        "COLLECTORKIT_STATE": f"sqlite:///{tmp_path / 'state.db'}",
    }
    env.pop("XDR_BASE_URL", None)
    log = tmp_path / "dev.log"
    proc = _run(["--status-port", "0"], env, log)
    try:
        _until(lambda: log.read_text().count("not calling the API") >= 2, timeout=20)
    finally:
        assert _stop(proc) == 0, log.read_text()
    assert "development mode" in log.read_text()
    assert not list((tmp_path / "alerts").glob("alert_*.json"))


def test_bad_variables_are_named_without_a_traceback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "XDR_BASE_URL": "https://api.example.com",
        "XDR_AUTH_TOKEN": "k",
        "XDR_POLL_INTERVAL": "soon",
    }
    out = subprocess.run(
        [sys.executable, "-m", "collectorkit", "run"],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    assert "XDR_POLL_INTERVAL" in out.stderr
    assert "soon" in out.stderr
    assert "Traceback" not in out.stderr


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed002_xdr_poller.py"


def test_the_seed002_example_polls_calls_back_and_stops_on_sigterm(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "XDR_BASE_URL": sim.url("xdr"),
        "XDR_AUTH_TOKEN": sim.credentials("xdr")["api_key"],
        "XDR_AUTH_ID": "1",
        "XDR_ALERTS_DIR": str(tmp_path / "alerts"),
        "COLLECTORKIT_STATE": f"sqlite:///{tmp_path / 'state.db'}",
    }
    out = tmp_path / "out.txt"
    with out.open("wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--interval", "1", "--status-port", "0"],
            env=env,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )
    try:
        _until(lambda: out.read_text().count("new alert") == 150)
    finally:
        assert _stop(proc) == 0
    assert "[xdr_alerts] new alert 389000:" in out.read_text()
    assert len(list((tmp_path / "alerts").glob("alert_*.json"))) == 150
