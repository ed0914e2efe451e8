"""One writer process per file: an advisory lock held for as long as the file is open.

A sink (or state store) that writes a file takes :func:`hold_file` on it when it opens and
releases the handle when it closes. The lock is ``flock(LOCK_EX | LOCK_NB)`` on a sibling
``<file>.lock``, which also records the holder's PID; the lock is dropped by the kernel when the
process dies, so a stale ``.lock`` file never blocks anyone. A second *process* asking for the
same file gets :class:`~collectorkit.FileLockedError` naming the file and the holder's PID.

Inside one process the lock is shared and counted: a SQLite sink and the state store on the same
database file both hold it. A holder that must be the only writer of its file even inside the
process (a JSON Lines file, whose offsets the sink keeps in memory) asks for ``exclusive=True``;
a second exclusive holder in the same process is then refused as well (a state store reading the
same index is not).
"""

from __future__ import annotations

import fcntl
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from collectorkit._errors import FileLockedError

__all__ = ["FileLock", "hold_file", "lock_path_for"]

_guard = threading.Lock()
_held: dict[str, _Entry] = {}  # lock-file path -> this process's hold on it


@dataclass(slots=True)
class _Entry:
    fd: int
    holders: list[FileLock] = field(default_factory=list)


def lock_path_for(path: str | Path) -> str:
    """The ``.lock`` file that guards ``path`` (its directory resolved, symlinks followed)."""
    p = Path(path).expanduser()
    resolved = p.resolve() if p.exists() else p.parent.resolve() / p.name
    return str(resolved) + ".lock"


class FileLock:
    """This process's hold on one file; :meth:`release` (idempotent) lets it go."""

    __slots__ = ("exclusive", "lock_path", "path", "what")

    def __init__(self, path: str, lock_path: str, what: str, exclusive: bool) -> None:
        self.path = path
        self.lock_path = lock_path
        self.what = what
        self.exclusive = exclusive

    def release(self) -> None:
        with _guard:
            entry = _held.get(self.lock_path)
            if entry is None or self not in entry.holders:
                return
            entry.holders.remove(self)
            if not entry.holders:
                del _held[self.lock_path]
                os.close(entry.fd)  # drops the flock


def hold_file(path: str | Path, *, what: str, exclusive: bool = False) -> FileLock:
    """Lock ``path`` for this process; ``what`` names the holder in a refusal ("JSONL sink").

    Raises :class:`~collectorkit.FileLockedError` when another process holds it, or when this
    holder and one already in this process both ask for ``exclusive``.
    """
    lock_path = lock_path_for(path)
    lock = FileLock(str(path), lock_path, what, exclusive)
    with _guard:
        entry = _held.get(lock_path)
        if entry is not None:
            first = next((h for h in entry.holders if h.exclusive), None)
            if exclusive and first is not None:
                other = first.what
                raise FileLockedError(
                    f"{what}: {str(path)!r} is already written by {other} in this process; "
                    "give each sink its own file",
                    path=str(path),
                    pid=os.getpid(),
                )
            entry.holders.append(lock)
            return lock
        _held[lock_path] = _Entry(_acquire(lock_path, str(path), what), [lock])
    return lock


def _acquire(lock_path: str, path: str, what: str) -> int:
    Path(lock_path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        os.close(fd)
        holder = f"process {pid}" if pid else "another process"
        raise FileLockedError(
            f"{what}: {path!r} is locked by {holder} (lock file {lock_path!r}); "
            "only one process may write it — stop the other collectorkit or give this one "
            "its own files",
            path=path,
            pid=pid,
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
