"""The runtime fits the garbage collector to collecting: startup objects frozen out of its
full passes, the first generation collected after 10,000 containers (a page's records)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import asyncio, gc, sys
from collectorkit.config import load_config
from collectorkit.daemon._app import build_runtime

config = load_config({
    "state": "sqlite:///" + sys.argv[1] + "/state.db",
    "sinks": [{"type": "jsonl", "path": sys.argv[1] + "/out.jsonl"}],
    "status": {"enabled": False},
    "sources": [{"name": "s", "base_url": "http://127.0.0.1:9", "request": {"endpoint": "/e"}}],
})

async def main():
    assert gc.get_freeze_count() == 0
    runtime = await build_runtime(config)
    frozen = gc.get_freeze_count()
    await runtime.aclose()
    print(frozen, gc.get_threshold()[0])

asyncio.run(main())
"""


def test_build_runtime_tunes_the_garbage_collector(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    frozen, first = map(int, done.stdout.split())
    assert frozen > 10_000
    assert first == 10_000
