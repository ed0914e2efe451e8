"""Noticing the storage service's SQLite file deleted or replaced while the service runs.

An open SQLite connection keeps writing into its file after the file was unlinked (or after
another file was moved onto its path): every write answers 200 and everything is gone at the next
start. The guard remembers the file's identity (device and inode) once the store has it open and
compares it with what the path names now, before each request and in the health check.
"""

from __future__ import annotations

import os

from collectorkit.state import SQLiteStateStore
from collectorkit.typing import StateStore

__all__ = ["StoreFileGuard"]


class StoreFileGuard:
    """Watches the file of a :class:`~collectorkit.state.SQLiteStateStore` (no-op otherwise)."""

    def __init__(self, store: StateStore) -> None:
        path = store.path if isinstance(store, SQLiteStateStore) else ":memory:"
        self.path = None if path == ":memory:" else os.path.abspath(path)
        self._identity = self._current()

    def _current(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_dev, info.st_ino

    def problem(self) -> str | None:
        """Why the store's file is not the one the service opened, or ``None`` when it is.

        The first time the file exists (the store opens it lazily), its identity is recorded.
        """
        if self.path is None:
            return None
        now = self._current()
        if self._identity is None:
            self._identity = now
            return None
        if now == self._identity:
            return None
        how = "deleted" if now is None else "replaced"
        return (
            f"the SQLite file {self.path} was {how} while the service was running; writes"
            " would be lost, so none are accepted: restore the file, or restart the service to"
            " start from an empty store"
        )
