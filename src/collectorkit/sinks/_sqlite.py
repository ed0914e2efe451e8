"""The embedded default sink: records in a SQLite table, committed with the collector state.

``store_with_checkpoint`` inserts a batch and writes the checkpoint into the same file's
``collectorkit_state`` table (the schema of :class:`~collectorkit.state.SQLiteStateStore`, which
reads it) in ONE transaction: after a crash either both are there or neither is.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import orjson

from collectorkit._errors import ConfigError, SinkError
from collectorkit._records import Envelope
from collectorkit.sinks._base import (
    BaseSink,
    as_envelopes,
    json_default,
    result_for,
    sqlite_call,
    unique_envelopes,
)
from collectorkit.state import (
    SQLiteDatabase,
    SQLiteStateStore,
    same_sqlite_file,
    sqlite_put_state,
)
from collectorkit.typing import Checkpoint, QueryCriteria, StateStore, StoreResult

__all__ = ["SQLiteSink"]

T = TypeVar("T")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_FIELD = re.compile(r"[A-Za-z0-9_.\-]{1,200}")
_SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
_UNSYNCED = ("OFF", "NORMAL")  # a WAL commit does not wait on the disk
_INLINE_MAX = 2000  # rows: a larger batch is written from a worker thread
_CHECKPOINT_EVERY = 200  # commits between WAL checkpoints (run in a worker thread)


def _json_path(field: str) -> str:
    if not _FIELD.fullmatch(field):
        raise ConfigError(f"invalid field name {field!r}: letters, digits, _ . - only")
    return "$." + ".".join(f'"{part}"' for part in field.split("."))


class SQLiteSink(BaseSink):
    """Records in table ``table`` of the SQLite file at ``path`` (one row per key).

    WAL mode; ``synchronous="NORMAL"`` (the default) survives a crash of the process, ``"FULL"``
    also a power loss. Several processes may write the same file (``timeout`` is how long one
    waits for another's lock). Calls that may block run in a worker thread; a page's write
    runs on the event loop's thread when it cannot block (see ``_write``).
    """

    name = "sqlite"
    passes_raw = True  # the data column is written by orjson through json_default

    def __init__(
        self,
        path: str | Path = "./collectorkit.db",
        *,
        table: str = "events",
        synchronous: str = "NORMAL",
        timeout: float = 10.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not _NAME.fullmatch(table) or table == "collectorkit_state":
            raise ConfigError(f"invalid table name {table!r}", path="table")
        if synchronous.upper() not in _SYNC_MODES:
            raise ConfigError(
                f"expected one of {', '.join(_SYNC_MODES)}; got {synchronous!r}",
                path="synchronous",
            )
        self.path = str(path)
        self.table = table
        self._synchronous = synchronous.upper()
        self._timeout = timeout
        self._db = SQLiteDatabase(
            self.path,
            timeout=timeout,
            synchronous=self._synchronous,
            setup=self._setup,
            what=f"SQLite sink {self.name!r}",
        )
        self._lock = self._db.lock
        self._commits = 0  # since the last WAL checkpoint
        # table names are validated above: the f-strings below interpolate no user data
        self._insert = (
            f"INSERT INTO {table} (key, source, data, stored_at) VALUES (?, ?, ?, ?) "  # noqa: S608
            "ON CONFLICT (key) DO NOTHING"
        )

    @property
    def location(self) -> str:
        return f"sqlite://{self.path}#{self.table}"

    exclusive_writer = False  # SQLite serialises writers: other tables may share the file

    @property
    def locked_files(self) -> tuple[str, ...]:
        """The file this sink locks for the process while open."""
        return () if self.path == ":memory:" else (self.path,)

    def shares_state_with(self, store: StateStore) -> bool:
        """True for a :class:`~collectorkit.state.SQLiteStateStore` on this sink's file."""
        return isinstance(store, SQLiteStateStore) and same_sqlite_file(self.path, store.path)

    def _setup(self, conn: sqlite3.Connection) -> None:
        if self._synchronous in _UNSYNCED:
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints: see _write
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (seq INTEGER PRIMARY KEY, "
            "key TEXT NOT NULL UNIQUE, source TEXT NOT NULL, data TEXT NOT NULL, "
            "stored_at REAL NOT NULL)"
        )

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with self._lock:
                return sqlite_call(self._db.open(), work, f"SQLite sink {self.path!r}")

        try:
            return await asyncio.to_thread(call)
        except (OSError, sqlite3.Error) as exc:
            raise SinkError(f"cannot open SQLite sink {self.path!r}: {exc}") from None

    async def _open(self) -> None:
        await self._run(lambda c: None)

    async def _close(self) -> None:
        await self._db.aclose()

    def _transaction(
        self, batch: list[Envelope], checkpoint: Checkpoint | None
    ) -> Callable[[sqlite3.Connection], int]:
        """Serialise ``batch`` now; the function returned writes it (and ``checkpoint``) and
        commits, inside a transaction its caller began."""
        now = time.time()
        dumps = orjson.dumps  # dump_json inlined: one Python call less per record
        rows = [(e.key, e.source, dumps(e.data, default=json_default).decode(), now) for e in batch]

        def work(conn: sqlite3.Connection) -> int:
            try:
                before = conn.total_changes
                if rows:
                    conn.executemany(self._insert, rows)
                written = conn.total_changes - before
                if checkpoint is not None:
                    sqlite_put_state(
                        conn,
                        checkpoint.namespace,
                        checkpoint.key,
                        checkpoint.state,
                        now=time.time(),
                    )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self._commits += 1
            return written

        return work

    async def _write(self, batch: list[Envelope], checkpoint: Checkpoint | None) -> int:
        """Write ``batch`` (and ``checkpoint``) in one transaction; how many rows were new.

        It first yields once, so that tasks already waiting (the delivery reading the next page
        ahead) send their requests before this stretch of CPU work. Then, when nothing here
        can wait on the disk or on another writer — ``synchronous`` NORMAL or OFF (a WAL commit
        is not synced; the WAL checkpoint, which is, runs in a worker thread every so many
        commits), a batch of at most ``_INLINE_MAX`` rows, the write lock free right now — it
        runs on the event loop's thread: measured clearly faster than a worker thread per page.
        Otherwise (another process writing, ``FULL``, a big batch) in a worker thread.
        """
        await asyncio.sleep(0)
        work = self._transaction(batch, checkpoint)
        written: int | None = None
        conn = self._db.conn
        inline = self._synchronous in _UNSYNCED and len(batch) <= _INLINE_MAX
        if inline and conn is not None and self._lock.acquire(blocking=False):
            try:
                written = self._write_now(conn, work)
            finally:
                self._lock.release()
        if written is None:

            def begin_and(conn: sqlite3.Connection) -> int:
                conn.execute("BEGIN IMMEDIATE")
                return work(conn)

            written = await self._run(begin_and)
        if self._commits >= _CHECKPOINT_EVERY:
            self._commits = 0
            await self._run(lambda c: c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall())
        return written

    def _write_now(
        self, conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], int]
    ) -> int | None:
        """``work`` in a transaction begun without waiting; ``None`` when another holds the lock."""

        def begin_now_and(conn: sqlite3.Connection) -> int | None:
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                    return None
                raise
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            return work(conn)

        return sqlite_call(conn, begin_now_and, f"SQLite sink {self.path!r}")

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        written = await self._write(batch, None)
        return result_for(self, self.location, batch, written)

    async def store_with_checkpoint(
        self, batch: Sequence[Envelope], checkpoint: Checkpoint
    ) -> StoreResult:
        """Store ``batch`` and save ``checkpoint`` in one transaction (both or neither)."""
        envelopes = unique_envelopes(as_envelopes(batch, self.default_source))
        await self.connect()
        written = await self._write(envelopes, checkpoint)
        result = result_for(self, self.location, envelopes, written)
        return replace(result, duplicates=len(batch) - written)

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        criteria = criteria or QueryCriteria()
        sql = f"SELECT key, source, data FROM {self.table} WHERE 1=1"  # noqa: S608
        params: list[Any] = []
        if criteria.source is not None:
            sql += " AND source = ?"
            params.append(criteria.source)
        for field, value in criteria.filters.items():
            sql += " AND json_extract(data, ?) IS ?"
            params += [_json_path(field), value]
        if criteria.sort_by:
            sql += " ORDER BY json_extract(data, ?) " + ("DESC" if criteria.descending else "ASC")
            params.append(_json_path(criteria.sort_by))
        else:
            sql += " ORDER BY seq"
        sql += " LIMIT ? OFFSET ?"
        params += [-1 if criteria.limit is None else criteria.limit, criteria.offset]
        rows = await self._run(lambda c: c.execute(sql, params).fetchall())
        return [Envelope(s, k, orjson.loads(d)) for k, s, d in rows]

    async def delete(self, location_id: str) -> bool:
        sql = f"DELETE FROM {self.table} WHERE key = ?"  # noqa: S608
        return await self._run(lambda c: c.execute(sql, (location_id,)).rowcount > 0)

    async def count(self) -> int:
        """How many records the table holds."""
        sql = f"SELECT count(*) FROM {self.table}"  # noqa: S608
        row = await self._run(lambda c: c.execute(sql).fetchone())
        return int(row[0])
