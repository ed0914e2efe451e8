"""OAuth2 tokens shared by every worker: stored in the state database, refreshed by one worker
at a time (a PostgreSQL advisory lock per token), so N workers do not fetch N tokens."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from collectorkit.state import PostgresStateStore, StateStoreTokenCache

__all__ = ["PostgresTokenCache"]


class PostgresTokenCache(StateStoreTokenCache):
    """A :class:`~collectorkit.state.StateStoreTokenCache` in PostgreSQL whose
    :meth:`refresh_lock` makes a token refresh single-flight across machines."""

    def __init__(self, store: PostgresStateStore, url: str) -> None:
        super().__init__(store)
        self._url = url

    @asynccontextmanager
    async def refresh_lock(self, key: str) -> AsyncIterator[None]:
        """Held while this process refreshes ``key``'s token (a session advisory lock on its
        own connection: a crash releases it)."""
        import psycopg

        lock = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (lock,))
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (lock,))
