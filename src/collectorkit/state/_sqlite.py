"""The embedded default: state in a SQLite file, WAL mode, one writer process at a time.

Each write is one atomic statement (``INSERT … ON CONFLICT``/``UPDATE … WHERE version = ?`` with
``RETURNING``), so compare-and-set holds across threads and processes; ``busy_timeout`` makes a
writer wait for another process's lock instead of failing. Blocking sqlite3 calls run in a worker
thread (``asyncio.to_thread``) so the event loop never stalls on disk.

A sink that keeps events in the same file opens it through the same :class:`SQLiteDatabase` and
calls :func:`sqlite_put_state` inside its own transaction, so a batch and its checkpoint commit
together.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import StateDamagedError, StateError, StateStoreUnavailableError
from collectorkit._lifecycle import AsyncResource
from collectorkit._locks import FileLock, hold_file
from collectorkit.state._values import (
    check_names,
    check_put,
    conflict_error,
    decode_value,
)
from collectorkit.typing import StoredValue

__all__ = [
    "SQLITE_STATE_SCHEMA",
    "SQLiteDatabase",
    "SQLiteStateStore",
    "connect_checked_sqlite",
    "move_damaged_aside",
    "same_sqlite_file",
    "sqlite_create_state_table",
    "sqlite_put_state",
]

T = TypeVar("T")

SQLITE_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS collectorkit_state (
    namespace  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at REAL    NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID
"""

_UPSERT = (
    "INSERT INTO collectorkit_state VALUES (?, ?, ?, 1, ?) ON CONFLICT (namespace, key) "
    "DO UPDATE SET value = excluded.value, version = collectorkit_state.version + 1, "
    "updated_at = excluded.updated_at RETURNING version"
)
_INSERT_NEW = (
    "INSERT INTO collectorkit_state VALUES (?, ?, ?, 1, ?) "
    "ON CONFLICT (namespace, key) DO NOTHING RETURNING version"
)
_UPDATE_IF = (
    "UPDATE collectorkit_state SET value = ?, version = version + 1, updated_at = ? "
    "WHERE namespace = ? AND key = ? AND version = ? RETURNING version"
)
_VERSION = "SELECT version FROM collectorkit_state WHERE namespace = ? AND key = ?"


def sqlite_create_state_table(conn: sqlite3.Connection) -> None:
    """Create the state table on ``conn`` if it does not exist (idempotent)."""
    conn.execute(SQLITE_STATE_SCHEMA)


def sqlite_put_state(
    conn: sqlite3.Connection,
    namespace: str,
    key: str,
    value: Mapping[str, Any],
    *,
    now: float,
    if_version: int | None = None,
) -> int:
    """Write one state value on ``conn`` (in the caller's transaction) and return its version.

    The table must exist (call :func:`sqlite_create_state_table` once). Raises
    :class:`~collectorkit.StateConflictError` when ``if_version`` does not match.
    """
    text = check_put(namespace, key, value, if_version)
    if if_version is None:
        row = conn.execute(_UPSERT, (namespace, key, text, now)).fetchone()
    elif if_version == 0:
        row = conn.execute(_INSERT_NEW, (namespace, key, text, now)).fetchone()
    else:
        row = conn.execute(_UPDATE_IF, (text, now, namespace, key, if_version)).fetchone()
    if row is None:
        actual = conn.execute(_VERSION, (namespace, key)).fetchone()
        raise conflict_error(namespace, key, if_version, actual[0] if actual else 0)
    return int(row[0])


_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_WAY_OUT = (
    "Refusing to start from scratch: every record would be collected and every callback "
    "notified again. Restore the file from a backup, or move it aside and start over with "
    "`collectorkit run --reset-state` (or `collectorkit once --reset-state`)."
)


def _damaged(path: str, problem: str) -> StateDamagedError:
    return StateDamagedError(f"state database {path!r} {problem}. {_WAY_OUT}", path=path)


def _create_sqlite_file(path: str) -> None:
    """Create ``path`` whole (WAL header and state table) under another name, then link it in:
    a file at ``path`` is never an empty one we left behind, so an empty one is damage."""
    tmp = f"{path}.new-{os.getpid()}"
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(SQLITE_STATE_SCHEMA)
    finally:
        conn.close()
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process (lock=False) created it first
    finally:
        os.unlink(tmp)


def _check_sqlite_file(conn: sqlite3.Connection, path: str) -> None:
    """``PRAGMA quick_check``: a corrupted page anywhere is a refusal, not a fresh start."""
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        if exc.sqlite_errorcode & 0xFF in _DAMAGED:
            raise _damaged(path, f"is unreadable ({exc})") from None
        raise
    if rows != [("ok",)]:
        first = "; ".join(str(r[0]) for r in rows[:3])
        raise _damaged(path, f"fails its integrity check ({first})")


def connect_checked_sqlite(path: str, *, timeout: float = 5.0) -> sqlite3.Connection:
    """A connection (autocommit, any thread) to the SQLite file at ``path`` that holds state:
    created whole when missing; empty, unreadable or failing ``PRAGMA quick_check`` raises
    :class:`~collectorkit.StateDamagedError` (a refusal, never a fresh start)."""
    if not os.path.exists(path):
        _create_sqlite_file(path)
    elif os.path.getsize(path) == 0:
        raise _damaged(path, "is empty (0 bytes) although it existed")
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        _check_sqlite_file(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def move_damaged_aside(path: str | Path, *, now: float | None = None) -> list[str]:
    """Rename a damaged database (and its ``-wal``/``-shm``) to ``<name>.damaged-<time>``.

    Nothing is deleted: the old file stays for inspection. Returns the new names.
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    moved = []
    for suffix in ("", "-wal", "-shm"):
        old = f"{path}{suffix}"
        if os.path.exists(old):
            new = f"{path}.damaged-{stamp}{suffix}"
            os.replace(old, new)
            moved.append(new)
    return moved


def same_sqlite_file(a: str | Path, b: str | Path) -> bool:
    """Whether the paths ``a`` and ``b`` name one database file (``":memory:"`` never does)."""
    if ":memory:" in (str(a), str(b)):
        return False
    return Path(a).resolve() == Path(b).resolve()


class SQLiteDatabase:
    """One SQLite file opened the way every collectorkit part opens one: WAL, ``busy_timeout``,
    ``synchronous``, the state table, then ``setup`` (a sink's own tables and pragmas).

    The connection is opened on first use and shared by worker threads under :attr:`lock`, so
    the state store and the SQLite sink open, configure and close a file in one place. Errors
    (``sqlite3.Error``, ``OSError``) propagate for the owner to word. While it is open, the file
    is locked for this process (:func:`~collectorkit._locks.hold_file`; ``what`` names the
    holder; ``None``: no lock): another process opening it gets
    :class:`~collectorkit.FileLockedError`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 10.0,
        synchronous: str = "NORMAL",
        setup: Callable[[sqlite3.Connection], None] | None = None,
        what: str | None = "SQLite database",
    ) -> None:
        self.path = str(path)
        self.timeout = timeout
        self.synchronous = synchronous
        self._setup = setup
        self._what = what
        self._held: FileLock | None = None
        self.lock = threading.Lock()
        self.conn: sqlite3.Connection | None = None

    def open(self) -> sqlite3.Connection:
        """The connection, opened now if it is not yet; call it holding :attr:`lock`.

        A file that exists but is empty, is not a database or fails ``PRAGMA quick_check``
        raises :class:`~collectorkit.StateDamagedError` (see :func:`move_damaged_aside`).
        """
        if self.conn is None:
            on_disk = self.path != ":memory:"
            if on_disk:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                if self._held is None and self._what is not None:
                    self._held = hold_file(self.path, what=self._what)
            try:
                conn = self._connect(on_disk)
            except BaseException:
                self._release()
                raise
            self.conn = conn
        return self.conn

    def _connect(self, on_disk: bool) -> sqlite3.Connection:
        if on_disk:
            conn = connect_checked_sqlite(self.path, timeout=self.timeout)
        else:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            conn.execute(SQLITE_STATE_SCHEMA)
            if self._setup is not None:
                self._setup(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _release(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None

    def close(self) -> None:
        with self.lock:
            if self.conn is not None:
                conn, self.conn = self.conn, None
                conn.close()
            self._release()

    async def aclose(self) -> None:
        """:meth:`close` from a worker thread (it may wait for a running write)."""
        await asyncio.to_thread(self.close)


class SQLiteStateStore(AsyncResource):
    """State in a SQLite file (``":memory:"`` for a private in-memory database).

    ``timeout`` is how long a write waits for another process holding the lock. While open, the
    file is locked for this process: a second process gets :class:`~collectorkit.FileLockedError`
    naming the holder's PID (two daemons on one state would both collect and notify).
    ``lock=False`` lets several processes share the file (each write stays atomic).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 10.0,
        clock: Clock | None = None,
        lock: bool = True,
    ) -> None:
        what = "SQLite state store" if lock else None
        self._db = SQLiteDatabase(path, timeout=timeout, what=what)
        self._clock: Clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"SQLiteStateStore({self.path!r})"

    @property
    def path(self) -> str:
        return self._db.path

    def _connect(self) -> sqlite3.Connection:
        try:
            return self._db.open()
        except (sqlite3.Error, OSError) as exc:
            raise StateStoreUnavailableError(
                f"cannot open SQLite state store {self.path!r}: {exc}"
            ) from None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with self._db.lock:
                conn = self._connect()
                try:
                    return work(conn)
                except sqlite3.OperationalError as exc:
                    raise StateStoreUnavailableError(
                        f"SQLite state store {self.path!r}: {exc}"
                    ) from None
                except sqlite3.Error as exc:
                    raise StateError(f"SQLite state store {self.path!r}: {exc}") from None

        return await asyncio.to_thread(call)

    async def get(self, namespace: str, key: str) -> StoredValue | None:
        check_names(namespace, key)
        sql = (
            "SELECT value, version, updated_at FROM collectorkit_state WHERE namespace=? AND key=?"
        )
        row = await self._run(lambda c: c.execute(sql, (namespace, key)).fetchone())
        return None if row is None else StoredValue(decode_value(row[0]), row[1], row[2])

    async def put(
        self,
        namespace: str,
        key: str,
        value: Mapping[str, Any],
        *,
        if_version: int | None = None,
    ) -> int:
        now = self._clock.time()
        return await self._run(
            lambda c: sqlite_put_state(c, namespace, key, value, now=now, if_version=if_version)
        )

    async def delete(self, namespace: str, key: str) -> bool:
        check_names(namespace, key)
        sql = "DELETE FROM collectorkit_state WHERE namespace = ? AND key = ?"
        return await self._run(lambda c: c.execute(sql, (namespace, key)).rowcount > 0)

    async def list(self, namespace: str) -> dict[str, StoredValue]:
        check_names(namespace)
        sql = (
            "SELECT key, value, version, updated_at FROM collectorkit_state "
            "WHERE namespace = ? ORDER BY key"
        )
        rows = await self._run(lambda c: c.execute(sql, (namespace,)).fetchall())
        return {k: StoredValue(decode_value(v), ver, at) for k, v, ver, at in rows}

    async def ping(self) -> None:
        """Open the file (creating the table) so a bad path fails now, with a clear error."""
        await self._run(lambda c: c.execute("SELECT 1").fetchone())

    async def aclose(self) -> None:
        await self._db.aclose()
