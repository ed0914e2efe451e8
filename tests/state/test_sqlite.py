"""SQLite specifics: WAL, several processes on one file, a sink's own transaction."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from collectorkit import StateConflictError, StateStoreUnavailableError
from collectorkit.state import SQLiteStateStore, sqlite_create_state_table, sqlite_put_state

_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from collectorkit import StateConflictError
    from collectorkit.state import SQLiteStateStore

    async def main(path, times):
        store = SQLiteStateStore(path, lock=False)
        for _ in range(times):
            while True:
                cur = await store.get("counters", "c")
                n = cur.value["n"] if cur else 0
                try:
                    await store.put("counters", "c", {"n": n + 1},
                                    if_version=cur.version if cur else 0)
                    break
                except StateConflictError:
                    pass
        await store.aclose()

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


def test_several_processes_share_one_unlocked_file_without_losing_writes(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "shared.db")
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, path, "40"]) for _ in range(3)]
    assert [w.wait(timeout=60) for w in workers] == [0, 0, 0]
    with sqlite3.connect(path) as conn:
        (value,) = conn.execute("SELECT value FROM collectorkit_state").fetchone()
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    conn.close()
    assert value == '{"n":120}'
    assert mode == "wal"


def test_sink_transaction_commits_or_rolls_back_with_its_batch(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    sqlite_create_state_table(conn)
    conn.execute("CREATE TABLE events (id TEXT PRIMARY KEY)")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO events VALUES ('e1')")
    assert sqlite_put_state(conn, "collector", "src", {"cursor": "c1"}, now=1.0) == 1
    conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO events VALUES ('e2')")
    with pytest.raises(StateConflictError):
        sqlite_put_state(conn, "collector", "src", {"cursor": "c2"}, now=2.0, if_version=0)
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT id FROM events").fetchall() == [("e1",)]
    assert conn.execute("SELECT value, version FROM collectorkit_state").fetchall() == [
        ('{"cursor":"c1"}', 1)
    ]
    conn.close()


async def test_data_survives_reopening(tmp_path: Path) -> None:
    first = SQLiteStateStore(tmp_path / "s.db")
    await first.put("ns", "k", {"a": 1})
    await first.aclose()
    second = SQLiteStateStore(tmp_path / "s.db")
    stored = await second.get("ns", "k")
    await second.aclose()
    assert stored is not None
    assert (stored.value, stored.version) == ({"a": 1}, 1)


async def test_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = SQLiteStateStore(blocker / "sub" / "state.db")
    with pytest.raises(StateStoreUnavailableError, match="cannot open SQLite state store"):
        await store.get("ns", "k")
    await store.aclose()
