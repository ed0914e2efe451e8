"""``collectorkit run`` as seeds 001 and 002 describe it: STORAGE_SERVICE_URL when the file
names no state store (and a sentence saying which store is used), seed 002's env-only poller
without variables, with a key the API refuses, and with a busy status port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collectorkit.simulator import SimulatorServer, build_config

pytestmark = pytest.mark.slow

TOKEN = "storage-token-value-1234"

CONFIG = """
sinks:
  - {{type: jsonl, path: "{out}"}}
status: {{enabled: false}}
sources:
  - name: app_events
    base_url: {url}
    auth: {{type: bearer, token: sim-generic-token}}
    interval: 1h
    request:
      endpoint: /v1/events
      params: {{limit: 50}}
      data_path: data.events
      pagination: {{mode: cursor, cursor_param: cursor, next_cursor_path: meta.next_cursor}}
"""


def _env(**extra: str) -> dict[str, str]:
    drop = ("XDR_", "STORAGE_SERVICE_", "COLLECTORKIT_STATE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, **extra}


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """The daemon, its output going to ``cwd/run.log``."""
    with (cwd / "run.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "collectorkit", "run", *args],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _output(cwd: Path) -> str:
    return (cwd / "run.log").read_text(errors="replace")


def _stop(proc: subprocess.Popen[bytes], cwd: Path) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, _output(cwd)


def _until(done: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)


def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "collectorkit", "run", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(build_config(seed=3, profiles=["generic", "xdr"], records=60)) as s:
        yield s


def test_no_config_and_no_xdr_variables_prints_usage(tmp_path: Path) -> None:
    code, output = _run([], _env(), tmp_path)
    assert code == 2, output
    assert "Usage: collectorkit run" in output
    assert "XDR_BASE_URL" in output  # the help says what the variables do ...
    assert "is not set" not in output  # ... but nothing complains about them
    assert not (tmp_path / "collectorkit.db").exists()


def test_some_xdr_variables_still_name_the_missing_ones(tmp_path: Path) -> None:
    code, output = _run([], _env(XDR_BASE_URL="https://api.example.com"), tmp_path)
    assert code == 2, output
    assert "XDR_AUTH_TOKEN: is not set" in output


async def test_storage_service_url_is_used_when_the_file_names_no_state(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    from collectorkit.service import run_storage_service
    from collectorkit.state import MemoryStateStore

    store = MemoryStateStore()
    config = tmp_path / "collectorkit.yaml"
    config.write_text(CONFIG.format(out=tmp_path / "events.jsonl", url=sim.url("generic")))
    async with run_storage_service(store, token=TOKEN) as url:
        env = _env(STORAGE_SERVICE_URL=url, STORAGE_SERVICE_TOKEN=TOKEN)
        proc = _start([str(config)], env, tmp_path)
        try:
            deadline = time.monotonic() + 30
            while not await store.list("collector_state") and time.monotonic() < deadline:
                assert proc.poll() is None, _output(tmp_path)
                await asyncio.sleep(0.1)
        finally:
            code, output = await asyncio.to_thread(_stop, proc, tmp_path)
    assert "app_events" in await store.list("collector_state"), output
    assert code == 0, output
    assert f"Using the storage service at {url} (STORAGE_SERVICE_URL)" in output
    assert "STORAGE_SERVICE_TOKEN" in output
    assert TOKEN not in output
    assert not (tmp_path / "collectorkit.db").exists()


def test_without_any_state_setting_run_says_which_store_it_uses(tmp_path: Path) -> None:
    env = _env(XDR_AUTH_TOKEN="dev-dummy-token")  # development mode: the API is not called
    proc = _start(["--status-port", "0"], env, tmp_path)
    try:
        _until(lambda: "daemon starting" in _output(tmp_path), proc)
    finally:
        code, output = _stop(proc, tmp_path)
    assert code == 0, output
    assert (
        "No storage service URL provided - using the local state store ./collectorkit.db" in output
    )


def test_a_refused_xdr_key_without_auth_id_says_xdr_auth_id_is_needed(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    env = _env(
        XDR_BASE_URL=sim.url("xdr"),
        XDR_AUTH_TOKEN=sim.credentials("xdr")["api_key"],
        XDR_ALERTS_DIR=str(tmp_path / "alerts"),
    )
    proc = _start(["--status-port", "0"], env, tmp_path)
    try:
        _until(lambda: "source run failed" in _output(tmp_path), proc)
    finally:
        _, output = _stop(proc, tmp_path)
    assert "401" in output, output
    assert "XDR_AUTH_ID is not set" in output
    assert sim.credentials("xdr")["api_key"] not in output


def test_a_busy_status_port_is_a_clear_error_in_xdr_mode(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = _env(XDR_AUTH_TOKEN="dev-dummy-token")
        code, output = _run(["--status-port", str(port)], env, tmp_path)
    assert code == 2, output
    assert f"127.0.0.1:{port}" in output
    assert "--status-port 0" in output  # how to get any free port instead
    assert "status.port" not in output  # there is no file in this mode
    assert "Traceback" not in output


def test_once_uses_storage_service_url_too(
    sim: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from collectorkit.cli._app import app

    config = tmp_path / "collectorkit.yaml"
    config.write_text(CONFIG.format(out=tmp_path / "events.jsonl", url=sim.url("generic")))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORAGE_SERVICE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    result = CliRunner().invoke(app, ["once", str(config)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "elsewhere.db").exists()
    assert not (tmp_path / "collectorkit.db").exists()
