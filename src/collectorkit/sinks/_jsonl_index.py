"""The SQLite index behind :class:`~collectorkit.sinks.JSONLSink`.

Two tables: ``jsonl_files`` (one row per file: an integer id, its path, the ``base`` path it
rotates from, its segment number and its *committed* byte offset) and ``jsonl_keys`` (every
record key written, with the id of its file). Keys are claimed a page at a time: the page's keys
travel as one JSON array expanded by ``json_each``, so a page costs one statement whatever its
size. An index written by an earlier version (tables ``files`` and ``keys``, the file's path
repeated on every key) is migrated in place on open.
"""

from __future__ import annotations

import logging
import os
import sqlite3

from collectorkit._errors import StateDamagedError
from collectorkit.state import connect_checked_sqlite, sqlite_create_state_table

__all__ = [
    "FileRow",
    "claim_keys",
    "claim_new_keys",
    "latest_file",
    "open_index",
    "recover",
    "register_file",
    "set_offset",
    "wal_checkpoint",
]

FileRow = tuple[str, int, int]
"""A file of the index: ``(path, id, committed offset)``."""

_log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS jsonl_files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, "
    "base TEXT NOT NULL, segment INTEGER NOT NULL, committed INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS jsonl_files_base ON jsonl_files (base, segment)",
    "CREATE TABLE IF NOT EXISTS jsonl_keys (key TEXT PRIMARY KEY, file INTEGER NOT NULL) "
    "WITHOUT ROWID",
)
_MIGRATE = (
    "INSERT INTO jsonl_files (path, base, segment, committed) "
    "SELECT path, base, segment, committed FROM files ORDER BY rowid",
    "INSERT OR IGNORE INTO jsonl_keys SELECT k.key, f.id FROM keys k "
    "JOIN jsonl_files f ON f.path = k.path",
    "DROP TABLE keys",
    "DROP TABLE files",
)
_CLAIM = "INSERT OR IGNORE INTO jsonl_keys SELECT value, ? FROM json_each(?)"
_SET_OFFSET = "UPDATE jsonl_files SET committed = ? WHERE id = ?"
_CACHE_KIB = 16384  # page cache of the index: keys of random ids touch many pages


def open_index(path: str, *, durable: bool) -> sqlite3.Connection:
    """Open (creating or migrating) the index at ``path``; autocommit mode, any thread.

    WAL with ``synchronous=NORMAL`` unless ``durable``: the JSONL bytes are written before the
    index commits, so a commit the OS loses in a crash of the machine only leaves bytes past
    the committed offset, which :func:`recover` cuts off (the page is fetched again). With
    ``durable`` the files are fsynced before the commit and the commit is ``FULL``. SQLite's
    automatic WAL checkpoint is off: the sink calls :func:`wal_checkpoint` from a worker thread
    every so many commits, and closing the connection checkpoints too.
    """
    try:
        db = connect_checked_sqlite(path)
    except StateDamagedError as exc:  # its files hold records it no longer knows of
        raise StateDamagedError(
            f"JSONL index {path!r} is damaged ({exc.message.split('. ', 1)[0]}): the sink no "
            "longer knows which records its files hold. Restore the index from a backup, or "
            "move the JSONL files and the index aside together to start over",
            path=path,
        ) from None
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = " + ("FULL" if durable else "NORMAL"))
        db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        db.execute("PRAGMA wal_autocheckpoint = 0")  # see wal_checkpoint
        db.execute("BEGIN IMMEDIATE")
        for ddl in _SCHEMA:
            db.execute(ddl)
        sqlite_create_state_table(db)
        if _is_old_index(db):
            for sql in _MIGRATE:
                db.execute(sql)
        db.execute("COMMIT")
    except BaseException:
        db.close()
        raise
    return db


def _is_old_index(db: sqlite3.Connection) -> bool:
    def columns(table: str) -> list[str]:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]

    return columns("keys") == ["key", "path"] and columns("files") == [
        "path",
        "base",
        "segment",
        "committed",
    ]


def recover(db: sqlite3.Connection) -> None:
    """Make every file agree with its committed offset.

    Bytes past the offset (a batch a killed process wrote but did not commit) are cut off. A
    file *shorter* than its offset (a ``delete`` interrupted between replacing the file and
    committing, or data the machine lost without ``fsync``) is taken as it is: the offset moves
    back to its size, and a warning names it.
    """
    rows = db.execute("SELECT id, path, committed FROM jsonl_files").fetchall()
    for file_id, path, committed in rows:
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            continue
        if size > committed:
            os.truncate(path, committed)
        elif size < committed:
            _log.warning(
                "JSONL file %s holds %d bytes, its index says %d were committed; "
                "continuing from %d",
                path,
                size,
                committed,
                size,
            )
            set_offset(db, file_id, size)


def latest_file(db: sqlite3.Connection, base: str) -> tuple[FileRow, int] | None:
    """The newest segment of ``base`` and its segment number, or ``None``."""
    row = db.execute(
        "SELECT path, id, committed, segment FROM jsonl_files WHERE base = ? "
        "ORDER BY segment DESC LIMIT 1",
        (base,),
    ).fetchone()
    return None if row is None else ((row[0], row[1], row[2]), row[3])


def register_file(db: sqlite3.Connection, path: str, base: str, segment: int) -> FileRow:
    """Add ``path`` to the index (committed at once, before anything is written to it).

    Content already in the file counts as committed: it was not written by this index.
    """
    committed = os.path.getsize(path) if os.path.exists(path) else 0
    db.execute(
        "INSERT OR IGNORE INTO jsonl_files (path, base, segment, committed) VALUES (?, ?, ?, ?)",
        (path, base, segment, committed),
    )
    row = db.execute("SELECT id, committed FROM jsonl_files WHERE path = ?", (path,)).fetchone()
    return path, row[0], row[1]


def wal_checkpoint(db: sqlite3.Connection) -> None:
    """Copy the WAL back into the database file (syncs the disk: call it off the event loop)."""
    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def claim_keys(db: sqlite3.Connection, file_id: int, keys: str) -> int:
    """Insert ``keys`` (a JSON array) for ``file_id``; how many were not held yet."""
    return db.execute(_CLAIM, (file_id, keys)).rowcount


def claim_new_keys(db: sqlite3.Connection, file_id: int, keys: str) -> set[str]:
    """Insert ``keys`` (a JSON array) for ``file_id``; those that were not held yet."""
    return {row[0] for row in db.execute(_CLAIM + " RETURNING key", (file_id, keys))}


def set_offset(db: sqlite3.Connection, file_id: int, committed: int) -> None:
    db.execute(_SET_OFFSET, (committed, file_id))
