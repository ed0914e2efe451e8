"""One JSON file per record (the XDR poller's ``alerts/alert_{id}_{timestamp}.json``).

Exactly-once across crashes: an index in the directory notes each record's file as *pending*
before it is written (atomically: temp file + rename) and as *committed* after. On start, pending
files are removed, because their batch was not acknowledged and will be delivered again.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
import string
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError, SinkError
from collectorkit._locks import FileLock, hold_file
from collectorkit._records import Envelope
from collectorkit.sinks._base import (
    BaseSink,
    dump_json,
    match_criteria,
    result_for,
    sqlite_call,
)
from collectorkit.typing import QueryCriteria, StoreResult

__all__ = ["JSONFileSink"]

T = TypeVar("T")
_PLACEHOLDERS = {"id", "timestamp", "source", "key"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_INDEX = ".collectorkit-index.db"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS files (key TEXT PRIMARY KEY, source TEXT NOT NULL, "
    "name TEXT NOT NULL UNIQUE, committed INTEGER NOT NULL)"
)


def _clean(value: Any) -> str:
    return _UNSAFE.sub("_", str(value)).strip("._")[:100] or "_"


class JSONFileSink(BaseSink):
    """Writes each record as pretty JSON to its own file in ``directory``.

    ``filename`` may use ``{id}`` (the record's ``id_field``, else a hash of the key),
    ``{timestamp}`` (UTC write time, ``YYYYmmdd_HHMMSS``), ``{source}`` and ``{key}`` (a hash of
    the idempotency key). When two records would get the same name, a short key hash is added.
    """

    name = "json_files"

    def __init__(
        self,
        directory: str | Path = "alerts",
        *,
        filename: str = "alert_{id}_{timestamp}.json",
        id_field: str = "id",
        indent: bool = True,
        fsync: bool = False,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(filename) if f is not None}
        except ValueError as exc:
            raise ConfigError(f"invalid filename template: {exc}", path="filename") from None
        if fields - _PLACEHOLDERS or "/" in filename:
            raise ConfigError(
                f"filename {filename!r}: no '/', placeholders only from {sorted(_PLACEHOLDERS)}",
                path="filename",
            )
        self.directory = Path(directory)
        self.filename = filename
        self.id_field = id_field
        self.indent = indent
        self.fsync = fsync
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._held: FileLock | None = None  # the index: one writer process per directory

    @property
    def location(self) -> str:
        return str(self.directory)

    exclusive_writer = True

    @property
    def locked_files(self) -> tuple[str, ...]:
        """The file this sink locks while open: the index of its directory."""
        return (str(self.directory / _INDEX),)

    def _db_sync(self) -> sqlite3.Connection:
        if self._db is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            if self._held is None:
                what = f"JSON file sink {self.name!r}"
                self._held = hold_file(self.locked_files[0], what=what, exclusive=True)
            try:
                self._db = self._open_index()
            except BaseException:
                self._held.release()
                self._held = None
                raise
        return self._db

    def _open_index(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.directory / _INDEX, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = " + ("FULL" if self.fsync else "NORMAL"))
            db.execute(_SCHEMA)
            for (name,) in db.execute("SELECT name FROM files WHERE committed = 0").fetchall():
                (self.directory / name).unlink(missing_ok=True)
            db.execute("DELETE FROM files WHERE committed = 0")
        except BaseException:
            db.close()
            raise
        return db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with self._lock:
                return sqlite_call(self._db_sync(), work, self._where)

        try:
            return await asyncio.to_thread(call)
        except OSError as exc:
            raise SinkError(f"{self._where}: {exc}") from None

    @property
    def _where(self) -> str:
        return f"JSON file sink {str(self.directory)!r}"

    async def _open(self) -> None:
        await self._run(lambda db: None)

    async def _close(self) -> None:
        def close() -> None:
            with self._lock:
                if self._db is not None:
                    self._db.close()
                    self._db = None
                if self._held is not None:
                    self._held.release()
                    self._held = None

        await asyncio.to_thread(close)

    def _name_for(self, e: Envelope, stamp: str, taken: set[str]) -> str:
        key_hash = hashlib.sha256(e.key.encode()).hexdigest()[:12]
        ident = e.data.get(self.id_field) if isinstance(e.data, dict) else None
        name = self.filename.format(
            id=_clean(ident) if ident is not None else key_hash,
            timestamp=stamp,
            source=_clean(e.source),
            key=key_hash,
        )
        if name in taken or (self.directory / name).exists():
            root, ext = os.path.splitext(name)
            name = f"{root}_{key_hash}{ext}"
        taken.add(name)
        return name

    def _write(self, db: sqlite3.Connection, batch: list[Envelope], stamp: str) -> int:
        known: set[str] = set()
        for i in range(0, len(batch), 500):
            keys = [e.key for e in batch[i : i + 500]]
            marks = ",".join("?" * len(keys))
            sql = f"SELECT key FROM files WHERE key IN ({marks})"  # noqa: S608 - placeholders
            known.update(r[0] for r in db.execute(sql, keys))
        fresh = [e for e in batch if e.key not in known]
        if not fresh:
            return 0
        taken: set[str] = set()
        rows = [(e.key, e.source, self._name_for(e, stamp, taken), 0) for e in fresh]
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO files VALUES (?, ?, ?, ?)", rows)
        db.execute("COMMIT")
        option = orjson.OPT_INDENT_2 if self.indent else 0
        for e, (_, _, name, _) in zip(fresh, rows, strict=True):
            target = self.directory / name
            tmp = target.with_name(name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(dump_json(e.data, option=option))
                if self.fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, target)
        db.execute("BEGIN IMMEDIATE")
        db.executemany("UPDATE files SET committed = 1 WHERE key = ?", [(r[0],) for r in rows])
        db.execute("COMMIT")
        return len(fresh)

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        stamp = datetime.fromtimestamp(self._clock.time(), UTC).strftime("%Y%m%d_%H%M%S")
        written = await self._run(lambda db: self._write(db, batch, stamp))
        return result_for(self, str(self.directory), batch, written)

    def path_of(self, key: str) -> Path | None:
        """The file holding the record with idempotency key ``key`` (``None``: not stored)."""
        if self._db is None:
            return None
        row = self._db.execute("SELECT name FROM files WHERE key = ?", (key,)).fetchone()
        return None if row is None else self.directory / row[0]

    def _read_all(self, db: sqlite3.Connection) -> list[Envelope]:
        rows = db.execute("SELECT key, source, name FROM files WHERE committed = 1 ORDER BY rowid")
        out = []
        for key, source, name in rows.fetchall():
            try:
                data = orjson.loads((self.directory / name).read_bytes())
            except FileNotFoundError:
                continue
            out.append(Envelope(source, key, data))
        return out

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        envelopes = await self._run(self._read_all)
        return match_criteria(envelopes, criteria or QueryCriteria())

    async def delete(self, location_id: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT name FROM files WHERE key = ?", (location_id,)).fetchone()
            if row is None:
                return False
            (self.directory / row[0]).unlink(missing_ok=True)
            db.execute("DELETE FROM files WHERE key = ?", (location_id,))
            return True

        return await self._run(work)
