"""One writer process per file: the advisory lock of ``collectorkit._locks``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collectorkit import FileLockedError
from collectorkit._locks import hold_file, lock_path_for

_HOLD = (
    "import sys\n"
    "from collectorkit._locks import hold_file\n"
    "hold_file(sys.argv[1], what='test sink')\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


def _other_process(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_is_refused_with_the_file_and_the_holder_pid(tmp_path: Path) -> None:
    target = tmp_path / "events.db"
    proc = _other_process(target)
    try:
        with pytest.raises(FileLockedError) as info:
            hold_file(target, what="SQLite sink")
        assert info.value.pid == proc.pid
        assert str(target) in str(info.value)
        assert f"process {proc.pid}" in str(info.value)
    finally:
        proc.communicate("", timeout=10)
    # the holder is gone: the lock is free again
    hold_file(target, what="SQLite sink").release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    proc = _other_process(target)
    proc.kill()
    proc.communicate(timeout=10)
    assert Path(lock_path_for(target)).exists()
    hold_file(target, what="JSONL sink").release()


def test_shared_holders_in_one_process_count_and_release(tmp_path: Path) -> None:
    target = tmp_path / "collectorkit.db"
    sink = hold_file(target, what="SQLite sink")
    store = hold_file(tmp_path / "." / "collectorkit.db", what="SQLite state store")
    sink.release()
    sink.release()  # idempotent
    proc = subprocess.run(
        [sys.executable, "-c", _HOLD, str(target)], input="", capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "FileLockedError" in proc.stderr
    store.release()
    hold_file(target, what="SQLite sink").release()


def test_an_exclusive_holder_refuses_a_second_holder_in_the_same_process(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    first = hold_file(target, what="JSONL sink 'events'", exclusive=True)
    with pytest.raises(FileLockedError, match="JSONL sink 'events'"):
        hold_file(target, what="JSONL sink 'dead_letter'", exclusive=True)
    store = hold_file(target, what="SQLite state store")  # not exclusive: may read alongside
    store.release()
    first.release()
    hold_file(target, what="JSONL sink 'dead_letter'", exclusive=True).release()
