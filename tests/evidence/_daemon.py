"""Starting ``collectorkit run`` as a subprocess and talking to its status server; the crash
suites' SIGKILL-and-restart loop and their final clean run."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "RunningDaemon",
    "final_run",
    "sigkill_runs",
    "start_daemon",
    "status_url",
    "stop_daemon",
    "wait_up",
]


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


def wait_up(proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    """Until the daemon logs ``status server listening`` (it is up: the crash suites' kill timer
    starts here, so this polls every 10 ms rather than parsing lines like :func:`status_url`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"status server listening" in log.read_bytes():
            return
        assert proc.poll() is None, log.read_text(errors="replace")
        time.sleep(0.01)
    raise AssertionError("the daemon never came up:\n" + log.read_text(errors="replace"))


def sigkill_runs(
    config: Path, env: dict[str, str], logs: Path, runs: int, rng: random.Random
) -> Iterator[bool]:
    """Start the daemon ``runs`` times (logging to ``logs/run{i}.log``) and SIGKILL each run
    50-300 ms (drawn from ``rng``) after it is up, i.e. anywhere in fetching, processing,
    storing or checkpointing. Yields after each run, once the process is gone, whether the kill
    found it still running; the caller checks what the kill left and changes the upstream
    before the next run."""
    for i in range(runs):
        log = logs / f"run{i}.log"
        proc = start_daemon(config, env, log)
        killed = False
        try:
            wait_up(proc, log)
            time.sleep(rng.uniform(0.05, 0.3))
        finally:
            # also when it never came up: no daemon outlives the test
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
            proc.wait()
        yield killed


@dataclass(frozen=True, slots=True)
class RunningDaemon:
    """A daemon that is up, and the log it writes to."""

    proc: subprocess.Popen[bytes]
    log: Path

    def wait_until(
        self,
        done: Callable[[], bool],
        *,
        poll: float,
        failure: Callable[[], str],
        timeout: float = 120,
    ) -> None:
        """Poll ``done`` while the daemon keeps running (its exit fails the test with its log);
        still not done after ``timeout`` seconds, the test fails with ``failure()``."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(failure())
            assert self.proc.poll() is None, self.log.read_text(errors="replace")
            time.sleep(poll)


@contextlib.contextmanager
def final_run(config: Path, env: dict[str, str], log: Path) -> Iterator[RunningDaemon]:
    """The clean run after the kills: the daemon started and up for the body, then SIGTERMed,
    from which it must exit 0 (checked only when the body passed, as its failure says more)."""
    proc = start_daemon(config, env, log)
    try:
        wait_up(proc, log)
        yield RunningDaemon(proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    assert code == 0, log.read_text(errors="replace")
