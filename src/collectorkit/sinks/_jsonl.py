"""JSON Lines files, rotated by date and size, exactly-once across crashes.

Each line is ``{"key", "source", "data"}``. A small SQLite index next to the files keeps, per
file, the *committed* byte offset, and the keys already written (see ``_jsonl_index``). A batch
is appended to its file and then its keys and the new offset commit in one index transaction.
On start, every file is truncated back to its committed offset, so a batch half-written by a
killed process disappears (and is written again, once, when the page is re-fetched); a key in
the index is never written again. ``store_with_checkpoint`` commits the collector state in the
same index transaction (readable by :class:`~collectorkit.state.SQLiteStateStore` on
``index_path``). One writer process per set of files.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from io import FileIO
from pathlib import Path
from typing import TypeVar

import orjson

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError, SinkError
from collectorkit._locks import FileLock, hold_file
from collectorkit._records import Envelope
from collectorkit.sinks._base import (
    BaseSink,
    as_envelopes,
    json_lines,
    match_criteria,
    result_for,
    sqlite_call,
    unique_envelopes,
)
from collectorkit.sinks._jsonl_index import (
    FileRow,
    claim_keys,
    claim_new_keys,
    latest_file,
    open_index,
    recover,
    register_file,
    set_offset,
    wal_checkpoint,
)
from collectorkit.state import SQLiteStateStore, same_sqlite_file, sqlite_put_state
from collectorkit.state._values import check_names
from collectorkit.typing import Checkpoint, QueryCriteria, StateStore, StoreResult

__all__ = ["JSONLSink"]

T = TypeVar("T")
_CHECKPOINT_EVERY = 200  # index commits between WAL checkpoints (run in a worker thread)
_INLINE_MAX = 2000  # records: a larger batch is written from a worker thread
_PLACEHOLDERS = {"source", "date"}


def _placeholders(template: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ConfigError(f"invalid path template {template!r}: {exc}", path="path") from None


def _safe(part: str) -> str:
    """A source name made safe as one path component."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in part).strip(".")
    return cleaned or "_"


def _segment_path(base: str, segment: int) -> str:
    if segment == 0:
        return base
    root, ext = os.path.splitext(base)
    return f"{root}.{segment}{ext}"


class JSONLSink(BaseSink):
    """Appends records to JSON Lines files at ``path``.

    ``path`` may use ``{source}`` and ``{date}`` (UTC ``YYYY-MM-DD`` of the write), e.g.
    ``out/{source}/{date}.jsonl``: a new file each day. ``max_bytes`` starts a new segment
    (``name.1.jsonl``, ``name.2.jsonl``…) once a file reaches that size. ``fsync=True`` makes a
    batch durable against power loss, not only against a crash of the process. The index lives at
    ``index_path`` (default: ``.collectorkit-jsonl.db`` in the fixed part of ``path``).
    """

    name = "jsonl"
    passes_raw = True  # lines are written by orjson through json_default

    def __init__(
        self,
        path: str | Path = "events.jsonl",
        *,
        max_bytes: int | None = None,
        index_path: str | Path | None = None,
        fsync: bool = False,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.template = str(path)
        unknown = _placeholders(self.template) - _PLACEHOLDERS
        if unknown:
            raise ConfigError(
                f"unknown placeholder(s) {sorted(unknown)} in {self.template!r}; "
                "known: {date}, {source}",
                path="path",
            )
        if max_bytes is not None and max_bytes < 1:
            raise ConfigError(
                f"must be a positive number of bytes, got {max_bytes!r}", path="max_bytes"
            )
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._clock: Clock = clock or SystemClock()
        fixed = self.template.split("{", 1)[0]
        default_index = (
            Path(os.path.dirname(fixed) or ".") / ".collectorkit-jsonl.db"
            if "{" in self.template
            else Path(self.template + ".index.db")
        )
        self.index_path = str(index_path or default_index)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._files: dict[str, FileIO] = {}
        self._suspect: set[str] = set()  # files whose size may differ from the committed offset
        self._day: tuple[int, str] = (-1, "")
        self._commits = 0  # since the last WAL checkpoint
        self._current: dict[str, FileRow] = {}  # base -> its newest file
        self._held: list[FileLock] = []  # the index (and a fixed file): one writer process

    @property
    def location(self) -> str:
        return self.template

    exclusive_writer = True

    @property
    def locked_files(self) -> tuple[str, ...]:
        """The files this sink locks while open (its index, and its file without placeholders)."""
        return (self.index_path,) + (() if "{" in self.template else (self.template,))

    def shares_state_with(self, store: StateStore) -> bool:
        """True for a :class:`~collectorkit.state.SQLiteStateStore` on ``index_path``."""
        return isinstance(store, SQLiteStateStore) and same_sqlite_file(self.index_path, store.path)

    # --- index plumbing -----------------------------------------------------------------------

    def _db_sync(self) -> sqlite3.Connection:
        if self._db is None:
            Path(self.index_path).parent.mkdir(parents=True, exist_ok=True)
            self._hold()
            try:
                db = open_index(self.index_path, durable=self.fsync)
            except BaseException:
                self._release()
                raise
            try:
                recover(db)
            except BaseException:
                db.close()
                self._release()
                raise
            self._db = db
        return self._db

    def _hold(self) -> None:
        """Lock the index (and a file path without placeholders) for this sink alone."""
        if self._held:
            return
        what = f"JSONL sink {self.name!r}"
        try:
            for path in self.locked_files:
                self._held.append(hold_file(path, what=what, exclusive=True))
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        while self._held:
            self._held.pop().release()

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the index (the caller holds ``_lock``); errors become SinkError."""
        try:
            return sqlite_call(self._db_sync(), work, f"JSONL index {self.index_path!r}")
        except OSError as exc:
            raise SinkError(f"JSONL sink {self.template!r}: {exc}") from None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with self._lock:
                return self._call(work)

        return await asyncio.to_thread(call)

    async def _append(self, batch: list[Envelope], checkpoint: Checkpoint | None) -> int:
        """Write ``batch`` (and ``checkpoint``); the number of records newly written.

        Without ``fsync`` nothing here waits on the disk — a write(2) into the page cache and
        a WAL commit that is not synced (the periodic WAL checkpoint, which does sync, runs
        in a worker thread) — so the batch is appended on the event loop's thread: that
        measured faster than a hop to a worker thread per page. With ``fsync``, for a batch
        of more than ``_INLINE_MAX`` records (the loop never stalls for long), or while a
        query or delete holds the index, it runs in a worker thread. Either way it first
        yields once, so that tasks already waiting (the delivery reading the next page ahead)
        send their requests before this stretch of CPU work, not after it.
        """
        await asyncio.sleep(0)
        groups = self._groups(batch) if batch else []

        def work(db: sqlite3.Connection) -> int:
            return self._write(db, groups, checkpoint)

        inline = not self.fsync and len(batch) <= _INLINE_MAX and self._db is not None
        if not inline or not self._lock.acquire(blocking=False):
            written = await self._run(work)
        else:
            try:
                written = self._call(work)
            finally:
                self._lock.release()
        if self._commits >= _CHECKPOINT_EVERY:
            self._commits = 0
            await self._run(wal_checkpoint)
        return written

    async def _open(self) -> None:
        await self._run(lambda db: None)

    async def _close(self) -> None:
        def close() -> None:
            with self._lock:
                for f in self._files.values():
                    f.close()
                self._files.clear()
                self._suspect.clear()
                self._current.clear()
                if self._db is not None:
                    self._db.close()
                    self._db = None
                self._release()

        await asyncio.to_thread(close)

    # --- writing ------------------------------------------------------------------------------

    def _base_for(self, source: str, date: str) -> str:
        return self.template.format(source=_safe(source), date=date)

    def _target(self, db: sqlite3.Connection, base: str) -> FileRow:
        """The file the next batch for ``base`` goes to (a new segment once it is full)."""
        current = self._current.get(base)
        if current is None:
            found = latest_file(db, base)
            current, segment = found if found else (self._register(db, base, 0), 0)
        else:
            segment = -1  # looked up only when a new segment is due
        if self.max_bytes is not None and current[2] >= self.max_bytes:
            if segment < 0:
                segment = db.execute(
                    "SELECT segment FROM jsonl_files WHERE id = ?", (current[1],)
                ).fetchone()[0]
            current = self._register(db, base, segment + 1)
        self._current[base] = current
        return current

    def _register(self, db: sqlite3.Connection, base: str, segment: int) -> FileRow:
        # Registered (and committed) before the first write, so that a crash during that write
        # is cut back on restart.
        row = register_file(db, _segment_path(base, segment), base, segment)
        if row[0] in self._files:
            self._files.pop(row[0]).close()
        return row

    def _handle(self, path: str, committed: int) -> FileIO:
        f = self._files.get(path)
        if f is None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered and O_APPEND: one write(2) per batch, always at the end of the file.
            f = self._files[path] = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open
            self._suspect.add(path)
        if path in self._suspect:  # new handle, or an earlier write failed: cut what it left
            size = os.fstat(f.fileno()).st_size
            if size < committed:
                raise SinkError(
                    f"JSONL file {path!r} holds {size} bytes but {committed} were committed: "
                    "it was truncated or replaced while the sink was writing to it"
                )
            if size > committed:
                os.ftruncate(f.fileno(), committed)
            self._suspect.discard(path)
        return f

    def _claim(
        self, db: sqlite3.Connection, groups: list[_Group], targets: list[FileRow]
    ) -> list[list[bytes]]:
        """Insert every group's keys (in the caller's transaction); return the new lines.

        The common case — every key new — is told by the row counts alone. Only when some key
        was already held is the transaction restarted and the keys inserted again with
        ``RETURNING``, to learn which were new.
        """
        keys = [orjson.dumps([e.key for e in g.envelopes]).decode() for g in groups]
        if all(
            claim_keys(db, file_id, k) == len(g.envelopes)
            for g, (_, file_id, _), k in zip(groups, targets, keys, strict=True)
        ):
            return [g.lines for g in groups]
        db.execute("ROLLBACK")
        db.execute("BEGIN IMMEDIATE")
        out: list[list[bytes]] = []
        for g, (_, file_id, _), k in zip(groups, targets, keys, strict=True):
            fresh = claim_new_keys(db, file_id, k)
            pairs = zip(g.envelopes, g.lines, strict=True)
            out.append([line for e, line in pairs if e.key in fresh] if fresh else [])
        return out

    def _write(
        self, db: sqlite3.Connection, groups: list[_Group], checkpoint: Checkpoint | None = None
    ) -> int:
        """Append each group to its file, then commit keys, offsets and ``checkpoint`` at once.

        The bytes are written (and fsynced with ``fsync=True``) before the index commits: the
        committed offset never points past data, and bytes past it — a crash before the
        commit, or a failed batch — are cut off on the next start or the next write.
        """
        # Files are registered (committed) before anything is written to them.
        targets = [self._target(db, group.base) for group in groups]
        written = 0
        touched: list[str] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            fresh_lines = self._claim(db, groups, targets)
            offsets: dict[str, FileRow] = {}
            for group, (path, file_id, committed), fresh in zip(
                groups, targets, fresh_lines, strict=True
            ):
                if not fresh:
                    continue
                f = self._handle(path, committed)
                touched.append(path)
                data = b"".join(fresh)
                _write_all(f, data)
                if self.fsync:
                    os.fsync(f.fileno())
                end = committed + len(data)
                offsets[group.base] = (path, file_id, end)
                set_offset(db, file_id, end)
                written += len(fresh)
            if checkpoint is not None:
                sqlite_put_state(
                    db, checkpoint.namespace, checkpoint.key, checkpoint.state, now=time.time()
                )
            db.execute("COMMIT")
            self._commits += 1
        except BaseException:
            self._suspect.update(touched)
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._current.update(offsets)
        return written

    def _groups(self, batch: list[Envelope]) -> list[_Group]:
        """Serialise ``batch`` (on the caller's thread) and split it by target file."""
        date = self._date()
        lines = json_lines(batch)
        sources = {e.source for e in batch}
        if len(sources) == 1:
            return [_Group(self._base_for(sources.pop(), date), batch, lines)]
        by_base: dict[str, _Group] = {}
        base_of = {source: self._base_for(source, date) for source in sources}
        for e, line in zip(batch, lines, strict=True):
            base = base_of[e.source]
            group = by_base.get(base)
            if group is None:
                group = by_base[base] = _Group(base, [], [])
            group.envelopes.append(e)
            group.lines.append(line)
        return list(by_base.values())

    def _date(self) -> str:
        """The UTC date of now, ``YYYY-MM-DD`` (formatted once per day, not once per batch)."""
        day = int(self._clock.time() // 86400)
        if self._day[0] != day:
            self._day = (day, datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d"))
        return self._day[1]

    async def _store(self, batch: list[Envelope]) -> StoreResult:
        written = await self._append(batch, None)
        return result_for(self, self.template, batch, written)

    async def store_with_checkpoint(
        self, batch: Sequence[Envelope], checkpoint: Checkpoint
    ) -> StoreResult:
        """Append ``batch`` and save ``checkpoint`` in the index database, committed together.

        The state is then readable with ``SQLiteStateStore(sink.index_path)``.
        """
        check_names(checkpoint.namespace, checkpoint.key)
        envelopes = unique_envelopes(as_envelopes(batch, self.default_source))
        await self.connect()
        written = await self._append(envelopes, checkpoint)
        result = result_for(self, self.template, envelopes, written)
        return replace(result, duplicates=len(batch) - written)

    # --- reading ------------------------------------------------------------------------------

    def _read_all(self, db: sqlite3.Connection) -> list[Envelope]:
        return list(self._iter(db))

    def _iter(self, db: sqlite3.Connection) -> Iterator[Envelope]:
        files = db.execute("SELECT path, committed FROM jsonl_files ORDER BY id").fetchall()
        for path, committed in files:
            try:
                with open(path, "rb") as f:
                    content = f.read(committed)
            except FileNotFoundError:
                continue
            for line in content.splitlines():
                if line:
                    obj = orjson.loads(line)
                    yield Envelope(obj["source"], obj["key"], obj["data"])

    async def query(self, criteria: QueryCriteria | None = None) -> list[Envelope]:
        """Reads the committed part of every file (a scan: fine for audits, not for hot paths)."""
        envelopes = await self._run(self._read_all)
        return match_criteria(envelopes, criteria or QueryCriteria())

    async def delete(self, location_id: str) -> bool:
        """Removes the record with key ``location_id`` by rewriting its file."""
        return await self._run(lambda db: self._delete(db, location_id))

    def _delete(self, db: sqlite3.Connection, key: str) -> bool:
        row = db.execute(
            "SELECT f.path, f.id, f.committed FROM jsonl_keys k JOIN jsonl_files f "
            "ON f.id = k.file WHERE k.key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return False
        path, file_id, committed = row
        if path in self._files:
            self._files.pop(path).close()
        with open(path, "rb") as f:
            lines = f.read(committed).splitlines(keepends=True)
        kept = b"".join(x for x in lines if x.strip() and orjson.loads(x).get("key") != key)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(kept)
            if self.fsync:
                os.fsync(f.fileno())
        # Replaced inside the transaction: a crash before the commit leaves the file shorter
        # than its offset, which the next start takes as it is (the key stays claimed).
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM jsonl_keys WHERE key = ?", (key,))
            set_offset(db, file_id, len(kept))
            os.replace(tmp, path)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._current = {b: c for b, c in self._current.items() if c[0] != path}
        return True


@dataclass(slots=True)
class _Group:
    """The records of one batch bound for one file (one ``base``), with their JSON lines."""

    base: str
    envelopes: list[Envelope]
    lines: list[bytes]


def _write_all(f: FileIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[f.write(view) or 0 :]
