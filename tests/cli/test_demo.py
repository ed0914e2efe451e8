"""``collectorkit demo`` (``make demo``) ends with the commands that run collectorkit itself, and
the ``demo.yaml`` it leaves behind runs again exactly as printed."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

pytestmark = pytest.mark.slow


def _printed(output: str, word: str) -> list[str]:
    """The printed command line whose second word is ``word`` (e.g. ``simulate``)."""
    for line in output.splitlines():
        words = shlex.split(line.strip()) if "collectorkit" in line else []
        if len(words) > 1 and words[0].endswith("collectorkit") and words[1] == word:
            return words
    raise AssertionError(f"no '{word}' command in:\n{output}")


def test_the_demo_config_runs_again_as_printed(tmp_path: Path) -> None:
    venv_bin = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
    demo = subprocess.run(
        [str(venv_bin / "collectorkit"), "demo", "--records", "150", "--keep", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "installed in " in demo.stdout
    assert "/bin/activate" in demo.stdout
    simulate, once = _printed(demo.stdout, "simulate"), _printed(demo.stdout, "once")
    assert Path(simulate[0]).resolve() == (venv_bin / "collectorkit").resolve()
    assert once[2] == str(tmp_path / "demo.yaml")

    with (tmp_path / "simulate.log").open("wb") as log:
        sim = subprocess.Popen(simulate, stdout=log, stderr=log, cwd=tmp_path, env=env)
    try:
        port = simulate[simulate.index("--port") + 1]
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"http://127.0.0.1:{port}/_sim", timeout=2)
                break
            except httpx2.TransportError:
                assert sim.poll() is None, (tmp_path / "simulate.log").read_text()
                assert time.monotonic() < deadline, "the simulator never answered"
                time.sleep(0.1)
        again = subprocess.run(
            once, capture_output=True, text=True, timeout=120, check=False, env=env, cwd=tmp_path
        )
    finally:
        sim.send_signal(signal.SIGINT)
        try:
            sim.wait(timeout=15)
        finally:
            if sim.poll() is None:
                sim.kill()
                sim.wait()
    assert again.returncode == 0, again.stdout + again.stderr
    for source in ("xdr_alerts", "okta_system_log", "app_events"):
        assert source in again.stdout
    assert "Traceback" not in again.stderr


def test_the_demo_starts_afresh_in_a_kept_directory(tmp_path: Path) -> None:
    args = [
        sys.executable,
        "-m",
        "collectorkit",
        "demo",
        "--records",
        "60",
        "--keep",
        str(tmp_path),
    ]
    for _ in range(2):  # the second run must not resume the first one's state
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "okta_system_log: served 60, stored 60, lost 0, duplicated 0" in done.stdout
