"""Integrity of what we write: one writer per file, a damaged state is a refusal.

Attacks of issue 13 items 1 and 10: two ``collectorkit run`` daemons on one configuration lost
records (two writers appending to one JSONL file); a ``sinks:`` JSONL and the ``dead_letter:``
JSONL on one file tore lines; a state file truncated to 0 bytes made the daemon start from
scratch silently. Now the second daemon refuses (naming the file and the holder's PID),
``validate`` rejects two writers of one file, and an empty or corrupted state database stops
``run``/``once`` until ``--reset-state`` moves it aside.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from collectorkit import StateDamagedError
from collectorkit.simulator import build_config
from collectorkit.state import SQLiteStateStore
from tests.evidence._daemon import start_daemon, status_url, stop_daemon
from tests.evidence._support import generic_source, stored_ids, timed_simulator, write_config

pytestmark = pytest.mark.integration

SOURCE = "integrity_events"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collectorkit", *args],
        env={**(env or os.environ), "NO_COLOR": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _config(tmp: Path, url: str, kind: str) -> dict[str, Any]:
    if kind == "sqlite":
        db = tmp / "ck.db"
        state, sink = f"sqlite:///{db}", {"type": "sqlite", "path": str(db)}
    else:
        state = f"sqlite:///{tmp / 'state.db'}"
        sink = {"type": "jsonl", "path": f"{tmp / 'out'}/{{source}}.jsonl"}
    return {
        "state": state,
        "sinks": [sink],
        "status": {"host": "127.0.0.1", "port": 0},
        "sources": [generic_source(SOURCE, url, limit=25, interval="0.3s")],
    }


@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
def test_a_second_daemon_on_one_config_refuses_and_nothing_is_lost(
    kind: str, tmp_path: Path
) -> None:
    sim_config = build_config(seed=13, profiles=["generic"], records=400)
    with timed_simulator(sim_config) as (sim, _):
        path = write_config(tmp_path / "ck.yaml", _config(tmp_path, sim.url("generic"), kind))
        env = {**os.environ, "EVIDENCE_GENERIC_TOKEN": sim.credentials("generic")["token"]}
        first_log = tmp_path / "first.log"
        first = start_daemon(path, env, first_log)
        try:
            status_url(first, first_log)
            second = subprocess.run(
                [sys.executable, "-m", "collectorkit", "run", str(path)],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            looked = _cli("state", "show", "--config", str(path), env=env)  # reading is allowed
            sim.add_records("generic", 100)
            where = tmp_path / ("ck.db" if kind == "sqlite" else "out")
            existing = sim.ledger.existing("generic")
            for _ in range(600):  # the first daemon collects everything, alone
                if set(stored_ids(kind, where)) == existing:
                    break
                asyncio.run(asyncio.sleep(0.05))
        finally:
            assert stop_daemon(first) == 0, first_log.read_text()
    assert second.returncode != 0
    assert "Traceback" not in second.stderr + second.stdout
    message = second.stderr + second.stdout
    assert "locked by process" in message
    assert str(first.pid) in message
    assert looked.returncode == 0, looked.stdout + looked.stderr
    assert SOURCE in looked.stdout
    stored = Counter(stored_ids(kind, where))
    assert set(stored) == existing  # nothing lost
    assert max(stored.values()) == 1  # nothing twice


def test_validate_rejects_a_sink_and_the_dead_letter_on_one_file(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    config = {
        "state": f"sqlite:///{tmp_path / 'state.db'}",
        "sinks": [
            {"type": "sqlite", "path": str(tmp_path / "ck.db")},
            {"type": "jsonl", "path": str(out)},
        ],
        "dead_letter": {"type": "jsonl", "path": str(out)},
        "sources": [generic_source(SOURCE, "http://127.0.0.1:9", token="t0ken-value-123")],
    }
    result = _cli("validate", str(write_config(tmp_path / "ck.yaml", config)))
    assert result.returncode != 0
    text = result.stderr + result.stdout
    assert "sinks[1]" in text
    assert "dead_letter" in text
    assert "Traceback" not in text


def test_validate_rejects_two_sinks_on_one_file(tmp_path: Path) -> None:
    out = tmp_path / "out" / "{source}.jsonl"
    config = {
        "state": f"sqlite:///{tmp_path / 'state.db'}",
        "sinks": [{"type": "jsonl", "path": str(out)}, {"type": "jsonl", "path": str(out)}],
        "sources": [generic_source(SOURCE, "http://127.0.0.1:9", token="t0ken-value-123")],
    }
    result = _cli("validate", str(write_config(tmp_path / "ck.yaml", config)))
    assert result.returncode != 0
    text = result.stderr + result.stdout
    assert "sinks[0]" in text
    assert "sinks[1]" in text


# --- item 10: a damaged state database --------------------------------------------------------


def _filled_state(path: Path, n: int = 400) -> None:
    async def fill() -> None:
        store = SQLiteStateStore(path)
        for i in range(n):
            await store.put("collector", f"key-{i:04d}", {"cursor": "x" * 200, "n": i})
        await store.aclose()

    asyncio.run(fill())


def _open(path: Path) -> None:
    async def main() -> None:
        store = SQLiteStateStore(path)
        try:
            await store.get("collector", "key-0001")
        finally:
            await store.aclose()

    asyncio.run(main())


def test_an_emptied_state_file_is_a_refusal_not_a_fresh_start(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    _filled_state(db)
    db.write_bytes(b"")
    with pytest.raises(StateDamagedError, match="empty") as info:
        _open(db)
    assert "--reset-state" in str(info.value)
    assert db.stat().st_size == 0  # nothing was created over it


def test_a_corrupted_middle_page_is_caught_at_open(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    _filled_state(db)
    with sqlite3.connect(db) as conn:
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.close()
    assert pages > 6
    with db.open("r+b") as f:
        f.seek(page_size * (pages // 2))
        f.write(b"\xa5" * page_size)
    with pytest.raises(StateDamagedError, match=r"integrity check|unreadable"):
        _open(db)


def test_garbage_instead_of_a_database_is_a_refusal(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not a database at all\n" * 200)
    with pytest.raises(StateDamagedError, match="unreadable"):
        _open(db)


def test_a_new_state_file_is_created_whole(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    _open(db)
    assert db.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        "fresh.db"
    ]


@pytest.mark.timeout(60)
def test_once_refuses_a_truncated_state_and_reset_state_moves_it_aside(tmp_path: Path) -> None:
    sim_config = build_config(seed=14, profiles=["generic"], records=60)
    with timed_simulator(sim_config) as (sim, _):
        config = _config(tmp_path, sim.url("generic"), "sqlite")
        config["status"] = {"enabled": False}
        path = write_config(tmp_path / "ck.yaml", config)
        env = {**os.environ, "EVIDENCE_GENERIC_TOKEN": sim.credentials("generic")["token"]}
        assert _cli("once", str(path), env=env).returncode == 0
        db = tmp_path / "ck.db"
        os.truncate(db, 0)
        refused = _cli("once", str(path), env=env)
        again = _cli("once", str(path), "--reset-state", env=env)
    assert refused.returncode != 0
    assert "Traceback" not in refused.stdout + refused.stderr
    assert "is empty" in refused.stdout + refused.stderr
    assert "--reset-state" in refused.stdout + refused.stderr
    assert again.returncode == 0, again.stdout + again.stderr
    assert [p.name for p in tmp_path.glob("ck.db.damaged-*")]
    assert len(stored_ids("sqlite", db)) == 60


# --- item 3: rejected records without a dead_letter: ------------------------------------------


@pytest.mark.timeout(60)
def test_rejected_records_without_a_dead_letter_go_to_the_default_file_and_fail_once(
    tmp_path: Path,
) -> None:
    sim_config = build_config(seed=15, profiles=["generic"], records=40)
    with timed_simulator(sim_config) as (sim, _):
        config = _config(tmp_path, sim.url("generic"), "sqlite")
        config["status"] = {"enabled": False}
        # every record lacks this field: the pipeline rejects them all
        config["sources"][0]["pipeline"] = [
            {"timestamps": {"fields": ["no_such_field"], "required": True}}
        ]
        path = write_config(tmp_path / "ck.yaml", config)
        env = {**os.environ, "EVIDENCE_GENERIC_TOKEN": sim.credentials("generic")["token"]}
        result = _cli("once", str(path), env=env)
        existing = sim.ledger.existing("generic")
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    dead = tmp_path / "collectorkit-dead-letter.jsonl"
    assert str(dead) in text.replace("\n", "")
    assert "40 record(s) rejected" in text
    lines = [json.loads(line) for line in dead.read_text().splitlines()]
    assert {row["data"]["payload"]["id"] for row in lines} == existing
    assert all("no_such_field" in row["data"]["reason"] for row in lines)
    assert stored_ids("sqlite", tmp_path / "ck.db") == []


@pytest.mark.timeout(60)
def test_reset_state_leaves_a_damaged_jsonl_index_and_its_files_alone(tmp_path: Path) -> None:
    sim_config = build_config(seed=16, profiles=["generic"], records=30)
    with timed_simulator(sim_config) as (sim, _):
        config = _config(tmp_path, sim.url("generic"), "jsonl")
        config["status"] = {"enabled": False}
        path = write_config(tmp_path / "ck.yaml", config)
        env = {**os.environ, "EVIDENCE_GENERIC_TOKEN": sim.credentials("generic")["token"]}
        assert _cli("once", str(path), env=env).returncode == 0
        index = tmp_path / "out" / ".collectorkit-jsonl.db"
        os.truncate(index, 0)
        refused = _cli("once", str(path), "--reset-state", env=env)
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "JSONL index" in text
    assert "move the JSONL files and the index aside together" in text.replace("\n", " ")
    assert len(stored_ids("jsonl", tmp_path / "out")) == 30  # the files are untouched
    assert index.stat().st_size == 0
