"""Starting ``collectorkit run`` as a subprocess and talking to its status server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["start_daemon", "status_url", "stop_daemon"]


def start_daemon(
    config: Path, env: dict[str, str], log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "collectorkit", "run", str(config), *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def status_url(proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> str:
    """The status server's URL, from the daemon's ``status server listening`` log line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{") and "status server listening" in line:
                return str(json.loads(line)["url"])
        assert proc.poll() is None, log.read_text(errors="replace")
        time.sleep(0.02)
    raise AssertionError("the daemon never reported its status server:\n" + log.read_text())


def stop_daemon(proc: subprocess.Popen[bytes], timeout: float = 20) -> int:
    """SIGTERM, then wait; a daemon that does not stop is killed and the test fails."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the daemon did not stop within {timeout} s") from None
