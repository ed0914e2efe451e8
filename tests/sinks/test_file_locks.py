"""Sinks that write files hold them alone while open: another process (or another JSON Lines
sink in this one) is refused with the file named, instead of interleaving writes and losing
records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collectorkit import FileLockedError, JSONFileSink, JSONLSink, SQLiteSink, StateDamagedError
from collectorkit.state import SQLiteStateStore
from collectorkit.typing import Sink

_HOLD = (
    "import asyncio, sys\n"
    "from collectorkit import JSONFileSink, JSONLSink, SQLiteSink\n"
    "kind, path = sys.argv[1], sys.argv[2]\n"
    "sink = {'jsonl': JSONLSink, 'json_files': JSONFileSink, 'sqlite': SQLiteSink}[kind](path)\n"
    "async def main():\n"
    "    await sink.connect()\n"
    "    print('open', flush=True)\n"
    "    await asyncio.to_thread(sys.stdin.read)\n"
    "    await sink.aclose()\n"
    "asyncio.run(main())\n"
)


def _hold(kind: str, path: Path) -> subprocess.Popen[str]:
    """The sink open in another process (until its stdin closes)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, kind, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "open"
    return holder


def _empty(path: str) -> None:
    Path(path).write_bytes(b"")


def _make(kind: str, path: Path) -> Sink:
    return {"jsonl": JSONLSink, "json_files": JSONFileSink, "sqlite": SQLiteSink}[kind](path)


@pytest.mark.parametrize("kind", ["jsonl", "json_files", "sqlite"])
async def test_a_second_process_is_refused_while_the_sink_is_open(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / ("events.jsonl" if kind == "jsonl" else "out")
    holder = _hold(kind, path)
    try:
        sink = _make(kind, path)
        with pytest.raises(FileLockedError, match=f"locked by process {holder.pid}"):
            await sink.connect()
        await sink.aclose()
    finally:
        holder.communicate("", timeout=20)
    sink = _make(kind, path)  # the holder closed it: free again
    await sink.connect()
    await sink.aclose()


async def test_two_jsonl_sinks_on_one_file_in_one_process_are_refused(tmp_path: Path) -> None:
    first = JSONLSink(tmp_path / "out.jsonl", name="events")
    second = JSONLSink(tmp_path / "out.jsonl", name="dead_letter")
    await first.connect()
    with pytest.raises(FileLockedError, match="JSONL sink 'events'"):
        await second.connect()
    await second.aclose()
    await first.aclose()


async def test_the_state_store_shares_the_sqlite_sink_file_in_one_process(
    tmp_path: Path,
) -> None:
    sink = SQLiteSink(tmp_path / "ck.db")
    store = SQLiteStateStore(tmp_path / "ck.db")
    await sink.store([{"id": 1}])
    await store.put("collector_state", "src", {"cursor": "c1"})
    assert await sink.count() == 1
    await sink.aclose()
    await store.aclose()


async def test_an_emptied_jsonl_index_is_a_refusal_not_a_rewrite(tmp_path: Path) -> None:
    sink = JSONLSink(tmp_path / "out.jsonl")
    await sink.store([{"id": i} for i in range(10)])
    await sink.aclose()
    _empty(sink.index_path)  # the keys already written would be forgotten
    again = JSONLSink(tmp_path / "out.jsonl")
    with pytest.raises(StateDamagedError, match="empty"):
        await again.store([{"id": i} for i in range(10)])
    await again.aclose()
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 10  # nothing written twice
